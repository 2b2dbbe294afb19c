package sqlstore

// The queries, kept apart from the Go that runs them. Times are always
// passed in UTC from the caller's clock, never taken from the database, so a
// controllable clock in tests controls everything.

const incidentColumns = `id, receiver, group_key, status, severity, title, group_labels, common_labels,
	common_annotations, external_url, truncated_alerts, firing, resolved, opened_at, resolved_at, updated_at`

const qLatestIncident = `SELECT ` + incidentColumns + ` FROM incidents
	WHERE receiver = ? AND group_key = ? ORDER BY id DESC LIMIT 1`

const qCreateIncident = `INSERT INTO incidents (receiver, group_key, status, severity, title, group_labels,
	common_labels, common_annotations, external_url, truncated_alerts, firing, resolved, opened_at,
	resolved_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`

const qUpdateIncident = `UPDATE incidents SET status = ?, severity = ?, title = ?, group_labels = ?,
	common_labels = ?, common_annotations = ?, external_url = ?, truncated_alerts = ?, firing = ?,
	resolved = ?, resolved_at = ?, updated_at = ?
	WHERE id = ?`

const alertSelect = `SELECT fingerprint, status, severity, labels, annotations, starts_at, ends_at, generator_url
	FROM alerts WHERE incident_id = ?`

const qAlerts = alertSelect + ` ORDER BY starts_at, fingerprint`

// qAlertsAmongHead is followed by a list of placeholders and ")".
const qAlertsAmongHead = alertSelect + ` AND fingerprint IN `

const qAlertCounts = `SELECT status, severity, COUNT(*) FROM alerts WHERE incident_id = ? GROUP BY status, severity`

// Alerts and events are written with one multi-row statement each: the
// VALUES rows go between the head and the tail (see values).
const qUpsertAlertsHead = `INSERT INTO alerts (incident_id, fingerprint, status, severity, labels, annotations,
	starts_at, ends_at, generator_url, updated_at) VALUES `

const alertColumns = 10

const qUpsertAlertsTail = ` ON CONFLICT (incident_id, fingerprint) DO UPDATE SET status = excluded.status,
	severity = excluded.severity, labels = excluded.labels, annotations = excluded.annotations,
	starts_at = excluded.starts_at, ends_at = excluded.ends_at, generator_url = excluded.generator_url,
	updated_at = excluded.updated_at`

const qAppendEventsHead = `INSERT INTO timeline (incident_id, at, kind, detail) VALUES `

const eventColumns = 4

const qTimeline = `SELECT id, at, kind, detail FROM timeline WHERE incident_id = ? ORDER BY id`

// A pending job for the same incident and destination absorbs the new one:
// that is the coalescing that turns a storm into one chat update.
const qEnqueue = `INSERT INTO outbox (incident_id, destination, priority, due_at, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (incident_id, destination) DO UPDATE SET
	priority = CASE WHEN excluded.priority < outbox.priority THEN excluded.priority ELSE outbox.priority END,
	due_at = CASE WHEN excluded.due_at < outbox.due_at THEN excluded.due_at ELSE outbox.due_at END,
	updated_at = excluded.updated_at`

const qListIncidents = `SELECT ` + incidentColumns + ` FROM incidents
	WHERE (? = '' OR status = ?) ORDER BY id DESC LIMIT ?`

const qGetIncident = `SELECT ` + incidentColumns + ` FROM incidents WHERE id = ?`

const qCountOpen = `SELECT severity, COUNT(*) FROM incidents WHERE status = 'open' GROUP BY severity`

const qOutboxDepth = `SELECT COUNT(*) FROM outbox`
