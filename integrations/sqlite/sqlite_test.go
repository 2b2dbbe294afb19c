package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/storetest"
	"github.com/bakewise/chatops/integrations/sqlite"
	"github.com/bakewise/chatops/integrations/sqlstore/sqlstoretest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend { return sqlstoretest.OpenKind(t, sqlstoretest.SQLite) })
}

func TestReadyBeforeMigrate(t *testing.T) {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "sub", "chatops.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ready(context.Background()); err == nil {
		t.Fatal("Ready before migrations = nil, want an error")
	}
	if n, err := s.Migrate(context.Background()); err != nil || n == 0 {
		t.Fatalf("Migrate = %d, %v", n, err)
	}
	if n, err := s.Migrate(context.Background()); err != nil || n != 0 {
		t.Fatalf("second Migrate = %d, %v; want 0, nil", n, err)
	}
	if err := s.Ready(context.Background()); err != nil {
		t.Fatalf("Ready after migrations: %v", err)
	}
}

// Every audit append that does not commit is counted once, whether the
// append itself failed or its transaction did; a failed transaction that
// wrote no audit row is not.
func TestAuditAppendFailuresCounted(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "chatops.db"), reg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rec := func() bot.AuditRecord {
		return bot.AuditRecord{At: time.Now(), Actor: bot.Identity{Platform: "slack", UserID: "U1", Name: "ana"},
			Kind: bot.AuditCommand, Action: "health", Outcome: "allowed"}
	}
	failures := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "chatops_audit_append_failures_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatal("chatops_audit_append_failures_total is not registered")
		return 0
	}
	boom := errors.New("boom")
	key, err := bot.NewAuditKey([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		run  func() error
		want float64 // failures counted so far; every step but the first fails
	}{
		{"append commits", func() error { return s.AppendAudit(ctx, rec()) }, 0},
		{"rolled back after the append", func() error {
			return s.InTx(ctx, func(tx bot.Tx) error {
				if err := tx.AppendAudit(ctx, rec()); err != nil {
					return err
				}
				return boom
			})
		}, 1},
		{"rolled back without audit rows", func() error {
			return s.InTx(ctx, func(bot.Tx) error { return boom })
		}, 1},
		{"keyed chain, no key: the append fails", func() error {
			s.UseAuditKey(key)
			if _, err := s.PrepareAuditChain(ctx, bot.AuditRecord{At: time.Now(), Kind: bot.AuditKeyInUse, Outcome: "ok"}); err != nil {
				t.Fatalf("PrepareAuditChain: %v", err)
			}
			s.UseAuditKey(nil)
			return s.AppendAudit(ctx, rec())
		}, 2},
	}
	for _, st := range steps {
		err := st.run()
		if first := st.name == steps[0].name; (err == nil) != first {
			t.Fatalf("%s: err = %v", st.name, err)
		}
		if got := failures(); got != st.want {
			t.Fatalf("%s: chatops_audit_append_failures_total = %v, want %v", st.name, got, st.want)
		}
	}
}
