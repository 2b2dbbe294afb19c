package sqlstore

// The queries, kept apart from the Go that runs them. Times are always
// passed in UTC from the caller's clock, never taken from the database, so a
// controllable clock in tests controls everything.

const incidentColumns = `id, receiver, group_key, status, severity, title, group_labels, common_labels,
	common_annotations, external_url, truncated_alerts, firing, resolved, opened_at, resolved_at, updated_at,
	acked_at, acked_by, severity_override, next_reminder_at, reminders`

const qLatestIncident = `SELECT ` + incidentColumns + ` FROM incidents
	WHERE receiver = ? AND group_key = ? ORDER BY id DESC LIMIT 1`

// qCreateIncident refuses, quietly, a second open incident of a group: it
// returns no row, and the writer reads what the other one wrote.
const qCreateIncident = `INSERT INTO incidents (receiver, group_key, status, severity, title, group_labels,
	common_labels, common_annotations, external_url, truncated_alerts, firing, resolved, opened_at,
	resolved_at, updated_at, acked_at, acked_by, severity_override, next_reminder_at, reminders)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)` + qOneOpenIncident + ` RETURNING id`

// qOneOpenIncident is the conflict clause of an incident insert: the
// incidents_one_open index allows one open incident per group.
const qOneOpenIncident = ` ON CONFLICT (receiver, group_key) WHERE status = 'open' DO NOTHING`

