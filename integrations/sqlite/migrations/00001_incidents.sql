-- +goose Up
CREATE TABLE incidents (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    receiver           TEXT        NOT NULL,
    group_key          TEXT        NOT NULL,
    status             TEXT        NOT NULL CHECK (status IN ('open', 'resolved')),
    severity           SMALLINT    NOT NULL CHECK (severity BETWEEN 0 AND 3),
    title              TEXT        NOT NULL,
    group_labels       TEXT        NOT NULL,
    common_labels      TEXT        NOT NULL,
    common_annotations TEXT        NOT NULL,
    external_url       TEXT        NOT NULL,
    truncated_alerts   INTEGER     NOT NULL CHECK (truncated_alerts >= 0),
    firing             INTEGER     NOT NULL CHECK (firing >= 0),
    resolved           INTEGER     NOT NULL CHECK (resolved >= 0),
    opened_at          TIMESTAMP   NOT NULL,
    resolved_at        TIMESTAMP,
    updated_at         TIMESTAMP   NOT NULL,
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
-- At most one open incident per alert group: the database enforces it.
CREATE UNIQUE INDEX incidents_one_open ON incidents (receiver, group_key) WHERE status = 'open';
CREATE INDEX incidents_by_group ON incidents (receiver, group_key, id DESC);
CREATE INDEX incidents_by_status ON incidents (status, id DESC);

CREATE TABLE alerts (
    incident_id   INTEGER     NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    fingerprint   TEXT        NOT NULL,
    status        TEXT        NOT NULL CHECK (status IN ('firing', 'resolved')),
    severity      SMALLINT    NOT NULL CHECK (severity BETWEEN 0 AND 3),
    labels        TEXT        NOT NULL,
    annotations   TEXT        NOT NULL,
    starts_at     TIMESTAMP   NOT NULL,
    ends_at       TIMESTAMP,
    generator_url TEXT        NOT NULL,
    updated_at    TIMESTAMP   NOT NULL,
    PRIMARY KEY (incident_id, fingerprint)
);

CREATE TABLE timeline (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER     NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at          TIMESTAMP   NOT NULL,
    kind        TEXT        NOT NULL,
    detail      TEXT        NOT NULL
);
CREATE INDEX timeline_by_incident ON timeline (incident_id, id);

-- One pending sync job per incident and destination; new changes coalesce
-- into it. The chat dispatcher drains it.
CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id   INTEGER     NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    destination   TEXT        NOT NULL,
    priority      SMALLINT    NOT NULL CHECK (priority BETWEEN 0 AND 3),
    due_at        TIMESTAMP   NOT NULL,
    attempts      INTEGER     NOT NULL DEFAULT 0,
    claimed_until TIMESTAMP,
    last_error    TEXT,
    created_at    TIMESTAMP   NOT NULL,
    updated_at    TIMESTAMP   NOT NULL,
    UNIQUE (incident_id, destination)
);
CREATE INDEX outbox_by_due ON outbox (priority, due_at);

-- +goose Down
DROP TABLE outbox;
DROP TABLE timeline;
DROP TABLE alerts;
DROP TABLE incidents;
