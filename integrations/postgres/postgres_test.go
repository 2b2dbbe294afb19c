package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/bot/storetest"
	"github.com/bakewise/chatops/integrations/postgres"
	"github.com/bakewise/chatops/integrations/sqlstore/sqlstoretest"
)

func open(t *testing.T) storetest.Backend { return sqlstoretest.OpenKind(t, sqlstoretest.Postgres) }

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

// TRUNCATE fires no row trigger: it has its own, and is refused too.
func TestAuditLogRefusesTruncate(t *testing.T) {
	b := open(t)
	ctx := context.Background()
	err := b.Store.InTx(ctx, func(tx bot.Tx) error {
		return tx.AppendAudit(ctx, bot.AuditRecord{At: time.Now(), Kind: bot.AuditCommand, Action: "health", Outcome: "allowed"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Exec(ctx, `TRUNCATE audit_log`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("TRUNCATE audit_log = %v, want the append-only refusal", err)
	}
	n := 0
	if err := b.Store.AuditRecords(ctx, time.Time{}, func(bot.AuditRecord) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("after TRUNCATE: %d rows, %v; want 1", n, err)
	}
}

// Replicas starting together all migrate; the session lock makes them take
// turns and exactly one applies each migration.
func TestConcurrentMigrations(t *testing.T) {
	dbURL := sqlstoretest.PostgresDatabase(t)
	const replicas = 4
	var wg sync.WaitGroup
	applied := make(chan int, replicas)
	for range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(context.Background(), postgres.Config{URL: dbURL}, nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			n, err := s.Migrate(context.Background())
			if err != nil {
				t.Error(err)
			}
			applied <- n
		}()
	}
	wg.Wait()
	close(applied)
	total := 0
	for n := range applied {
		total += n
	}
	// Each migration was applied exactly once: as many as one replica
	// alone applies to a fresh database.
	alone, err := postgres.Open(context.Background(), postgres.Config{URL: sqlstoretest.PostgresDatabase(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	want, err := alone.Migrate(context.Background())
	if err != nil || want == 0 {
		t.Fatalf("Migrate on a fresh database = %d, %v", want, err)
	}
	if total != want {
		t.Fatalf("migrations applied across %d replicas = %d, want %d", replicas, total, want)
	}
}

func TestOpenErrorsHideThePassword(t *testing.T) {
	_, err := postgres.Open(context.Background(), postgres.Config{URL: "postgres://u:hunter2@127.0.0.1:1/x?sslmode=disable"}, nil)
	if err == nil {
		t.Fatal("Open on a closed port succeeded")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error reveals the password: %v", err)
	}
	_, err = postgres.Open(context.Background(), postgres.Config{URL: "postgres://u:hunter2@[bad"}, nil)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("bad URL error = %v", err)
	}
}
