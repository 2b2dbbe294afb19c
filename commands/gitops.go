package commands

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// maxRevision bounds a revision in the table: Flux writes
// "main@sha1:<40 hex>".
const maxRevision = 60

// GitOpsReader reads Flux objects (the cluster).
type GitOpsReader interface {
	GitOps(ctx context.Context) (bot.GitOpsReport, error)
}

func gitops(c GitOpsReader) bot.CommandSpec {
	return bot.CommandSpec{
		Name:    "gitops",
		Summary: "Flux Kustomizations, GitRepositories and HelmReleases: ready, suspended, revision, message",
		Role:    policy.Viewer,
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			rep, err := c.GitOps(ctx)
			if err != nil {
				return bot.Answer{}, err
			}
			return gitopsAnswer(rep), nil
		},
	}
}

func gitopsAnswer(rep bot.GitOpsReport) bot.Answer {
	if len(rep.Served) == 0 {
		return bot.Answer{Title: "Flux is not installed in this cluster (no Kustomizations, GitRepositories or HelmReleases are served)."}
	}
	if len(rep.Objects) == 0 {
		return bot.Answer{Title: "No Flux objects in " + rep.Namespace + "."}
	}
	notReady, suspended := 0, 0
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tNAME\tREADY\tSUSPENDED\tREVISION")
	var msgs []string
	for _, o := range rep.Objects {
		ready := o.Ready
		if ready == "" {
			ready = "Unknown"
		}
		if ready != "True" {
			notReady++
		}
		susp := "no"
		if o.Suspended {
			susp, suspended = "yes", suspended+1
		}
		rev := o.Revision
		if rev == "" {
			rev = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", o.Kind, o.Name, ready, susp, oneLine(rev, maxRevision))
		if o.Message != "" {
			m := o.Kind + "/" + o.Name + ": "
			if o.Reason != "" {
				m += o.Reason + ": "
			}
			msgs = append(msgs, m+oneLine(o.Message, maxEventMessage))
		}
	}
	w.Flush()
	if len(msgs) > 0 {
		b.WriteString("\nMessages:\n")
		for _, m := range msgs {
			b.WriteString(m + "\n")
		}
	}
	a := bot.Answer{Title: fmt.Sprintf("Flux in %s: %d objects, %d not ready, %d suspended", rep.Namespace, len(rep.Objects), notReady, suspended),
		Color: 0x2EB67D}
	if notReady > 0 || suspended > 0 {
		a.Color = 0xECB22E
	}
	if len(rep.Served) < 3 { // Kustomization, GitRepository, HelmRelease
		a.Lines = append(a.Lines, "Served Flux kinds: "+strings.Join(rep.Served, ", ")+" (the others are not installed).")
	}
	if rep.Incomplete {
		a.Lines = append(a.Lines, "A kind has more objects than one command reads: some are missing.")
	}
	a.Pre = b.String()
	return a
}
