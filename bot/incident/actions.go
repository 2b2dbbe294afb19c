package incident

import (
	"context"
	"errors"
	"fmt"

	"github.com/bakewise/chatops/bot"
)

// Acknowledge records that who is on incident id.
func (e *Engine) Acknowledge(ctx context.Context, id int64, who bot.Identity, channel string) (bot.Incident, error) {
	return e.update(ctx, id, who, channel, "incident ack", func(inc *bot.Incident) (bot.Event, error) {
		if inc.Status != bot.IncidentOpen {
			return bot.Event{}, &bot.IncidentRefusal{Msg: fmt.Sprintf("Incident #%d is resolved; there is nothing to acknowledge.", id)}
		}
		if inc.AckedAt != nil {
			return bot.Event{}, &bot.IncidentRefusal{Msg: fmt.Sprintf("Incident #%d was already acknowledged by %s.", id, inc.AckedBy)}
		}
		now := e.cfg.Now().UTC()
		inc.AckedAt, inc.AckedBy = &now, who.Display()
		return bot.Event{Kind: bot.EventAcknowledged, Detail: "acknowledged by " + who.Display()}, nil
	})
}

// ResolveByHand closes incident id at who's word. Alerts still firing
// reopen it with their next notification.
func (e *Engine) ResolveByHand(ctx context.Context, id int64, who bot.Identity, channel string) (bot.Incident, error) {
	return e.update(ctx, id, who, channel, "incident resolve", func(inc *bot.Incident) (bot.Event, error) {
		if inc.Status != bot.IncidentOpen {
			return bot.Event{}, &bot.IncidentRefusal{Msg: fmt.Sprintf("Incident #%d is already resolved.", id)}
		}
		now := e.cfg.Now().UTC()
		inc.Status, inc.ResolvedAt, inc.SeverityOverride = bot.IncidentResolved, &now, nil
		detail := "resolved by " + who.Display()
		if inc.Firing > 0 {
			detail += fmt.Sprintf(" with %d alerts still firing", inc.Firing)
		}
		return bot.Event{Kind: bot.EventResolved, Detail: detail}, nil
	})
}

// SetSeverity sets incident id's severity by hand; it sticks over what the
// alerts say while it stays open.
func (e *Engine) SetSeverity(ctx context.Context, id int64, sev bot.Severity, who bot.Identity, channel string) (bot.Incident, error) {
	if !sev.Valid() {
		return bot.Incident{}, &bot.IncidentRefusal{Msg: fmt.Sprintf("%s is not a severity; use P0..P3.", sev)}
	}
	return e.update(ctx, id, who, channel, "incident severity", func(inc *bot.Incident) (bot.Event, error) {
		if inc.Status != bot.IncidentOpen {
			return bot.Event{}, &bot.IncidentRefusal{Msg: fmt.Sprintf("Incident #%d is resolved.", id)}
		}
		if inc.Severity == sev && inc.SeverityOverride != nil {
			return bot.Event{}, &bot.IncidentRefusal{Msg: fmt.Sprintf("Incident #%d is already %s.", id, sev)}
		}
		old := inc.Severity
		s := sev
		inc.Severity, inc.SeverityOverride = sev, &s
		return bot.Event{Kind: bot.EventSeverityChanged, Detail: fmt.Sprintf("severity %s → %s by %s", old, sev, who.Display())}, nil
	})
}

// update applies fn to a locked incident and writes it with its timeline
// event, the chat sync and the audit row, in one transaction.
func (e *Engine) update(ctx context.Context, id int64, who bot.Identity, channel, action string, fn func(*bot.Incident) (bot.Event, error)) (bot.Incident, error) {
	now := e.cfg.Now().UTC()
	var (
		inc  bot.Incident
		kind bot.EventKind
	)
	err := e.store.InTx(ctx, func(tx bot.Tx) error {
		cur, err := tx.LockIncident(ctx, id)
		if errors.Is(err, bot.ErrNotFound) {
			return &bot.IncidentRefusal{Msg: fmt.Sprintf("There is no incident #%d.", id)}
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
		if err := tx.AppendEvents(ctx, id, []bot.Event{ev}); err != nil {
			return fmt.Errorf("incident %d: append event: %w", id, err)
		}
		if inc.Status != cur.Status {
			if err := tx.MarkLinksChanged(ctx, id); err != nil {
				return fmt.Errorf("incident %d: mark its links: %w", id, err)
			}
		}
		if err := tx.Enqueue(ctx, e.jobs(now, inc)...); err != nil {
			return fmt.Errorf("incident %d: enqueue: %w", id, err)
		}
		return tx.AppendAudit(ctx, bot.AuditRecord{At: now, Actor: who, Kind: bot.AuditIncident, Action: action, Outcome: "ok", IncidentID: id, Channel: channel, Detail: ev.Detail})
	})
	if err != nil {
		return bot.Incident{}, err
	}
	e.metrics.incidents.WithLabelValues(string(kind)).Inc()
	e.metrics.lifecycle.observe(&inc, kind)
	e.notify()
	if kind == bot.EventResolved {
		e.afterResolve(ctx, id) // it may have been an outage's last open part
	}
	return inc, nil
}

// AppendAction appends an action event to incident id's timeline and
// brings its threads up to date, in one transaction. The incident itself
// does not change.
func (e *Engine) AppendAction(ctx context.Context, id int64, detail string) error {
	now := e.cfg.Now().UTC()
	ev := bot.Event{At: now, Kind: bot.EventAction, Detail: bot.Clip(detail, maxActionDetail)}
	err := e.store.InTx(ctx, func(tx bot.Tx) error {
		inc, err := tx.LockIncident(ctx, id)
		if err != nil {
			return fmt.Errorf("incident %d: %w", id, err)
		}
		return e.appendAndEnqueue(ctx, tx, inc, ev)
	})
	if err != nil {
		return err
	}
	e.notify()
	return nil
}
