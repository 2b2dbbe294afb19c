-- +goose Up
-- Response deadlines that survive a restart: when an open, unacknowledged
-- incident is next reminded (NULL: not due any, acknowledged or resolved),
-- and how many reminders it had since it (re)opened, which is its
-- escalation level.
ALTER TABLE incidents ADD COLUMN next_reminder_at TIMESTAMP;
ALTER TABLE incidents ADD COLUMN reminders INTEGER NOT NULL DEFAULT 0 CHECK (reminders >= 0);
-- The escalator's scan every second: only incidents that can be due.
CREATE INDEX incidents_reminders_due ON incidents (next_reminder_at)
    WHERE status = 'open' AND acked_at IS NULL AND next_reminder_at IS NOT NULL;

-- Leases that let one replica at a time do a job (firing timers): held by
-- holder until expires_at, renewed by it, taken over once expired.
CREATE TABLE leases (
    name       TEXT        PRIMARY KEY,
    holder     TEXT        NOT NULL CHECK (holder <> ''),
    expires_at TIMESTAMP   NOT NULL
);

-- +goose Down
DROP TABLE leases;
DROP INDEX incidents_reminders_due;
ALTER TABLE incidents DROP COLUMN reminders;
ALTER TABLE incidents DROP COLUMN next_reminder_at;
