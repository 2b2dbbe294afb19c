package commands

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// certWarnDays: a certificate closer to its expiry than this colours the
// answer (cert-manager renews 30 days ahead by default, so one this close
// has failed to renew).
const certWarnDays = 14

// CertificateReader reads cert-manager Certificates (the cluster).
type CertificateReader interface {
	Certificates(ctx context.Context) (bot.CertificatesReport, error)
}

func certs(c CertificateReader) bot.CommandSpec {
	return bot.CommandSpec{
		Name:    "certs",
		Summary: "cert-manager Certificates: ready, expiry, days left, renewal, issuer, last failure; soonest expiry first",
		Role:    policy.Viewer,
		Run: func(ctx context.Context, inv bot.Invocation) (bot.Answer, error) {
			rep, err := c.Certificates(ctx)
			if err != nil {
				return bot.Answer{}, err
			}
			return certsAnswer(rep, time.Now()), nil
		},
	}
}

func certsAnswer(rep bot.CertificatesReport, now time.Time) bot.Answer {
	if !rep.Installed {
		return bot.Answer{Title: "cert-manager is not installed in this cluster (no cert-manager.io/v1 Certificates)."}
	}
	if len(rep.Certificates) == 0 {
		return bot.Answer{Title: "No cert-manager Certificates in " + rep.Namespace + "."}
	}
	notReady, soon := 0, 0
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CERTIFICATE\tREADY\tEXPIRES\tDAYS LEFT\tRENEWAL\tISSUER")
	var failures []string
	for _, c := range rep.Certificates {
		ready := c.Ready
		if ready == "" {
			ready = "Unknown"
		}
		if ready != "True" {
			notReady++
		}
		expires, left := "-", "-"
		if !c.NotAfter.IsZero() {
			days := int(c.NotAfter.Sub(now).Hours() / 24)
			if c.NotAfter.Before(now) {
				left = "expired"
			} else {
				left = fmt.Sprint(days)
			}
			if days < certWarnDays {
				soon++
			}
			expires = c.NotAfter.UTC().Format(time.DateOnly)
		}
		renewal := "-"
		if !c.RenewalTime.IsZero() {
			renewal = c.RenewalTime.UTC().Format(time.DateOnly)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, ready, expires, left, renewal, c.Issuer)
		if c.Ready != "True" && (c.Message != "" || !c.LastFailure.IsZero()) {
			f := c.Name + ": "
			if c.Reason != "" {
				f += c.Reason + ": "
			}
			f += oneLine(c.Message, maxEventMessage)
			if !c.LastFailure.IsZero() {
				f += fmt.Sprintf(" (last failure %s ago)", shortAge(max(now.Sub(c.LastFailure), 0)))
			}
			failures = append(failures, f)
		}
	}
	w.Flush()
	a := bot.Answer{Title: fmt.Sprintf("Certificates in %s: %d, %d not ready, %d expiring within %d days",
		rep.Namespace, len(rep.Certificates), notReady, soon, certWarnDays), Color: 0x2EB67D}
	if notReady > 0 || soon > 0 {
		a.Color = 0xECB22E
	}
	if len(failures) > 0 {
		b.WriteString("\nLast failures:\n")
		for _, f := range failures {
			b.WriteString(f + "\n")
		}
	}
	if rep.Incomplete {
		a.Lines = append(a.Lines, "There are more Certificates than one command reads: some are missing.")
	}
	a.Pre = b.String()
	return a
}
