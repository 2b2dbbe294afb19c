package harness

// StoreKind is which Store implementation a bot runs on.
type StoreKind string

const (
	SQLite   StoreKind = "sqlite"
	Postgres StoreKind = "postgres"
)

// StoreKinds are both kinds, for a test that runs on each.
var StoreKinds = []StoreKind{SQLite, Postgres}

// Store is a bot's store, fresh for its test: a SQLite data directory, or
// a PostgreSQL database of its own.
type Store struct {
	Kind    StoreKind
	DataDir string    // SQLite: CHATOPS_DATA_DIR
	DB      *Database // PostgreSQL: CHATOPS_DATABASE_URL
}

// NewStore makes a fresh store of kind for t; a PostgreSQL database is
// made on PGAdminURL.
func NewStore(t TB, kind StoreKind) *Store {
	t.Helper()
	switch kind {
	case SQLite:
		return &Store{Kind: kind, DataDir: t.TempDir()}
	case Postgres:
		return PostgresStore(NewDatabase(t, PGAdminURL(), "chatops_test_"))
	}
	t.Fatalf("unknown store kind %q", kind)
	return nil
}

// PostgresStore is the store on db.
func PostgresStore(db *Database) *Store { return &Store{Kind: Postgres, DB: db} }

// Env is what points a chatops process at the store.
func (s *Store) Env() []string {
	if s.Kind == Postgres {
		return []string{"CHATOPS_DATABASE_URL=" + s.DB.URL}
	}
	return []string{"CHATOPS_DATA_DIR=" + s.DataDir}
}
