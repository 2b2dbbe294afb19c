package console

import (
	"bytes"
	"strings"
	"testing"
)

// The draft escapes what it quotes; the renderer is the second guard: raw
// HTML and script links in Markdown never become markup.
func TestMarkdownDropsRawHTMLAndScriptLinks(t *testing.T) {
	var b bytes.Buffer
	src := "# t\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[run](javascript:alert(3)) ![i](javascript:alert(4))\n"
	if err := markdown.Convert([]byte(src), &b); err != nil {
		t.Fatal(err)
	}
	out := strings.ToLower(b.String())
	for _, bad := range []string{"<script", "<img src=x", "onerror", "javascript:"} {
		if strings.Contains(out, bad) {
			t.Errorf("rendered %q contains %q", out, bad)
		}
	}
}

func TestWebURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://grafana/d/x?a=1": "https://grafana/d/x?a=1",
		"http://prom:9090/graph":  "http://prom:9090/graph",
		"javascript:alert(1)":     "",
		" JavaScript:alert(1)":    "",
		"data:text/html,<script>": "",
		"//evil.example/x":        "",
		"/relative":               "",
		"https:///no-host":        "",
	} {
		if got := webURL(in); got != want {
			t.Errorf("webURL(%q) = %q, want %q", in, got, want)
		}
	}
}
