-- +goose Up
-- A person's hand on an incident: who acknowledged it, and a severity they
-- chose that sticks over what the alerts say until it resolves.
ALTER TABLE incidents ADD COLUMN acked_at TIMESTAMP;
ALTER TABLE incidents ADD COLUMN acked_by TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN severity_override SMALLINT CHECK (severity_override BETWEEN 0 AND 3);

-- Requests for destructive actions, held until a second person approves.
CREATE TABLE approvals (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    nonce              TEXT        NOT NULL,
    status             TEXT        NOT NULL CHECK (status IN ('pending', 'executing', 'done', 'failed',
                                                              'denied', 'cancelled', 'expired', 'stale')),
    requester_platform TEXT        NOT NULL,
    requester_user_id  TEXT        NOT NULL,
    requester_name     TEXT        NOT NULL,
    -- Group or role ids the platform reported with the request, so the
    -- role can be decided again at execution.
    requester_groups   TEXT        NOT NULL DEFAULT '[]',
    platform           TEXT        NOT NULL,
    channel            TEXT        NOT NULL,
    thread             TEXT        NOT NULL DEFAULT '',
    -- NULL: asked outside an incident's thread.
    incident_id        INTEGER     REFERENCES incidents (id) ON DELETE SET NULL,
    command_text       TEXT        NOT NULL,
    options            TEXT        NOT NULL,
    plan               TEXT        NOT NULL,
    hash               TEXT        NOT NULL,
    quorum             INTEGER     NOT NULL CHECK (quorum >= 0),
    reason             TEXT        NOT NULL DEFAULT '',
    card_channel       TEXT        NOT NULL DEFAULT '',
    card_root_id       TEXT        NOT NULL DEFAULT '',
    card_thread_id     TEXT        NOT NULL DEFAULT '',
    created_at         TIMESTAMP   NOT NULL,
    expires_at         TIMESTAMP   NOT NULL,
    decided_at         TIMESTAMP,
    executed_at        TIMESTAMP,
    result             TEXT        NOT NULL DEFAULT ''
);
-- The expiry sweep reads pending requests by expiry; the hourly request
-- limit counts one person's recent requests.
CREATE INDEX approvals_due ON approvals (status, expires_at);
CREATE INDEX approvals_by_requester ON approvals (requester_platform, requester_user_id, created_at);

-- A person votes once per request: the primary key enforces it, so a double
-- click on Approve cannot count twice.
CREATE TABLE approval_votes (
    approval_id    INTEGER     NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
    voter_platform TEXT        NOT NULL,
    voter_user_id  TEXT        NOT NULL,
    voter_name     TEXT        NOT NULL,
    voter_groups   TEXT        NOT NULL DEFAULT '[]',
    role           SMALLINT    NOT NULL CHECK (role >= 0),
    approve        BOOLEAN     NOT NULL,
    at             TIMESTAMP   NOT NULL,
    PRIMARY KEY (approval_id, voter_platform, voter_user_id)
);

-- The tamper-evident audit log: each row's hash covers its content and the
-- previous row's hash. seq is assigned by the store, 1, 2, 3... with no
-- gaps, inside the immediate (write-serialised) transaction.
CREATE TABLE audit_log (
    seq            INTEGER     PRIMARY KEY CHECK (seq > 0),
    at             TIMESTAMP   NOT NULL,
    actor_platform TEXT        NOT NULL,
    actor_user_id  TEXT        NOT NULL,
    actor_name     TEXT        NOT NULL,
    kind           TEXT        NOT NULL,
    action         TEXT        NOT NULL,
    outcome        TEXT        NOT NULL,
    approval_id    INTEGER     NOT NULL DEFAULT 0,
    incident_id    INTEGER     NOT NULL DEFAULT 0,
    channel        TEXT        NOT NULL,
    detail         TEXT        NOT NULL,
    flagged        BOOLEAN     NOT NULL,
    prev_hash      TEXT        NOT NULL,
    hash           TEXT        NOT NULL CHECK (length(hash) = 64)
);
-- Exports ask for the rows since a time.
CREATE INDEX audit_log_by_at ON audit_log (at);

-- Append-only: the application never updates or deletes a row, so the
-- database refuses to. Whoever can write the file can still drop the
-- triggers; the hash chain is what catches that.
-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_log;
DROP TABLE approval_votes;
DROP TABLE approvals;
ALTER TABLE incidents DROP COLUMN severity_override;
ALTER TABLE incidents DROP COLUMN acked_by;
ALTER TABLE incidents DROP COLUMN acked_at;
