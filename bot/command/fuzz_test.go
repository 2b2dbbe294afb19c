package command

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/bakewise/chatops/bot"
	"github.com/bakewise/chatops/commands"
)

// maxUsageMessage bounds what a mistyped command is told (before the
// usage line): it goes to chat, the audit log and the logs, so it must not
// grow with what was typed. Quoted input in it is clipped (quote).
const maxUsageMessage = 512

// fuzzTable is the real command table (commands.Table with nothing
// configured: every spec, every argument), help included.
func fuzzTable(f *testing.F) *Table {
	t, err := NewTable("ops", commands.Table(commands.Deps{}, nil))
	if err != nil {
		f.Fatal(err)
	}
	return t
}

// FuzzParseCommand feeds command text (as /ops text in Slack, or a mention)
// and one typed option (as Discord sends them) to the table's parser.
// Whatever the input: no panic; the tokenizer's words, quoted again, read
// back the same; a refusal is an unknown command answered with help, or a
// usage error naming its command, and short; an accepted invocation holds
// only its spec's arguments, every required one, each within its kind and
// its Min..Max.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"health", "health orders-service", "logs orders-service --tail 50", "logs orders-service --tail=2001",
		"logs orders-service --since 10m --previous --grep 'timeout|refused'", "logs orders-service --container app --since=1h",
		"incident list --status open", "incident show 12", "incident show 0", "incident severity 12 P1", "incident ack 99999999999999999999",
		`silence alertname=ServiceDown service="orders-service" 2h deploying a fix`, "silence #12 30s too short",
		"scale orders-service 3", "scale orders-service -1", "rollback orders-service --to-revision 4", "restart gateway",
		"approve 7", "deny 7 not now", "break-glass 7 the database is on fire", "help", "help logs", "whoami", "nope",
		`logs "orders service`, strings.Repeat("a ", 40), "logs --tail", "logs x --bogus", "",
	} {
		f.Add(s, "", "")
	}
	f.Add("logs", "service", "orders-service")
	f.Add("logs orders-service", "tail", "2000")
	f.Add("logs orders-service", "previous", "false")
	f.Add("scale orders-service", "replicas", "1e3")
	tbl := fuzzTable(f)
	f.Fuzz(func(t *testing.T, text, optName, optValue string) {
		checkTokenizer(t, text)
		cmd := bot.Command{Platform: "slack", Text: text}
		if optName != "" {
			cmd.Options = map[string]string{optName: optValue}
		}
		inv, perr := tbl.parse(cmd)
		if perr != nil {
			checkRefusal(t, inv, perr)
			return
		}
		checkInvocation(t, inv, cmd)
	})
}

// checkTokenizer: words are never empty unless quoted so, there are at
// most maxTokens, and quoting each again reads back the same words.
func checkTokenizer(t *testing.T, text string) {
	t.Helper()
	words, err := Tokenize(text)
	if err != nil {
		if len(err.Error()) > maxUsageMessage {
			t.Fatalf("tokenizer error of %d bytes", len(err.Error()))
		}
		return
	}
	if len(words) > maxTokens {
		t.Fatalf("%d words accepted", len(words))
	}
	quoted := make([]string, len(words))
	for i, w := range words {
		if !utf8.ValidString(w) {
			t.Fatalf("word %q is not UTF-8", w)
		}
		quoted[i] = requote(w)
	}
	again := strings.Join(quoted, " ")
	if len(again) > maxCommandText {
		return
	}
	back, err := Tokenize(again)
	if err != nil {
		t.Fatalf("%q: words %q quoted again as %q: %v", text, words, again, err)
	}
	if strings.Join(back, "\x00") != strings.Join(words, "\x00") || len(back) != len(words) {
		t.Fatalf("%q: words %q quoted again as %q read as %q", text, words, again, back)
	}
}

// requote writes a word so the tokenizer reads it back: each run without
// a double quote in double quotes, each double quote in single quotes.
func requote(w string) string {
	if w == "" {
		return `""`
	}
	var b strings.Builder
	for i, part := range strings.Split(w, `"`) {
		if i > 0 {
			b.WriteString(`'"'`)
		}
		if part != "" {
			b.WriteString(`"` + part + `"`)
		}
	}
	return b.String()
}

func checkRefusal(t *testing.T, inv bot.Invocation, perr *parseError) {
	t.Helper()
	switch {
	case perr.usage == nil && perr.answer == nil:
		t.Fatalf("refusal %q is neither a usage error nor an answer", perr.msg)
	case perr.usage != nil && (inv.Spec == nil || perr.usage.Spec != inv.Spec):
		t.Fatalf("usage error %q without its command", perr.msg)
	case perr.answer != nil && inv.Spec != nil:
		t.Fatalf("command %s refused with an answer instead of its usage: %q", inv.Spec.Name, perr.msg)
	case perr.msg == "" || len(perr.msg) > maxUsageMessage:
		t.Fatalf("refusal of %d bytes (at most %d): %.300q", len(perr.msg), maxUsageMessage, perr.msg)
	}
	if perr.answer != nil {
		if title, _, _ := strings.Cut(perr.answer.Title, "\n"); len(title) > maxUsageMessage {
			t.Fatalf("answer title of %d bytes: %.300q", len(title), title)
		}
		if !perr.answer.Private {
			t.Fatal("a refusal answered in public")
		}
	}
}

