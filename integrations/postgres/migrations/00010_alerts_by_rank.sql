-- +goose Up
-- A thread's root, an incident's view and `incident show` list an
-- incident's first alerts in this order (firing first, then the most
-- urgent, the earliest): the index hands over those few, however many
-- alerts a storm put in the incident, instead of a sort of them all.
CREATE INDEX alerts_by_rank ON alerts (incident_id, status, severity, starts_at, fingerprint);

-- +goose Down
DROP INDEX alerts_by_rank;
