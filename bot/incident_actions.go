package bot

import (
	"context"
	"errors"
	"fmt"
)

// IncidentRefusal is a change to an incident that makes no sense in its
// state (acknowledging a resolved one); its message is for the person.
type IncidentRefusal struct{ Msg string }

func (e *IncidentRefusal) Error() string { return e.Msg }

// Acknowledge records that who is on incident id.
func (e *Engine) Acknowledge(ctx context.Context, id int64, who Identity, channel string) (Incident, error) {
	return e.change(ctx, id, who, channel, "incident ack", func(inc *Incident) (Event, error) {
		if inc.Status != IncidentOpen {
			return Event{}, &IncidentRefusal{fmt.Sprintf("Incident #%d is resolved; there is nothing to acknowledge.", id)}
		}
		if inc.AckedAt != nil {
			return Event{}, &IncidentRefusal{fmt.Sprintf("Incident #%d was already acknowledged by %s.", id, inc.AckedBy)}
		}
		now := e.cfg.Now().UTC()
		inc.AckedAt, inc.AckedBy = &now, display(who)
		return Event{Kind: EventAcknowledged, Detail: "acknowledged by " + display(who)}, nil
	})
}

// ResolveByHand closes incident id at who's word. Alerts still firing
// reopen it with their next notification.
func (e *Engine) ResolveByHand(ctx context.Context, id int64, who Identity, channel string) (Incident, error) {
	return e.change(ctx, id, who, channel, "incident resolve", func(inc *Incident) (Event, error) {
		if inc.Status != IncidentOpen {
			return Event{}, &IncidentRefusal{fmt.Sprintf("Incident #%d is already resolved.", id)}
		}
		now := e.cfg.Now().UTC()
		inc.Status, inc.ResolvedAt, inc.SeverityOverride = IncidentResolved, &now, nil
		detail := "resolved by " + display(who)
		if inc.Firing > 0 {
			detail += fmt.Sprintf(" with %d alerts still firing", inc.Firing)
		}
		return Event{Kind: EventResolved, Detail: detail}, nil
	})
}

// SetSeverity sets incident id's severity by hand; it sticks over what the
// alerts say while it stays open.
func (e *Engine) SetSeverity(ctx context.Context, id int64, sev Severity, who Identity, channel string) (Incident, error) {
	if !sev.Valid() {
		return Incident{}, &IncidentRefusal{fmt.Sprintf("%s is not a severity; use P0..P3.", sev)}
	}
	return e.change(ctx, id, who, channel, "incident severity", func(inc *Incident) (Event, error) {
		if inc.Status != IncidentOpen {
			return Event{}, &IncidentRefusal{fmt.Sprintf("Incident #%d is resolved.", id)}
		}
		if inc.Severity == sev && inc.SeverityOverride != nil {
			return Event{}, &IncidentRefusal{fmt.Sprintf("Incident #%d is already %s.", id, sev)}
		}
		old := inc.Severity
		s := sev
		inc.Severity, inc.SeverityOverride = sev, &s
		return Event{Kind: EventSeverityChanged, Detail: fmt.Sprintf("severity %s → %s by %s", old, sev, display(who))}, nil
	})
}

// change applies fn to a locked incident and writes it with its timeline
// event, the chat sync and the audit row, in one transaction.
func (e *Engine) change(ctx context.Context, id int64, who Identity, channel, action string, fn func(*Incident) (Event, error)) (Incident, error) {
	now := e.cfg.Now().UTC()
	var (
		inc  Incident
		kind EventKind
	)
	err := e.store.InTx(ctx, func(tx Tx) error {
		cur, err := tx.LockIncident(ctx, id)
		if errors.Is(err, ErrNotFound) {
			return &IncidentRefusal{fmt.Sprintf("There is no incident #%d.", id)}
		}
		if err != nil {
			return fmt.Errorf("incident %d: %w", id, err)
		}
		inc = *cur
		ev, err := fn(&inc)
		if err != nil {
			return err
		}
		inc.NextReminderAt = NextReminder(cur, &inc, e.cfg.Deadlines, now)
		ev.At, inc.UpdatedAt, kind = now, now, ev.Kind
		if err := tx.UpdateIncident(ctx, &inc); err != nil {
			return fmt.Errorf("incident %d: update: %w", id, err)
		}
		if err := tx.AppendEvents(ctx, id, []Event{ev}); err != nil {
			return fmt.Errorf("incident %d: append event: %w", id, err)
		}
		for _, dest := range e.cfg.Routes.Destinations(&inc) {
			if err := tx.Enqueue(ctx, OutboxJob{IncidentID: id, Destination: dest, Priority: inc.Severity, DueAt: now}); err != nil {
				return fmt.Errorf("incident %d: enqueue %s: %w", id, dest, err)
			}
		}
		return tx.AppendAudit(ctx, AuditRecord{At: now, Actor: who, Kind: AuditIncident, Action: action, Outcome: "ok", IncidentID: id, Channel: channel, Detail: ev.Detail})
	})
	if err != nil {
		return Incident{}, err
	}
	e.metrics.incidents.WithLabelValues(string(kind)).Inc()
	e.metrics.lifecycle.observe(&inc, kind)
	if e.cfg.Enqueued != nil {
		e.cfg.Enqueued()
	}
	if kind == EventResolved {
		e.afterResolve(ctx, id) // it may have been an outage's last open part
	}
	return inc, nil
}
