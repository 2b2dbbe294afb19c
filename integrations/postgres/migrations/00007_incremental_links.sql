-- +goose Up
-- An outage counts its linked incidents incrementally. A linked
-- incident's status change marks its link (changed), in the transaction of
-- the change; the next correlation pass counts it (counted: the status the
-- outage's counts have for it, '' not yet) and clears the mark. A pass
-- costs what changed, however many incidents are linked.
ALTER TABLE incident_links ADD COLUMN changed SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE incident_links ADD COLUMN counted TEXT NOT NULL DEFAULT '';
-- The outages open now counted every link already.
UPDATE incident_links SET changed = 0,
    counted = (SELECT i.status FROM incidents i WHERE i.id = incident_links.incident_id);
CREATE INDEX incident_links_changed ON incident_links (outage_id, incident_id) WHERE changed = 1;

-- +goose Down
DROP INDEX incident_links_changed;
ALTER TABLE incident_links DROP COLUMN counted;
ALTER TABLE incident_links DROP COLUMN changed;
