package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
)

// HTTP server limits: slow or huge requests must not tie the bot up. Every
// listener gets them, the metrics one too.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

// listener is one HTTP server and the socket it serves.
type listener struct {
	name string // "http" or "metrics", for the logs
	srv  *http.Server
	ln   net.Listener
}

// newHTTPServer serves h within the limits above, logging through log.
func newHTTPServer(h http.Handler, log *zap.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          zap.NewStdLog(log),
	}
}

// listenHTTP opens the main listener on addr and, when metricsAddr is set,
// the metrics listener serving metrics. If one cannot open, none stays
// open.
func listenHTTP(addr string, main http.Handler, metricsAddr string, metrics http.Handler, log *zap.Logger) ([]listener, error) {
	want := []struct {
		name, addr string
		h          http.Handler
	}{{"http", addr, main}}
	if metricsAddr != "" {
		want = append(want, struct {
			name, addr string
			h          http.Handler
		}{"metrics", metricsAddr, metrics})
	}
	var out []listener
	for _, w := range want {
		ln, err := net.Listen("tcp", w.addr)
		if err != nil {
			for _, l := range out {
				_ = l.ln.Close()
			}
			return nil, fmt.Errorf("%s listener: %w", w.name, err)
		}
		l := log.With(zap.String("component", w.name))
		out = append(out, listener{name: w.name, srv: newHTTPServer(w.h, l), ln: ln})
	}
	return out, nil
}

// serveHTTP serves every listener in g. When ctx ends, all of them stop
// accepting at once and finish their in-flight requests within timeout;
// then stops run (the chat connections) within what is left of it.
func serveHTTP(ctx context.Context, g *errgroup.Group, ls []listener, timeout time.Duration, stops []func(context.Context) error, log *zap.Logger) {
	for _, l := range ls {
		g.Go(func() error {
			if err := l.srv.Serve(l.ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("%s listener: %w", l.name, err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-ctx.Done()
		log.Info("shutting down: finishing in-flight requests", zap.String("component", "http"))
		sctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		errs := make([]error, len(ls))
		var wg sync.WaitGroup
		for i, l := range ls {
			wg.Go(func() {
				if err := l.srv.Shutdown(sctx); err != nil {
					errs[i] = fmt.Errorf("%s listener: %w", l.name, err)
				}
			})
		}
		wg.Wait()
		err := errors.Join(errs...)
		for _, stop := range stops {
			if serr := stop(sctx); serr != nil && err == nil {
				err = serr
			}
		}
		return err
	})
}
