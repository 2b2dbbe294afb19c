package alertmanager

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-openapi/strfmt"
	"github.com/prometheus/alertmanager/api/v2/client/silence"
	"github.com/prometheus/alertmanager/api/v2/models"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/policy"
)

// Limits on a silence made from chat. Alertmanager itself accepts far more;
// these keep one chat command from hiding pages for long or matching on
// values nobody could have typed.
const (
	// MaxSilence is the longest silence the bot creates. Longer ones belong
	// in Alertmanager's own UI, where they are seen and reviewed.
	MaxSilence = 7 * 24 * time.Hour
	// MaxSilenceMatchers bounds the matchers of one silence.
	MaxSilenceMatchers = 16
	// MaxMatcherLen bounds a matcher's label name and its value (in
	// characters, after unquoting).
	MaxMatcherLen = 256
	// MaxCreatedByLen and MaxCommentLen bound the silence's author and reason
	// (in characters).
	MaxCreatedByLen = 200
	MaxCommentLen   = 1000
	// maxReasonLen bounds how much of Alertmanager's refusal is carried in
	// an error: the error may end up in a chat message.
	maxReasonLen = 300
	// maxMatchersInput bounds the text ParseMatchers reads: room for every
	// matcher at its longest, quoted and escaped.
	maxMatchersInput = 16 << 10
)

// ErrSilenceNotFound is Alertmanager's answer (404) for a silence id it does
// not know: never created, or expired and garbage-collected since.
var ErrSilenceNotFound = errors.New("no such silence")

// RejectedError is Alertmanager's refusal (HTTP 400) of a request, with its
// reason as Alertmanager worded it. Retrying the same request cannot help.
type RejectedError struct {
	Reason string
	err    error
}

func (e *RejectedError) Error() string { return "Alertmanager refused it: " + e.Reason }
func (e *RejectedError) Unwrap() error { return e.err }

// CreateSilence checks s against the limits above and creates it in
// Alertmanager; it returns the new silence's id.
func (a *API) CreateSilence(ctx context.Context, s bot.Silence) (string, error) {
	if err := ValidateSilence(s); err != nil {
		return "", fmt.Errorf("silence: %w", err)
	}
	ms := make(models.Matchers, 0, len(s.Matchers))
	for _, m := range s.Matchers {
		ms = append(ms, &models.Matcher{
			Name:    new(m.Name),
			Value:   new(m.Value),
			IsEqual: new(m.Equal),
			IsRegex: new(m.IsRegex),
		})
	}
	starts, ends := strfmt.DateTime(s.StartsAt.UTC()), strfmt.DateTime(s.EndsAt.UTC())
	body := &models.PostableSilence{Silence: models.Silence{
		Matchers:  ms,
		StartsAt:  &starts,
		EndsAt:    &ends,
		CreatedBy: new(s.CreatedBy),
		Comment:   new(s.Comment),
	}}

	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	res, err := a.c.Silence.PostSilences(silence.NewPostSilencesParamsWithContext(ctx).WithSilence(body))
	if err != nil {
		if bad, ok := errors.AsType[*silence.PostSilencesBadRequest](err); ok {
			return "", fmt.Errorf("silence: %w", &RejectedError{Reason: clip(bad.Payload, maxReasonLen), err: err})
		}
		return "", fmt.Errorf("silence: post to Alertmanager: %w", err)
	}
	if res.Payload == nil || res.Payload.SilenceID == "" {
		return "", errors.New("silence: Alertmanager answered without a silence id")
	}
	return res.Payload.SilenceID, nil
}

// StoredSilence is a silence as Alertmanager holds it.
type StoredSilence struct {
	ID string
	// State is Alertmanager's: "pending", "active" or "expired".
	State string
	bot.Silence
}

