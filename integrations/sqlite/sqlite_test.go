package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/bakewise/chatops/bot/storetest"
	"github.com/bakewise/chatops/integrations/sqlite"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Backend {
		path := filepath.Join(t.TempDir(), "chatops.db")
		s, err := sqlite.Open(context.Background(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		// The file opened a second time, behind the store's back, as
		// anyone who can write it could.
		raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		return storetest.Backend{
			Store: s,
			Exec: func(ctx context.Context, query string, args ...any) error {
				_, err := raw.ExecContext(ctx, query, args...)
				return err
			},
			Unguard: []string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`},
		}
	})
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
