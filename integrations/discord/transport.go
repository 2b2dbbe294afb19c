package discord

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/bwmarrin/discordgo"
)

// discordgo builds its endpoint URLs into package variables at init, so the
// only way to reach another API base (a proxy, API v10, a test stand-in) is
// to rewrite each request on its way out.
type transport struct {
	base http.RoundTripper
	// from is discordgo's API base; to, when set, replaces it.
	from string
	to   *url.URL
}

func newTransport(apiURL string) (*transport, error) {
	t := &transport{base: http.DefaultTransport.(*http.Transport).Clone(), from: discordgo.EndpointAPI}
	if apiURL != discordgo.EndpointAPI {
		u, err := url.Parse(apiURL)
		if err != nil {
			return nil, err
		}
		t.to = u
	}
	return t, nil
}

var errAbandoned = errors.New("call abandoned before it was sent")

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	st, _ := req.Context().Value(callStateKey{}).(*callState)
	if st != nil && !st.phase.CompareAndSwap(phasePending, phaseSent) {
		// The caller gave up while discordgo was still waiting on its
		// route bucket: never send a request nobody is waiting for.
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errAbandoned
	}
	if t.to != nil {
		s := req.URL.String()
		if strings.HasPrefix(s, t.from) {
			u := *t.to
			rest, query, _ := strings.Cut(strings.TrimPrefix(s, t.from), "?")
			u.Path = strings.TrimSuffix(t.to.Path, "/") + "/" + rest
			u.RawPath = ""
			u.RawQuery = query
			req = req.Clone(req.Context())
			req.URL = &u
			req.Host = ""
		}
	}
	resp, err := t.base.RoundTrip(req)
	if st != nil && resp != nil {
		st.status = resp.StatusCode
		st.retryAfter = resp.Header.Get("Retry-After")
		st.global = resp.Header.Get("X-RateLimit-Global") != ""
	}
	return resp, err
}

// callState follows one API call from our side: whether its request left,
// and what came back in headers discordgo does not hand us.
type callState struct {
	phase atomic.Int32
	// Written by RoundTrip before the call returns; read by the caller
	// only after it did.
	status     int
	retryAfter string
	global     bool
}

const (
	phasePending int32 = iota
	phaseSent
	phaseAbandoned
)

type callStateKey struct{}

func withCallState(ctx context.Context, st *callState) context.Context {
	return context.WithValue(ctx, callStateKey{}, st)
}
