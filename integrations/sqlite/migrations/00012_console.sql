-- +goose Up
-- The web console's reads (integrations/console). Each list walks one of
-- these in its order and stops at its page, however many rows years of
-- incidents and audit leave behind.

-- The service and alert name an incident is filtered by: its group's
-- label, else the one its alerts have in common (bot.AlertName).
ALTER TABLE incidents ADD COLUMN service TEXT
    GENERATED ALWAYS AS (coalesce(json_extract(group_labels, '$.service'), json_extract(common_labels, '$.service'))) VIRTUAL;
ALTER TABLE incidents ADD COLUMN alertname TEXT
    GENERATED ALWAYS AS (coalesce(json_extract(group_labels, '$.alertname'), json_extract(common_labels, '$.alertname'))) VIRTUAL;
-- Open incidents first, the most urgent then the oldest.
CREATE INDEX incidents_open_by_severity ON incidents (severity, id) WHERE status = 'open';
CREATE INDEX incidents_by_service ON incidents (service, status, id);
CREATE INDEX incidents_by_alertname ON incidents (alertname, status, id);
-- The reliability charts read the last 30 days.
CREATE INDEX incidents_by_opened ON incidents (opened_at);
CREATE INDEX approvals_by_status ON approvals (status, id);
CREATE INDEX approvals_by_incident ON approvals (incident_id, id);
CREATE INDEX audit_log_by_actor ON audit_log (actor_platform, actor_user_id, seq);
CREATE INDEX audit_log_by_action ON audit_log (action, seq);

-- +goose Down
DROP INDEX audit_log_by_action;
DROP INDEX audit_log_by_actor;
DROP INDEX approvals_by_incident;
DROP INDEX approvals_by_status;
DROP INDEX incidents_by_opened;
DROP INDEX incidents_by_alertname;
DROP INDEX incidents_by_service;
DROP INDEX incidents_open_by_severity;
ALTER TABLE incidents DROP COLUMN alertname;
ALTER TABLE incidents DROP COLUMN service;
