-- +goose Up
-- Where a thread's graph of its alert is (bot.GraphState): 0 not posted
-- yet, 1 a post whose outcome is unknown, 2 done. Threads that exist
-- already get none: their incidents are older than the feature.
ALTER TABLE threads ADD COLUMN graph_state INTEGER NOT NULL DEFAULT 0;
UPDATE threads SET graph_state = 2 WHERE root_id <> '';

-- +goose Down
ALTER TABLE threads DROP COLUMN graph_state;
