package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// defaultDueLimit is how many expired requests DueApprovals returns when the
// caller names no limit.
const defaultDueLimit = 100

// CreateApproval stores a new request, with any votes it already carries,
// and returns its id.
func (t *tx) CreateApproval(ctx context.Context, a *bot.Approval) (int64, error) {
	plan, err := json.Marshal(a.Plan)
	if err != nil {
		return 0, fmt.Errorf("approval: encode plan: %w", err)
	}
	var incident sql.NullInt64
	if a.IncidentID != 0 {
		incident = sql.NullInt64{Int64: a.IncidentID, Valid: true}
	}
	var id int64
	err = t.tx.QueryRowContext(ctx, t.s.q.createApproval,
		a.Nonce, string(a.Status), a.Requester.Platform, a.Requester.UserID, a.Requester.Name, groupsText(a.Requester.Groups),
		a.Platform, a.Channel, a.Thread, incident, a.CommandText, jsonText(a.Options), string(plan), a.Hash,
		a.Quorum, a.Reason, a.Card.Channel, a.Card.RootID, a.Card.ThreadID,
		a.CreatedAt.UTC(), a.ExpiresAt.UTC(), nullTime(a.DecidedAt), nullTime(a.ExecutedAt), a.Result,
	).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("approval for %s: create: %w", a.Plan.Action, err)
	}
	for _, v := range a.Votes {
		if err := t.AddVote(ctx, id, v); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// LockApproval reads a request and its votes, holding its row (PostgreSQL)
// until the transaction ends: two approvers clicking at once take turns, and
// the second sees the first's vote and the status it left.
func (t *tx) LockApproval(ctx context.Context, id int64) (bot.Approval, error) {
	a, err := scanApproval(t.tx.QueryRowContext(ctx, t.s.q.lockApproval, id))
	if err != nil {
		return a, fmt.Errorf("approval %d: %w", id, err)
	}
	if a.Votes, err = queryVotes(ctx, t.tx, t.s.q.votes, id); err != nil {
		return a, fmt.Errorf("approval %d: votes: %w", id, err)
	}
	return a, nil
}

// UpdateApproval writes what moves as a request is decided and executed.
func (t *tx) UpdateApproval(ctx context.Context, a *bot.Approval) error {
	res, err := t.tx.ExecContext(ctx, t.s.q.updateApproval,
		string(a.Status), a.Reason, a.Card.Channel, a.Card.RootID, a.Card.ThreadID,
		nullTime(a.DecidedAt), nullTime(a.ExecutedAt), a.Result, a.ID)
	if err != nil {
		return fmt.Errorf("approval %d: update: %w", a.ID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n != 1 {
		return fmt.Errorf("approval %d: %w", a.ID, bot.ErrNotFound)
	}
	return nil
}

// AddVote records one person's vote. A second vote by the same person
// violates the primary key and fails; in PostgreSQL that also aborts the
// transaction, so callers check the locked request's votes first.
func (t *tx) AddVote(ctx context.Context, approvalID int64, v bot.Vote) error {
	_, err := t.tx.ExecContext(ctx, t.s.q.addVote, approvalID, v.Voter.Platform, v.Voter.UserID, v.Voter.Name, groupsText(v.Voter.Groups),
		int(v.Role), v.Approve, v.At.UTC())
	if err != nil {
		return fmt.Errorf("approval %d: vote by %s:%s: %w", approvalID, v.Voter.Platform, v.Voter.UserID, err)
	}
	return nil
}

// CountRequests counts the requests one person made at or after since.
func (t *tx) CountRequests(ctx context.Context, platform, userID string, since time.Time) (int, error) {
	var n int
	if err := t.tx.QueryRowContext(ctx, t.s.q.countRequests, platform, userID, since.UTC()).Scan(&n); err != nil {
		return 0, fmt.Errorf("approvals by %s:%s: count: %w", platform, userID, err)
	}
	return n, nil
}

// GetApproval reads a request with its votes, as one consistent picture.
func (s *Store) GetApproval(ctx context.Context, id int64) (a bot.Approval, err error) {
	defer s.observe("get_approval", time.Now(), &err)
	rtx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return a, fmt.Errorf("approval %d: begin: %w", id, err)
	}
	defer rtx.Rollback() //nolint:errcheck // read-only
	if a, err = scanApproval(rtx.QueryRowContext(ctx, s.q.getApproval, id)); err != nil {
		return a, fmt.Errorf("approval %d: %w", id, err)
	}
	if a.Votes, err = queryVotes(ctx, rtx, s.q.votes, id); err != nil {
		return a, fmt.Errorf("approval %d: votes: %w", id, err)
	}
	return a, nil
}

// DueApprovals returns up to limit pending requests whose expiry is at or
// before now, the longest expired first, each with its votes.
func (s *Store) DueApprovals(ctx context.Context, now time.Time, limit int) (out []bot.Approval, err error) {
	defer s.observe("due_approvals", time.Now(), &err)
	if limit <= 0 {
		limit = defaultDueLimit
	}
	rtx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("due approvals: begin: %w", err)
	}
	defer rtx.Rollback() //nolint:errcheck // read-only
	out, err = s.approvalsWithVotes(ctx, rtx, s.q.dueApprovals, now.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("due approvals: %w", err)
	}
	return out, nil
}

// approvalsWithVotes runs a query of requests and reads their votes in as
// few queries as the parameter ceiling allows, not one per request.
func (s *Store) approvalsWithVotes(ctx context.Context, rtx *sql.Tx, query string, args ...any) ([]bot.Approval, error) {
	rows, err := rtx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bot.Approval
	byID := map[int64]int{}
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, err
		}
		byID[a.ID] = len(out)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	ids := make([]any, 0, len(out))
	for _, a := range out {
		ids = append(ids, a.ID)
	}
	for start := 0; start < len(ids); start += maxRowsPerInsert {
		chunk := ids[start:min(start+maxRowsPerInsert, len(ids))]
		q := rebind(qVotesAmongHead+values(1, len(chunk))+qVotesAmongTail, s.d.NumberedParams)
		if err := scanVotesAmong(ctx, rtx, q, chunk, func(id int64, v bot.Vote) {
			out[byID[id]].Votes = append(out[byID[id]].Votes, v)
		}); err != nil {
			return nil, fmt.Errorf("votes: %w", err)
		}
	}
	return out, nil
}

