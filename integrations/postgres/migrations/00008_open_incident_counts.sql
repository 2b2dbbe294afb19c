-- +goose Up
-- The metrics' counts (open incidents by severity, and those past their
-- deadline) read one small index of the open incidents alone, whatever
-- number of resolved ones the store keeps, without visiting the table.
CREATE INDEX incidents_open_counts ON incidents (severity, acked_at, reminders, next_reminder_at) WHERE status = 'open';
-- Listing filters by status on the newest incidents first, through the
-- primary key: this index only cost every write.
DROP INDEX incidents_by_status;

-- +goose Down
CREATE INDEX incidents_by_status ON incidents (status, id DESC);
DROP INDEX incidents_open_counts;
