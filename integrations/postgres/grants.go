package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The split of roles. Migrations run as the owner of the tables; serve runs
// as a runtime role that holds only what the store's queries use. On
// audit_log that is SELECT and INSERT: the runtime role cannot UPDATE,
// DELETE or TRUNCATE it, and, not owning it, cannot ALTER it, disable its
// triggers, replace their function or drop it.

// tableGrant is what the runtime role may do to one table.
type tableGrant struct {
	table      string
	privileges string
}

// runtimeTables lists every table the migrations create, with the
// privileges the store's queries need (integrations/sqlstore): FOR UPDATE
// and ON CONFLICT DO UPDATE need UPDATE; only the outbox and the replay
// guard delete. A table missing here fails TestGrantsCoverTheSchema.
var runtimeTables = []tableGrant{
	{"incidents", "SELECT, INSERT, UPDATE"},
	{"alerts", "SELECT, INSERT, UPDATE"},
	{"timeline", "SELECT, INSERT"},
	{"outbox", "SELECT, INSERT, UPDATE, DELETE"},
	{"threads", "SELECT, INSERT, UPDATE"},
	{"seen_requests", "SELECT, INSERT, DELETE"},
	{"approvals", "SELECT, INSERT, UPDATE"},
	{"approval_votes", "SELECT, INSERT"},
	{"leases", "SELECT, INSERT, UPDATE"},
	{"incident_links", "SELECT, INSERT, UPDATE"},
	// Read and append, nothing else.
	{"audit_log", "SELECT, INSERT"},
	// serve checks that no migration is pending; it applies none.
	{"goose_db_version", "SELECT"},
}

// runtimeSequences are the BIGSERIAL sequences the runtime role draws ids
// from.
var runtimeSequences = []string{"incidents_id_seq", "timeline_id_seq", "outbox_id_seq", "approvals_id_seq"}

// auditForbidden are the privileges on audit_log the runtime role must not
// hold by any path (directly, through PUBLIC or an inherited role).
var auditForbidden = []string{"UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"}

// maxRoleName is PostgreSQL's NAMEDATALEN - 1: a longer name would be
// silently truncated into another.
const maxRoleName = 63

// grantTimeout bounds applying the grants: a handful of catalog reads and
// GRANT statements.
const grantTimeout = 30 * time.Second

// CheckRoleName refuses a role name that would not name one ordinary
// role: empty, longer than PostgreSQL keeps, with control characters,
// reserved (pg_*), or a keyword GRANT reads specially.
func CheckRoleName(role string) error {
	switch strings.ToLower(role) {
	case "public", "current_user", "session_user", "current_role", "none":
		return fmt.Errorf("role %q: a reserved name, not a role of its own", role)
	}
	switch {
	case role == "":
		return errors.New("role: empty name")
	case len(role) > maxRoleName:
		return fmt.Errorf("role: %d bytes, PostgreSQL keeps at most %d", len(role), maxRoleName)
	case strings.HasPrefix(strings.ToLower(role), "pg_"):
		return fmt.Errorf("role %q: pg_ names are reserved for PostgreSQL's own roles", role)
	case strings.IndexFunc(role, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return fmt.Errorf("role %q: contains control characters", role)
	}
	return nil
}

// GrantStatements is the SQL that gives role exactly what serve needs in
// schema, and takes away anything more it was given on these tables:
// first every privilege is revoked, then the needed ones granted, so
// running it again changes nothing. Tables are named unqualified, as the
// migrations create them (the search_path's first schema).
func GrantStatements(role, schema string) ([]string, error) {
	if err := CheckRoleName(role); err != nil {
		return nil, err
	}
	who := pgx.Identifier{role}.Sanitize()
	tables := make([]string, len(runtimeTables))
	for i, g := range runtimeTables {
		tables[i] = pgx.Identifier{g.table}.Sanitize()
	}
	seqs := make([]string, len(runtimeSequences))
	for i, s := range runtimeSequences {
		seqs[i] = pgx.Identifier{s}.Sanitize()
	}
	out := []string{
		"GRANT USAGE ON SCHEMA " + pgx.Identifier{schema}.Sanitize() + " TO " + who,
		"REVOKE ALL ON TABLE " + strings.Join(tables, ", ") + " FROM " + who,
	}
	for i, g := range runtimeTables {
		out = append(out, "GRANT "+g.privileges+" ON TABLE "+tables[i]+" TO "+who)
	}
	return append(out,
		"REVOKE ALL ON SEQUENCE "+strings.Join(seqs, ", ")+" FROM "+who,
		"GRANT USAGE ON SEQUENCE "+strings.Join(seqs, ", ")+" TO "+who,
	), nil
}

// roleState is what the catalog says of the runtime role, against the
// objects that guard the audit log.
type roleState struct {
	super, ownsAudit, ownsSchema, ownsTrigger bool
	auditOwner                                string
}

// qRoleState reads roleState in one go. pg_has_role(..., 'MEMBER') is
// true for the role itself and for any role it belongs to, inherited or
// not: membership of the owner is ownership (SET ROLE).
const qRoleState = `
SELECT r.rolsuper,
       pg_has_role(r.oid, c.relowner, 'MEMBER'),
       pg_has_role(r.oid, n.nspowner, 'MEMBER'),
       pg_has_role(r.oid, p.proowner, 'MEMBER'),
       pg_get_userbyid(c.relowner)
FROM pg_roles r,
     pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
     pg_proc p
WHERE r.rolname = $1 AND c.oid = $2::oid AND p.oid = 'audit_log_append_only()'::regprocedure`

// Grant applies GrantStatements for role in the database at url, as the
// role that ran the migrations, in one transaction. It refuses a role that
// could undo the audit log's guards anyway: a superuser, a member of the
// owner of audit_log, of its schema or of its trigger's function; and it
// checks afterwards that no path (PUBLIC, an inherited role) leaves the
// role UPDATE, DELETE, TRUNCATE, REFERENCES or TRIGGER on audit_log. It
// returns the statements it ran.
func Grant(ctx context.Context, url, role string) ([]string, error) {
	if err := CheckRoleName(role); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, grantTimeout)
	defer cancel()
	pc, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, errors.New("postgres: the database URL does not parse")
	}
	pc.ConnectTimeout = connectTimeout
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s/%s: %w", pc.Host, pc.Database, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var stmts []string
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		// The audit_log the store uses: the first on the search_path.
		var (
			audit  uint32
			schema string
		)
		err := tx.QueryRow(ctx, `SELECT c.oid, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.oid = to_regclass('audit_log')`).Scan(&audit, &schema)
		if errors.Is(err, pgx.ErrNoRows) {
			return errors.New("there is no audit_log table on the search_path: run chatops migrate first, as the owner")
		}
		if err != nil {
			return fmt.Errorf("find audit_log: %w", err)
		}
		if err := checkRole(ctx, tx, role, audit); err != nil {
			return err
		}
		if stmts, err = GrantStatements(role, schema); err != nil {
			return err
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return checkAuditPrivileges(ctx, tx, role, audit)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: grant %s: %w", role, err)
	}
	return stmts, nil
}