func scanApproval(r rowScanner) (bot.Approval, error) {
	var (
		a                     bot.Approval
		status, options, plan string
		groups                string
		incident              sql.NullInt64
		decided, executed     sql.NullTime
	)
	err := r.Scan(&a.ID, &a.Nonce, &status, &a.Requester.Platform, &a.Requester.UserID, &a.Requester.Name, &groups,
		&a.Platform, &a.Channel, &a.Thread, &incident, &a.CommandText, &options, &plan, &a.Hash, &a.Quorum,
		&a.Reason, &a.Card.Channel, &a.Card.RootID, &a.Card.ThreadID, &a.CreatedAt, &a.ExpiresAt,
		&decided, &executed, &a.Result)
	if errors.Is(err, sql.ErrNoRows) {
		return a, bot.ErrNotFound
	}
	if err != nil {
		return a, err
	}
	a.Status, a.IncidentID = bot.ApprovalStatus(status), incident.Int64
	a.CreatedAt, a.ExpiresAt = a.CreatedAt.UTC(), a.ExpiresAt.UTC()
	a.DecidedAt, a.ExecutedAt = timePtr(decided), timePtr(executed)
	if err := json.Unmarshal([]byte(groups), &a.Requester.Groups); err != nil {
		return a, fmt.Errorf("approval %d: decode requester groups: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(options), &a.Options); err != nil {
		return a, fmt.Errorf("approval %d: decode options: %w", a.ID, err)
	}
	if err := json.Unmarshal([]byte(plan), &a.Plan); err != nil {
		return a, fmt.Errorf("approval %d: decode plan: %w", a.ID, err)
	}
	return a, nil
}

func queryVotes(ctx context.Context, q queryer, query string, id int64) ([]bot.Vote, error) {
	var out []bot.Vote
	err := scanVotesAmong(ctx, q, query, []any{id}, func(_ int64, v bot.Vote) { out = append(out, v) })
	return out, err
}

// scanVotesAmong runs a votes query and hands fn each vote with the id of
// its request.
func scanVotesAmong(ctx context.Context, q queryer, query string, args []any, fn func(int64, bot.Vote)) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			v      bot.Vote
			id     int64
			role   int
			groups string
		)
		if err := rows.Scan(&id, &v.Voter.Platform, &v.Voter.UserID, &v.Voter.Name, &groups, &role, &v.Approve, &v.At); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(groups), &v.Voter.Groups); err != nil {
			return fmt.Errorf("approval %d: vote by %s: decode groups: %w", id, v.Voter.UserID, err)
		}
		v.Role, v.At = policy.Role(role), v.At.UTC()
		fn(id, v)
	}
	return rows.Err()
}

// groupsText stores the group or role ids a platform reported with a
// request, bounded like everything a person sends.
func groupsText(groups []string) string {
	if len(groups) > maxStoredGroups {
		groups = groups[:maxStoredGroups]
	}
	b, err := json.Marshal(groups)
	if err != nil || groups == nil {
		return "[]"
	}
	return string(b)
}

// maxStoredGroups bounds the group ids kept per person (Discord allows a
// member 250 roles).
const maxStoredGroups = 250