// GetSilence reads one silence; ErrSilenceNotFound when Alertmanager does
// not know the id.
func (a *API) GetSilence(ctx context.Context, id string) (StoredSilence, error) {
	if !strfmt.IsUUID(id) {
		return StoredSilence{}, fmt.Errorf("silence %q: not a silence id (a UUID)", clip(id, 64))
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	res, err := a.c.Silence.GetSilence(silence.NewGetSilenceParamsWithContext(ctx).WithSilenceID(strfmt.UUID(id)))
	if err != nil {
		if _, ok := errors.AsType[*silence.GetSilenceNotFound](err); ok {
			return StoredSilence{}, fmt.Errorf("silence %s: %w", id, ErrSilenceNotFound)
		}
		return StoredSilence{}, fmt.Errorf("silence %s: get from Alertmanager: %w", id, err)
	}
	p := res.Payload
	if p == nil || p.ID == nil || p.Status == nil || p.Status.State == nil || p.StartsAt == nil || p.EndsAt == nil {
		return StoredSilence{}, fmt.Errorf("silence %s: Alertmanager's answer lacks required fields", id)
	}
	out := StoredSilence{
		ID:    *p.ID,
		State: *p.Status.State,
		Silence: bot.Silence{
			StartsAt:  time.Time(*p.StartsAt),
			EndsAt:    time.Time(*p.EndsAt),
			CreatedBy: deref(p.CreatedBy),
			Comment:   deref(p.Comment),
		},
	}
	for _, m := range p.Matchers {
		if m == nil || m.Name == nil || m.Value == nil {
			return StoredSilence{}, fmt.Errorf("silence %s: Alertmanager's answer has a matcher without name or value", id)
		}
		// isEqual is optional in API v2 and defaults to true there.
		equal := m.IsEqual == nil || *m.IsEqual
		out.Matchers = append(out.Matchers, policy.SilenceMatcher{
			Name: *m.Name, Value: *m.Value, Equal: equal, IsRegex: m.IsRegex != nil && *m.IsRegex,
		})
	}
	return out, nil
}

// ExpireSilence ends a silence now. Alertmanager treats expiring an expired
// silence as done, so an undo that is repeated is harmless.
func (a *API) ExpireSilence(ctx context.Context, id string) error {
	if !strfmt.IsUUID(id) {
		return fmt.Errorf("silence %q: not a silence id (a UUID)", clip(id, 64))
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	_, err := a.c.Silence.DeleteSilence(silence.NewDeleteSilenceParamsWithContext(ctx).WithSilenceID(strfmt.UUID(id)))
	if err != nil {
		if _, ok := errors.AsType[*silence.DeleteSilenceNotFound](err); ok {
			return fmt.Errorf("silence %s: %w", id, ErrSilenceNotFound)
		}
		return fmt.Errorf("silence %s: expire in Alertmanager: %w", id, err)
	}
	return nil
}

// ValidateSilence checks a silence against the limits above before anyone
// sends it, so a person gets a precise answer instead of Alertmanager's.
func ValidateSilence(s bot.Silence) error {
	if err := validateMatchers(s.Matchers); err != nil {
		return err
	}
	switch {
	case s.StartsAt.IsZero():
		return errors.New("no start time")
	case s.EndsAt.IsZero():
		return errors.New("no end time")
	case !s.EndsAt.After(s.StartsAt):
		return fmt.Errorf("end time %s is not after start time %s", s.EndsAt.UTC().Format(time.RFC3339), s.StartsAt.UTC().Format(time.RFC3339))
	case s.EndsAt.Sub(s.StartsAt) > MaxSilence:
		return fmt.Errorf("lasts %s, longer than the %s allowed", s.EndsAt.Sub(s.StartsAt), MaxSilence)
	}
	if err := checkText("author (createdBy)", s.CreatedBy, MaxCreatedByLen); err != nil {
		return err
	}
	return checkText("comment", s.Comment, MaxCommentLen)
}

func checkText(what, v string, limit int) error {
	switch {
	case strings.TrimSpace(v) == "":
		return fmt.Errorf("%s is empty", what)
	case !utf8.ValidString(v):
		return fmt.Errorf("%s is not valid UTF-8", what)
	case utf8.RuneCountInString(v) > limit:
		return fmt.Errorf("%s is %d characters long, more than %d", what, utf8.RuneCountInString(v), limit)
	}
	return nil
}

// validateMatchers checks each matcher and the set: Alertmanager refuses a
// silence whose every matcher also matches alerts that lack the label. It
// counts "!=" and "!~" as narrowing; we do not, since `env!="prod"` alone
// would silence every alert without an env label.
func validateMatchers(ms []policy.SilenceMatcher) error {
	if len(ms) == 0 {
		return errors.New("no matchers")
	}
	if len(ms) > MaxSilenceMatchers {
		return fmt.Errorf("%d matchers, more than %d", len(ms), MaxSilenceMatchers)
	}
	narrows := false
	for _, m := range ms {
		me, err := checkMatcher(m)
		if err != nil {
			return fmt.Errorf("matcher %s: %w", formatMatcher(m), err)
		}
		narrows = narrows || !me
	}
	if !narrows {
		return errors.New("every matcher also matches alerts without that label; add one that requires a value (such as alertname=...)")
	}
	return nil
}

// checkMatcher validates one matcher as Alertmanager's silence API does in
// its default mode, within the limits above, and reports whether it
// matches the empty string (an absent label).
func checkMatcher(m policy.SilenceMatcher) (matchesEmpty bool, err error) {
	if utf8.RuneCountInString(m.Name) > MaxMatcherLen {
		return false, fmt.Errorf("label name is longer than %d characters", MaxMatcherLen)
	}
	if !model.UTF8Validation.IsValidLabelName(m.Name) {
		return false, fmt.Errorf("label name %q is not valid: Alertmanager takes any name of valid UTF-8 but an empty one", m.Name)
	}
	if !utf8.ValidString(m.Value) {
		return false, errors.New("value is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(m.Value); n > MaxMatcherLen {
		return false, fmt.Errorf("value is %d characters long, more than %d", n, MaxMatcherLen)
	}
	// The silence matches as this matcher does: regular expression anchored
	// at both ends, absent label read as empty.
	am, err := labels.NewMatcher(m.Type(), m.Name, m.Value)
	if err != nil {
		return false, fmt.Errorf("bad regular expression: %w", err)
	}
	// The API also compiles the pattern as written, unanchored, and refuses
	// it when that fails.
	if m.IsRegex {
		if _, err := regexp.Compile(m.Value); err != nil {
			return false, fmt.Errorf("bad regular expression: %w", err)
		}
	}
	return am.Matches(""), nil
}

// formatMatcher writes a matcher the way ParseMatchers reads it, clipped
// for an error message.
func formatMatcher(m policy.SilenceMatcher) string {
	m.Name, m.Value = clip(m.Name, 64), clip(m.Value, 64)
	return m.String()
}

// ParseMatchers reads the matchers a person types in chat:
//
//	alertname=ServiceDown service="orders-service"
//	alertname="HighMemoryUsage", instance=~"pos-.*", env!~"dev|staging"
//
// Matchers are separated by commas and/or spaces, and may be enclosed in
// {...}, so a selector pasted from Alertmanager or amtool works. Each one is
// read by Alertmanager's own parser (bot.ParseMatcher), so it is valid here
// exactly when Alertmanager would take it: spaces around the operator, a
// double-quoted value (it must be to hold a space or a comma), a quoted or
// UTF-8 label name. The result passes the same checks as CreateSilence's.
func ParseMatchers(s string) ([]policy.SilenceMatcher, error) {
	if len(s) > maxMatchersInput {
		return nil, fmt.Errorf("matchers: %d bytes of text, more than %d", len(s), maxMatchersInput)
	}
	// Chat clients turn typed quotes into typographic ones; nobody means
	// those as part of a label value. Text holding a straight quote was not
	// retyped (matchers written back by String() are such text), so its
	// typographic quotes are the value's own.
	if !strings.Contains(s, `"`) {
		s = strings.NewReplacer("\u201c", `"`, "\u201d", `"`).Replace(s)
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	parts, err := splitMatchers(s)
	if err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, errors.New("no matchers: give at least one, such as alertname=ServiceDown")
	}
	if len(parts) > MaxSilenceMatchers {
		return nil, fmt.Errorf("%d matchers, more than %d", len(parts), MaxSilenceMatchers)
	}
	out := make([]policy.SilenceMatcher, 0, len(parts))
	for _, p := range parts {
		bm, err := bot.ParseMatcher(p)
		if err != nil {
			return nil, err
		}
		m := policy.SilenceMatcher{
			Name:    bm.Label,
			Value:   bm.Value,
			Equal:   bm.Op == bot.MatchEqual || bm.Op == bot.MatchRegexp,
			IsRegex: bm.Op == bot.MatchRegexp || bm.Op == bot.MatchNotRegexp,
		}
		if _, err := checkMatcher(m); err != nil {
			return nil, fmt.Errorf("matcher %q: %w", p, err)
		}
		out = append(out, m)
	}
	if err := validateMatchers(out); err != nil {
		return nil, err
	}
	return out, nil
}

// splitMatchers cuts s into one piece per matcher for Alertmanager's parser
// to read; it decides nothing else. It has to know where a name, an
// operator and a value end, because a space separates matchers everywhere
// except around an operator and inside quotes.
func splitMatchers(s string) ([]string, error) {
	rs := []rune(s)
	isSep := func(r rune) bool { return r == ',' || unicode.IsSpace(r) }
	skipSpace := func(i int) int {
		for i < len(rs) && unicode.IsSpace(rs[i]) {
			i++
		}
		return i
	}
	// operand returns where the name or value starting at i ends: after
	// its closing quote, or before a separator or one of stop; -1 when a
	// quote is not closed.
	operand := func(i int, stop string) int {
		if i < len(rs) && rs[i] == '"' {
			for i++; i < len(rs); i++ {
				switch rs[i] {
				case '\\':
					i++
				case '"':
					return i + 1
				}
			}
			return -1
		}
		for i < len(rs) && !isSep(rs[i]) && !strings.ContainsRune(stop, rs[i]) {
			i++
		}
		return i
	}
	unclosed := func(start int) error {
		return fmt.Errorf("matcher %q: the closing double quote is missing", string(rs[start:]))
	}
	var out []string
	i := 0
	for {
		for i < len(rs) && isSep(rs[i]) {
			i++
		}
		if i == len(rs) {
			return out, nil
		}
		start := i
		if i = operand(i, `=!~"`); i < 0 {
			return nil, unclosed(start)
		}
		i = skipSpace(i)
		switch {
		case i+1 < len(rs) && (string(rs[i:i+2]) == "=~" || string(rs[i:i+2]) == "!=" || string(rs[i:i+2]) == "!~"):
			i += 2
		case i < len(rs) && rs[i] == '=':
			i++
		default:
			end := i
			for end < len(rs) && !isSep(rs[end]) {
				end++
			}
			return nil, fmt.Errorf("matcher %q: expected name=value, name!=value, name=~regex or name!~regex", string(rs[start:end]))
		}
		i = skipSpace(i)
		quoted := i < len(rs) && rs[i] == '"'
		if i = operand(i, ""); i < 0 {
			return nil, unclosed(start)
		}
		if quoted && i < len(rs) && !isSep(rs[i]) {
			return nil, fmt.Errorf("matcher %q: expected a comma or a space after the closing quote", string(rs[start:i+1]))
		}
		out = append(out, string(rs[start:i]))
	}
}

// clip shortens s to at most n characters, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