func checkRole(ctx context.Context, tx pgx.Tx, role string, audit uint32) error {
	var st roleState
	err := tx.QueryRow(ctx, qRoleState, role, audit).Scan(&st.super,
		&st.ownsAudit, &st.ownsSchema, &st.ownsTrigger, &st.auditOwner)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("role %q does not exist: create it first (CREATE ROLE %s LOGIN PASSWORD '...')",
			role, pgx.Identifier{role}.Sanitize())
	}
	if err != nil {
		return fmt.Errorf("read role %q: %w", role, err)
	}
	switch {
	case st.super:
		return fmt.Errorf("role %q is a superuser: no grant limits it; give serve an ordinary role", role)
	case st.ownsAudit:
		return fmt.Errorf("role %q is, or is a member of, %q, the owner of audit_log: it could disable the triggers; give serve a role of its own", role, st.auditOwner)
	case st.ownsSchema:
		return fmt.Errorf("role %q is, or is a member of, the owner of audit_log's schema: it could drop the table; give serve a role of its own", role)
	case st.ownsTrigger:
		return fmt.Errorf("role %q is, or is a member of, the owner of the function audit_log_append_only(): it could replace the guard; give serve a role of its own", role)
	}
	return nil
}

// checkAuditPrivileges fails if role still holds, by any path, a privilege
// on audit_log beyond reading and appending.
func checkAuditPrivileges(ctx context.Context, tx pgx.Tx, role string, audit uint32) error {
	var held []string
	for _, p := range auditForbidden {
		var has bool
		if err := tx.QueryRow(ctx, `SELECT has_table_privilege($1, $2::oid, $3)`, role, audit, p).Scan(&has); err != nil {
			return fmt.Errorf("check %s on audit_log: %w", p, err)
		}
		if has {
			held = append(held, p)
		}
	}
	if len(held) > 0 {
		return fmt.Errorf("role %q still holds %s on audit_log through PUBLIC or another role it inherits from: revoke it there",
			role, strings.Join(held, ", "))
	}
	return nil
}

// IsPermissionDenied reports whether err is PostgreSQL refusing for want
// of a privilege (SQLSTATE 42501): what a runtime role meets when it tries
// to apply a migration.
func IsPermissionDenied(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == insufficientPrivilege
}

// insufficientPrivilege is SQLSTATE 42501.
const insufficientPrivilege = "42501"
