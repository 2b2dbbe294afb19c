package outbox

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/telemetry"
)

// Grapher draws a picture of what an incident's alert measured
// (integrations/prometheus). Its errors are written for people (a
// bot.UserError: "graph unavailable: Prometheus did not answer in 5s").
type Grapher interface {
	IncidentGraph(ctx context.Context, inc bot.IncidentDetail) (bot.File, error)
}

// graphUnavailable is the line a thread gets when the graph failed for a
// reason not written for people (the log has it).
const graphUnavailable = "graph unavailable: the chart could not be drawn"

// graphDue reports whether th still owes its incident's graph: a new
// incident's thread gets one, after its root and its runbook, while the
// incident is open.
func (d *Dispatcher) graphDue(th bot.Thread, inc bot.IncidentDetail) bool {
	return d.cfg.Graph != nil && th.GraphState != bot.GraphDone && inc.Status == bot.IncidentOpen
}

// postGraph posts the incident's graph in its thread, or the one line
// that says why there is none. It is posted at most once: the attempt is
// recorded first, and an attempt whose outcome is unknown (the bot died,
// the platform's answer was lost) is not made again. A post that surely
// reached nothing (a rate limit, the bot's own limiter) is tried again
// with the job.
func (d *Dispatcher) postGraph(ctx context.Context, chat bot.Chat, inc bot.IncidentDetail, th *bot.Thread) error {
	log := telemetry.Logger(ctx, d.log).With(zap.Int64("incident", inc.ID), zap.String("destination", th.Destination))
	if th.GraphState == bot.GraphPosting {
		log.Info("outbox: a graph post of unknown outcome is not made again")
		return d.saveGraphState(ctx, th, bot.GraphDone)
	}
	f, gerr := d.cfg.Graph.IncidentGraph(ctx, inc)
	m := bot.Message{Severity: inc.Severity, Status: inc.Status, Color: bot.Color(inc.Severity, inc.Status)}
	filer, canFile := chat.(bot.FileReplier)
	if gerr == nil && !canFile {
		gerr = bot.Tell("graph unavailable: this chat platform takes no files")
	}
	if gerr != nil {
		msg, ok := bot.UserMessage(gerr)
		if !ok {
			log.Warn("outbox: graph failed", zap.Error(gerr))
			msg = graphUnavailable
		}
		m.Title = bot.Clip(msg, 300)
	} else {
		name := bot.AlertName(&inc.Incident)
		if name == "" {
			name = "the alert"
		}
		m.Title = "Graph of " + name + " over the last hour (UTC); the dotted line is the incident's start."
	}
	if err := d.saveGraphState(ctx, th, bot.GraphPosting); err != nil {
		return err
	}
	var err error
	if gerr == nil {
		err = filer.ReplyFile(ctx, th.Ref, m, f)
	} else {
		err = chat.Reply(ctx, th.Ref, m)
	}
	if err != nil {
		if notPosted(err) {
			if serr := d.saveGraphState(ctx, th, bot.GraphPending); serr != nil {
				log.Warn("outbox: forget a graph post that was not sent", zap.Error(serr))
			}
		}
		return fmt.Errorf("graph reply: %w", err)
	}
	return d.saveGraphState(ctx, th, bot.GraphDone)
}

func (d *Dispatcher) saveGraphState(ctx context.Context, th *bot.Thread, s bot.GraphState) error {
	th.GraphState = s
	if err := d.store.SaveThread(ctx, *th, d.cfg.Now()); err != nil {
		return fmt.Errorf("record graph state: %w", err)
	}
	return nil
}
