-- +goose Up
-- A thread's first reply is its incident's runbook, posted once. Threads
-- that already have replies (their root is posted) are not given one in
-- the middle of their life.
ALTER TABLE threads ADD COLUMN runbook_posted BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE threads SET runbook_posted = TRUE WHERE root_id <> '';
-- A command typed in a thread finds its incident: platform, channel and
-- thread (Slack: the root's ts; Discord: the thread's id).
CREATE INDEX threads_by_thread ON threads (platform, channel, thread_id);

-- A complete outage links the incidents it is made of.
CREATE TABLE incident_links (
    outage_id   BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    incident_id BIGINT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    PRIMARY KEY (outage_id, incident_id),
    CHECK (outage_id <> incident_id)
);
CREATE INDEX incident_links_by_incident ON incident_links (incident_id);

-- The correlation's scan after every critical notification: firing P0/P1
-- alerts that started recently. The predicate is the query's own.
CREATE INDEX alerts_critical_firing ON alerts (starts_at) WHERE status = 'firing' AND severity <= 1;

-- +goose Down
DROP INDEX alerts_critical_firing;
DROP TABLE incident_links;
DROP INDEX threads_by_thread;
ALTER TABLE threads DROP COLUMN runbook_posted;
