-- +goose Up
-- The W3C traceparent of the change that last queued or folded into the
-- job, so that its span continues that change's trace wherever and
-- whenever the job runs. NULL when tracing was off. Bounded here and
-- validated again when read back: a row is not trusted more than a header.
ALTER TABLE outbox ADD COLUMN traceparent TEXT CHECK (traceparent IS NULL OR length(traceparent) <= 128);

-- +goose Down
ALTER TABLE outbox DROP COLUMN traceparent;