func checkInvocation(t *testing.T, inv bot.Invocation, cmd bot.Command) {
	t.Helper()
	spec := inv.Spec
	if spec == nil {
		t.Fatal("accepted without a command")
	}
	known := map[string]bool{}
	for _, a := range spec.Args {
		known[a.Name] = true
		v := inv.String(a.Name)
		if v == "" {
			// Absent, or (a string) given as "": only a string may be
			// either; a number, a duration or a flag is never "".
			if a.Required && a.Kind != bot.ArgString {
				t.Fatalf("%s: required %s missing from %q", spec.Name, a.Name, cmd.Text)
			}
			continue
		}
		if len(v) > maxArgValue {
			t.Fatalf("%s: %s of %d bytes accepted", spec.Name, a.Name, len(v))
		}
		checkArgValue(t, spec, a, v)
	}
	for name := range cmd.Options {
		if !known[name] {
			t.Fatalf("%s: unknown option %q accepted", spec.Name, name)
		}
	}
}

func checkArgValue(t *testing.T, spec *bot.CommandSpec, a bot.Arg, v string) {
	t.Helper()
	bounded := a.Min != 0 || a.Max != 0
	switch a.Kind {
	case bot.ArgInt:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("%s: %s = %q is not a whole number", spec.Name, a.Name, v)
		}
		if bounded && (n < a.Min || n > a.Max) {
			t.Fatalf("%s: %s = %d outside %d..%d", spec.Name, a.Name, n, a.Min, a.Max)
		}
		if int64(int(n)) != n {
			t.Fatalf("%s: %s = %d does not fit an int (Invocation.Int)", spec.Name, a.Name, n)
		}
	case bot.ArgDuration:
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("%s: %s = %q is not a duration", spec.Name, a.Name, v)
		}
		if bounded && (d < time.Duration(a.Min)*time.Second || d > time.Duration(a.Max)*time.Second) {
			t.Fatalf("%s: %s = %s outside %ds..%ds", spec.Name, a.Name, d, a.Min, a.Max)
		}
	case bot.ArgBool:
		if v != "true" {
			t.Fatalf("%s: flag %s = %q", spec.Name, a.Name, v)
		}
	}
}

// TestRefusalsQuoteLittle: a refusal quotes at most maxQuoted bytes of
// what was typed, however long that was (found by FuzzParseCommand: an
// option name Discord sent, or a 2,000-character word, came back whole).
func TestRefusalsQuoteLittle(t *testing.T) {
	tbl, err := NewTable("ops", commands.Table(commands.Deps{}, nil))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", maxArgValue)
	tests := []struct {
		name    string
		cmd     bot.Command
		wantMsg string
	}{
		{"unknown command", bot.Command{Text: strings.Repeat("y", 1900)}, `unknown command "` + strings.Repeat("y", maxQuoted-len("…")) + `…"`},
		{"unexpected word", bot.Command{Text: "whoami " + strings.Repeat("z", 1900)}, `unexpected "` + strings.Repeat("z", maxQuoted-len("…")) + `…"`},
		{"unknown flag", bot.Command{Text: "whoami --" + strings.Repeat("f", 1900)}, "unknown option --" + strings.Repeat("f", maxQuoted-len("…")) + "…"},
		{"unknown typed option", bot.Command{Text: "whoami", Options: map[string]string{strings.Repeat("o", 60000): "1"}}, "unknown option " + strings.Repeat("o", maxQuoted-len("…")) + "…"},
		{"not a number", bot.Command{Text: "incident show " + long}, `id: "` + strings.Repeat("x", maxQuoted-len("…")) + `…" is not a whole number`},
		{"not a duration", bot.Command{Text: "logs orders --since " + long}, `since: "` + strings.Repeat("x", maxQuoted-len("…")) + `…" is not a duration like 10m or 2h`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, perr := tbl.parse(tt.cmd)
			if perr == nil {
				t.Fatal("accepted")
			}
			got := perr.msg
			if perr.usage != nil {
				got = perr.usage.Msg // without the usage line
			}
			if got != tt.wantMsg {
				t.Errorf("refusal %.200q, want %q", got, tt.wantMsg)
			}
			if perr.answer != nil && len(perr.answer.Title) > maxUsageMessage+len("Commands (/ops help <command> for details)") {
				t.Errorf("answer title of %d bytes", len(perr.answer.Title))
			}
		})
	}
}
