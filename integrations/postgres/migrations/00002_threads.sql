-- +goose Up
-- A coalesced job carries a version, bumped by every change that folds into
-- it, so a worker finishing an older version does not delete newer work; the
-- claim token says which worker holds it.
ALTER TABLE outbox ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE outbox ADD COLUMN claim_token TEXT;
CREATE INDEX outbox_by_claim ON outbox (claimed_until);

-- One chat thread per incident and destination: where its root is, what the
-- root last showed, and the last timeline event a reply covered.
CREATE TABLE threads (
    incident_id       BIGINT      NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    destination       TEXT        NOT NULL,
    platform          TEXT        NOT NULL,
    channel           TEXT        NOT NULL,
    root_id           TEXT        NOT NULL DEFAULT '',
    thread_id         TEXT        NOT NULL DEFAULT '',
    root_attempted_at TIMESTAMPTZ,
    root_hash         TEXT        NOT NULL DEFAULT '',
    last_event_id     BIGINT      NOT NULL DEFAULT 0,
    updated_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (incident_id, destination)
);

-- +goose Down
DROP TABLE threads;
DROP INDEX outbox_by_claim;
ALTER TABLE outbox DROP COLUMN claim_token;
ALTER TABLE outbox DROP COLUMN version;
