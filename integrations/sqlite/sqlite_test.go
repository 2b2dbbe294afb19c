package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

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