const qUpdateIncident = `UPDATE incidents SET status = ?, severity = ?, title = ?, group_labels = ?,
	common_labels = ?, common_annotations = ?, external_url = ?, truncated_alerts = ?, firing = ?,
	resolved = ?, resolved_at = ?, updated_at = ?, acked_at = ?, acked_by = ?, severity_override = ?,
	next_reminder_at = ?, reminders = ?
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
// that is the coalescing that turns a storm into one chat update. The job
// takes the newest change's traceparent: its span continues the trace of
// the last change it carries (the earlier ones' traces end at their
// ingest).
const qEnqueue = qEnqueueHead + `(?, ?, ?, ?, ?, ?, ?)` + qEnqueueConflict

const qEnqueueHead = `INSERT INTO outbox (incident_id, destination, priority, due_at, created_at, updated_at, traceparent)
	VALUES `

const enqueueColumns = 7

const qEnqueueConflict = `
	ON CONFLICT (incident_id, destination) DO UPDATE SET
	version = outbox.version + 1,
	priority = CASE WHEN excluded.priority < outbox.priority THEN excluded.priority ELSE outbox.priority END,
	due_at = CASE WHEN excluded.due_at < outbox.due_at THEN excluded.due_at ELSE outbox.due_at END,
	updated_at = excluded.updated_at,
	traceparent = COALESCE(excluded.traceparent, outbox.traceparent)`

// qListIncidents walks the primary key down from the cursor (the last id
// of the page before, or the largest id there is): a page costs its own
// rows, never those of the pages before it.
const qListIncidents = `SELECT ` + incidentColumns + ` FROM incidents
	WHERE id < ? AND (? = '' OR status = ?) ORDER BY id DESC LIMIT ?`

const qGetIncident = `SELECT ` + incidentColumns + ` FROM incidents WHERE id = ?`

// qLockIncident is completed by the dialect's row lock.
const qLockIncident = qGetIncident + ` `

// qLockIncidentsHead is followed by a list of placeholders, the tail and
// the dialect's row lock.
const qLockIncidentsHead = `SELECT ` + incidentColumns + ` FROM incidents WHERE id IN `

const qLockIncidentsTail = ` ORDER BY id `

const qCountOpen = `SELECT severity, COUNT(*) FROM incidents WHERE status = 'open' GROUP BY severity`

const qOutboxDepth = `SELECT COUNT(*) FROM outbox`

// Not MIN(created_at): SQLite would hand the aggregate back as text.
const qOutboxOldest = `SELECT created_at FROM outbox ORDER BY created_at LIMIT 1`

// qClaimJobs is completed by the dialect's row-locking clause for the
// inner SELECT (PostgreSQL: FOR UPDATE SKIP LOCKED, so replicas never claim
// the same job) and by ") RETURNING ...".
const qClaimJobsHead = `UPDATE outbox SET claimed_until = ?, claim_token = ?, attempts = attempts + 1
	WHERE id IN (SELECT id FROM outbox
		WHERE due_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)
		ORDER BY priority, due_at LIMIT ? `

const qClaimJobsTail = `) RETURNING id, incident_id, destination, priority, due_at, attempts, version, created_at, traceparent`

// hasRoot says whether the job's incident already has its root at the
// job's destination: a job without one posts a root, the rest edit and
// reply.
const hasRoot = `EXISTS (SELECT 1 FROM threads t WHERE t.incident_id = o.incident_id
	AND t.destination = o.destination AND t.root_id <> '')`

// qClaimNextHead claims the next job of one destination: jobs that post a
// root first (a replies-only claim skips the others), then the most
// urgent, then the oldest. It is completed like qClaimJobsHead.
const qClaimNextHead = `UPDATE outbox SET claimed_until = ?, claim_token = ?, attempts = attempts + 1
	WHERE id IN (SELECT o.id FROM outbox o
		WHERE o.destination = ? AND o.due_at <= ? AND (o.claimed_until IS NULL OR o.claimed_until < ?)
		AND (? = 0 OR NOT ` + hasRoot + `)
		ORDER BY CASE WHEN ` + hasRoot + ` THEN 1 ELSE 0 END, o.priority, o.created_at LIMIT 1 `

// A job whose first part is done (its root posted) and whose rest (the
// runbook) waits its turn is released as new work, due at once: its
// attempts start again and it is as old as now, behind the channel's
// waiting roots.
const qContinueJob = `UPDATE outbox SET claimed_until = NULL, claim_token = NULL, attempts = 0,
	due_at = ?, created_at = CASE WHEN version = ? THEN ? ELSE created_at END
	WHERE id = ? AND claim_token = ?`

// A job is done only if no change folded into it while it was claimed.
const qFinishJob = `DELETE FROM outbox WHERE id = ? AND version = ? AND claim_token = ?`

// qExpediteHead is followed by a list of destination placeholders and
// qExpediteTail.
const qExpediteHead = `UPDATE outbox SET due_at = ? WHERE id IN (SELECT id FROM outbox
	WHERE due_at > ? AND claimed_until IS NULL AND destination IN `

const qExpediteTail = ` ORDER BY priority, due_at LIMIT ?)`

const qReleaseJob = `UPDATE outbox SET claimed_until = NULL, claim_token = NULL WHERE id = ? AND claim_token = ?`

// A job put back for later keeps an earlier due time that a new change set.
const qRetryJob = `UPDATE outbox SET claimed_until = NULL, claim_token = NULL, last_error = ?,
	due_at = CASE WHEN version = ? THEN ? ELSE due_at END
	WHERE id = ? AND claim_token = ?`

const qThread = `SELECT platform, channel, root_id, thread_id, root_attempted_at, root_hash, last_event_id,
	runbook_posted, graph_state FROM threads WHERE incident_id = ? AND destination = ?`

const qSaveThread = `INSERT INTO threads (incident_id, destination, platform, channel, root_id, thread_id,
	root_attempted_at, root_hash, last_event_id, runbook_posted, graph_state, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (incident_id, destination) DO UPDATE SET platform = excluded.platform,
	channel = excluded.channel, root_id = excluded.root_id, thread_id = excluded.thread_id,
	root_attempted_at = excluded.root_attempted_at, root_hash = excluded.root_hash,
	last_event_id = excluded.last_event_id, runbook_posted = excluded.runbook_posted,
	graph_state = excluded.graph_state, updated_at = excluded.updated_at`

// A replayed request finds its key already there and inserts nothing.
const qRemember = `INSERT INTO seen_requests (key, expires_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`

const qForgetExpired = `DELETE FROM seen_requests WHERE expires_at < ?`

// Approvals. The plan and options are JSON; incident_id is NULL outside an
// incident's thread.

const approvalColumns = `id, nonce, status, requester_platform, requester_user_id, requester_name, requester_groups, platform,
	channel, thread, incident_id, command_text, options, plan, hash, quorum, reason, card_channel, card_root_id,
	card_thread_id, created_at, expires_at, decided_at, executed_at, result`

const qCreateApproval = `INSERT INTO approvals (nonce, status, requester_platform, requester_user_id,
	requester_name, requester_groups, platform, channel, thread, incident_id, command_text, options, plan, hash, quorum, reason,
	card_channel, card_root_id, card_thread_id, created_at, expires_at, decided_at, executed_at, result)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`

const qGetApproval = `SELECT ` + approvalColumns + ` FROM approvals WHERE id = ?`

// qLockApproval is completed by the dialect's row lock.
const qLockApproval = qGetApproval + ` `

// Only what moves after the request was made: its plan, hash and requester
// are fixed for good.
const qUpdateApproval = `UPDATE approvals SET status = ?, reason = ?, card_channel = ?, card_root_id = ?,
	card_thread_id = ?, decided_at = ?, executed_at = ?, result = ?
	WHERE id = ?`

// Votes in the order they were cast; the voter breaks ties so the order is
// stable.
const qVotes = `SELECT approval_id, voter_platform, voter_user_id, voter_name, voter_groups, role, approve, at
	FROM approval_votes WHERE approval_id = ? ORDER BY at, voter_platform, voter_user_id`

// qVotesAmongHead is followed by a list of placeholders and the order.
const qVotesAmongHead = `SELECT approval_id, voter_platform, voter_user_id, voter_name, voter_groups, role, approve, at
	FROM approval_votes WHERE approval_id IN `

const qVotesAmongTail = ` ORDER BY approval_id, at, voter_platform, voter_user_id`

// A second vote by the same person hits the primary key and fails.
const qAddVote = `INSERT INTO approval_votes (approval_id, voter_platform, voter_user_id, voter_name, voter_groups, role,
	approve, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

const qCountRequests = `SELECT COUNT(*) FROM approvals
	WHERE requester_platform = ? AND requester_user_id = ? AND created_at >= ?`

const qDueApprovals = `SELECT ` + approvalColumns + ` FROM approvals
	WHERE status = 'pending' AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`

// The audit log. Rows are only ever inserted; seq is assigned by the store
// under the dialect's audit lock.

const auditColumns = `seq, at, actor_platform, actor_user_id, actor_name, kind, action, outcome, approval_id,
	incident_id, channel, detail, flagged, keyed, key_id, prev_hash, hash`

const qAuditLast = `SELECT seq, hash, keyed, key_id FROM audit_log ORDER BY seq DESC LIMIT 1`

const qAppendAuditHead = `INSERT INTO audit_log (` + auditColumns + `) VALUES `

const auditColumnCount = 17

// Keyset pagination: each page starts after the last seq of the one before,
// so a long log is read in bounded pages, each an index range scan.
const qAuditPage = `SELECT ` + auditColumns + ` FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`

const qAuditPageSince = `SELECT ` + auditColumns + ` FROM audit_log WHERE seq > ? AND at >= ? ORDER BY seq LIMIT ?`

// An incident's bounded reads (bot.IncidentPages). Each walks an index in
// its order and stops at its limit: alerts_by_rank for the first alerts a
// root lists, the primary key for pages by fingerprint, timeline_by_incident
// for events.

// qAlertsRanked is the order a thread's root lists alerts in: 'firing'
// sorts before 'resolved'.
const qAlertsRanked = alertSelect + ` ORDER BY status, severity, starts_at, fingerprint LIMIT ?`

const qAlertPage = alertSelect + ` AND fingerprint > ? ORDER BY fingerprint LIMIT ?`

// qCountAll counts an incident's alerts and events off their indexes.
const qCountAll = `SELECT (SELECT COUNT(*) FROM alerts WHERE incident_id = ?),
	(SELECT COUNT(*) FROM timeline WHERE incident_id = ?)`

const eventSelect = `SELECT id, at, kind, detail FROM timeline WHERE incident_id = ?`

const qNewestEvents = eventSelect + ` ORDER BY id DESC LIMIT ?`

const qEventPage = eventSelect + ` AND id > ? ORDER BY id LIMIT ?`

const qEventPageKind = eventSelect + ` AND id > ? AND kind = ? ORDER BY id LIMIT ?`

const qCountEvents = `SELECT kind, COUNT(*), MAX(id) FROM timeline
	WHERE incident_id = ? AND id > ? AND id < ? GROUP BY kind`

const qIncidentExists = `SELECT COUNT(*) FROM incidents WHERE id = ?`

// The span's ends are read as rows, not as MIN/MAX aggregates: SQLite
// would hand an aggregate of times back as text.
const qFirstStart = `SELECT starts_at FROM alerts WHERE incident_id = ? ORDER BY starts_at LIMIT 1`

const qUnended = `SELECT COUNT(*), SUM(CASE WHEN status <> 'resolved' OR ends_at IS NULL THEN 1 ELSE 0 END)
	FROM alerts WHERE incident_id = ?`

const qLastEnd = `SELECT ends_at FROM alerts WHERE incident_id = ? AND ends_at IS NOT NULL
	ORDER BY ends_at DESC LIMIT 1`
