package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"text/template"

	"github.com/bakewise/chatops/bot"
)

// asset is one embedded file as served.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

// loadAssets reads the embedded assets. The style sheet is a template
// filled with chat's severity colours (bot.Color), so the console and the
// threads never disagree on them.
func loadAssets() (map[string]asset, error) {
	names, err := fs.Glob(files, "assets/*")
	if err != nil {
		return nil, err
	}
	out := map[string]asset{}
	for _, n := range names {
		body, err := fs.ReadFile(files, n)
		if err != nil {
			return nil, err
		}
		name := path.Base(n)
		if strings.HasSuffix(name, ".tmpl") {
			if body, err = fillColours(name, body); err != nil {
				return nil, err
			}
			name = strings.TrimSuffix(name, ".tmpl")
		}
		ctype := "application/octet-stream"
		switch path.Ext(name) {
		case ".css":
			ctype = "text/css; charset=utf-8"
		case ".js":
			ctype = "text/javascript; charset=utf-8"
		case ".svg":
			ctype = "image/svg+xml"
		}
		sum := sha256.Sum256(body)
		out[name] = asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return out, nil
}

func fillColours(name string, src []byte) ([]byte, error) {
	t, err := template.New(name).Parse(string(src))
	if err != nil {
		return nil, err
	}
	colour := func(c int) string { return fmt.Sprintf("#%06X", c&0xFFFFFF) }
	data := map[string]string{"resolved": colour(bot.Color(bot.P3, bot.IncidentResolved))}
	for _, s := range []bot.Severity{bot.P0, bot.P1, bot.P2, bot.P3} {
		data[s.String()] = colour(bot.Color(s, bot.IncidentOpen))
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (c *Console) asset(w http.ResponseWriter, r *http.Request) {
	a, ok := c.assets[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(a.body) //nolint:errcheck // the client went away
}
