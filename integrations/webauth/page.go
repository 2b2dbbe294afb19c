package webauth

import (
	"errors"
	"html/template"
	"net/http"

	"go.uber.org/zap"

	"github.com/bakewise/chatops/bot"
)

// pageTemplate is the plain page of a refusal, a sign-out and its
// confirmation: no script, no style, nothing from another origin.
var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · chatops</title></head>
<body><main><h1>{{.Title}}</h1><p>{{.Message}}</p>
{{if .SignIn}}<p><a href="/ui/login">Sign in</a></p>{{end}}
{{if .SignOut}}<form method="post" action="/ui/logout"><button type="submit">Sign out</button></form>{{end}}
</main></body></html>
`))

type pageData struct {
	Title, Message  string
	SignIn, SignOut bool
}

func (a *Authenticator) page(w http.ResponseWriter, status int, title, msg string, signIn bool) {
	a.render(w, status, pageData{Title: title, Message: msg, SignIn: signIn})
}

func (a *Authenticator) render(w http.ResponseWriter, status int, d pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pageTemplate.Execute(w, d); err != nil {
		a.log.Debug("page not written", zap.Error(err))
	}
}

// logoutPage asks to confirm signing out: signing out is a POST, so that
// a link or an image on another site cannot sign anyone out.
func (a *Authenticator) logoutPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, http.StatusOK, pageData{Title: "Sign out", Message: "Sign out of the chatops console?", SignOut: true})
}

// logout clears the session (POST, same-origin only: http.CrossOriginProtection
// in front of it). Someone signed in by the proxy is told to sign out there.
func (a *Authenticator) logout(w http.ResponseWriter, r *http.Request) {
	if a.proxy != nil {
		if v, ok := a.proxy.viewer(r, peer(r)); ok {
			a.page(w, http.StatusOK, "Signed in by the proxy", "You are signed in by the proxy in front of the console ("+v.Name+"): sign out there.", false)
			return
		}
	}
	var s session
	err := a.cookies.read(r, sessionCookie, &s, a.now())
	a.cookies.clear(w, sessionCookie)
	if err == nil {
		_ = a.audit(r.Context(), bot.Identity{Platform: s.Platform, UserID: s.Subject, Name: s.Name}, "ui sign-out", "ok", "")
	} else if !errors.Is(err, http.ErrNoCookie) {
		a.log.Info("sign-out with an invalid session cookie", zap.String("reason", cookieReason(err)))
	}
	a.page(w, http.StatusOK, "Signed out", "You are signed out.", a.oidc != nil)
}
