package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/bakewise/chatops/integrations/discord/discordstandin"
	"github.com/bakewise/chatops/integrations/slack/slackstandin"
	"github.com/bakewise/chatops/test/harness"
	"github.com/jackc/pgx/v5/pgxpool"
)

// soak is one run: the replicas, the stand-ins, the database and what was
// measured.
type soak struct {
	cfg  config
	res  Result
	prog *harness.Program
	work string

	slack   *slackstandin.Server
	discord *discordstandin.Server
	db      *harness.Database
	pool    *pgxpool.Pool
	// client sends the webhooks, to whichever replica.
	client *http.Client

	mu       sync.Mutex
	replicas [2]*replica
	injected map[string]map[string]int
	rng      *rand.Rand
}

// replica is one of the two `chatops serve` processes: its configuration
// (address, log) stays, its process changes at each restart.
type replica struct {
	index  int
	cfg    *harness.BotConfig
	bot    *harness.Bot
	starts int
}

func (s *soak) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logf("FAILURE: %s", msg)
	s.res.Failures = append(s.res.Failures, msg)
}

func (s *soak) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logf("note: %s", msg)
	s.res.Notes = append(s.res.Notes, msg)
}

func (s *soak) run(ctx context.Context) int {
	c := s.cfg
	s.prog = harness.NewProgram("soak", logf)
	defer s.prog.Close() // teardown closes it; this is for a panic
	s.rng = rand.New(rand.NewPCG(uint64(c.seed), 0x50a6))
	s.res = Result{
		Seed: c.seed, Failures: []string{},
		Machine: harness.Machine() + "; both replicas, PostgreSQL, the stand-ins and this tool on the same machine, all traffic on 127.0.0.1",
		Params: Params{DurationS: c.duration.Seconds(), Rate: c.rate, Groups: c.groups, MaxAlerts: c.maxAlerts,
			LifeS:     fmt.Sprintf("%g–%g", c.lifeMin.Seconds(), c.lifeMax.Seconds()),
			DeadlineS: c.deadline.Seconds(), KillEveryS: fmt.Sprintf("%g–%g", c.killMin.Seconds(), c.killMax.Seconds()),
			Fail429: c.fail429, Fail5xx: c.fail5xx, ConvergeTimeoutS: c.convergeTimeout.Seconds()},
	}
	work, err := s.prog.WorkDir()
	if err != nil {
		logf("work dir: %v", err)
		return 2
	}
	s.work, s.res.WorkDir = work, work
	defer func() { s.res.WorkDir = s.prog.KeepOrRemove(work, len(s.res.Failures) == 0, c.keep) }()

	if err := s.prog.Run(func() error { return s.setup(ctx) }); err != nil {
		s.res.Failures = append(s.res.Failures, "setup: "+err.Error())
		logf("setup: %v", err)
		s.teardown()
		return 2
	}
	w := s.send(ctx)
	s.checkStore(ctx, w)
	s.converge(ctx, w)
	s.checkThreads(ctx)
	s.teardown()
	if len(s.res.Failures) > 0 {
		return 1
	}
	return 0
}

// setup builds the bot once, starts both stand-ins with their faults, makes
// the database and starts both replicas on it.
func (s *soak) setup(ctx context.Context) error {
	c := s.cfg
	if c.bin == "" {
		logf("building the bot: go build -o %s ./cmd/chatops", filepath.Join(s.work, "chatops"))
	}
	bin, err := harness.Chatops(ctx, c.bin, s.work)
	if err != nil {
		return err
	}
	s.slack = slackstandin.New()
	s.prog.Cleanup(s.slack.Close)
	s.discord = discordstandin.New()
	s.prog.Cleanup(s.discord.Close)
	s.injected = map[string]map[string]int{"slack": {}, "discord": {}}
	s.slack.SetFaultFunc(func(method string) slackstandin.Fault {
		switch method {
		case slackstandin.MethodPostMessage, slackstandin.MethodUpdate, slackstandin.MethodHistory:
		default:
			return nil
		}
		switch s.roll("slack") {
		case "429":
			return slackstandin.RateLimit{RetryAfter: time.Second}
		case "5xx":
			return slackstandin.ServerError{}
		}
		return nil
	})
	s.discord.SetFaultFunc(func(route string) discordstandin.Fault {
		switch route {
		case discordstandin.RouteCreateMessage, discordstandin.RouteEditMessage, discordstandin.RouteStartThread,
			discordstandin.RouteListMessages, discordstandin.RouteGetMessage:
		default:
			return nil
		}
		switch s.roll("discord") {
		case "429":
			return discordstandin.RateLimit{RetryAfter: time.Second}
		case "5xx":
			return discordstandin.ServerError{}
		}
		return nil
	})

	s.db = harness.NewDatabase(s.prog, c.pgURL, "chatops_soak_")
	s.pool, err = pgxpool.New(ctx, s.db.URL)
	if err != nil {
		return fmt.Errorf("connect to the soak's database: %w", err)
	}
	s.prog.Cleanup(s.pool.Close) // before the database is dropped
	s.client = &http.Client{Timeout: requestTimeout, Transport: &http.Transport{
		MaxIdleConnsPerHost: c.groups + 8, IdleConnTimeout: time.Minute, Proxy: nil,
	}}
	webhookToken, apiToken := "soak-wh-"+harness.RandHex(12), "soak-api-"+harness.RandHex(12)
	cfgPath := filepath.Join(s.work, "chatops.yaml")
	for i := range s.replicas {
		bc := &harness.BotConfig{
			Binary: bin, Store: harness.PostgresStore(s.db), Addr: harness.FreeAddr(s.prog),
			WebhookToken: webhookToken, APIToken: apiToken, Slack: s.slack, Discord: s.discord,
			LogPath: filepath.Join(s.work, fmt.Sprintf("replica-%d.log", i)),
		}
		bc.WriteConfig(s.prog, s.work, fmt.Sprintf(botYAML, c.deadline, 2*c.deadline, 3*c.deadline))
		bc.ConfigPath = cfgPath
		s.replicas[i] = &replica{index: i, cfg: bc}
		s.start(s.replicas[i])
		logf("replica %d: pid %d on %s (log %s)", i, s.replicas[i].bot.Process.Pid(), bc.Addr, bc.LogPath)
	}
	return nil
}

// roll decides one stand-in call's fault: "429", "5xx" or "".
func (s *soak) roll(platform string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.rng.Float64()
	kind := ""
	switch {
	case x < s.cfg.fail429:
		kind = "429"
	case x < s.cfg.fail429+s.cfg.fail5xx:
		kind = "5xx"
	default:
		return ""
	}
	s.injected[platform][kind]++
	return kind
}

// start starts r's process and waits for /readyz; the harness fails the
// program (inside Run) if it exits first or never gets ready.
func (s *soak) start(r *replica) {
	r.bot = harness.StartBot(s.prog, r.cfg)
	r.starts++
}

func (s *soak) replica(i int) *replica {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replicas[i]
}

// chaos SIGKILLs a replica chosen at random every killMin..killMax until
// ctx ends, and restarts it at once on the same database.
func (s *soak) chaos(ctx context.Context, start time.Time) {
	c := s.cfg
	if c.killMax == 0 {
		return
	}
	for {
		s.mu.Lock()
		wait := c.killMin + time.Duration(s.rng.Int64N(int64(c.killMax-c.killMin)+1))
		i := s.rng.IntN(len(s.replicas))
		s.mu.Unlock()
		if harness.Sleep(ctx, wait) != nil {
			return
		}
		r := s.replica(i)
		if r.bot.Process.Exited() {
			s.fail("replica %d exited on its own before its kill: %v", i, r.bot.Process.Err())
		}
		killedAt := time.Now()
		r.bot.Process.Kill()
		err := s.prog.Run(func() error { s.start(r); return nil })
		k := Kill{AtS: killedAt.Sub(start).Seconds(), Replica: i, RestartMS: float64(time.Since(killedAt).Microseconds()) / 1000}
		s.mu.Lock()
		s.res.Kills = append(s.res.Kills, k)
		s.mu.Unlock()
		if err != nil {
			s.fail("replica %d did not come back after its SIGKILL: %v", i, err)
			return
		}
		logf("killed replica %d (SIGKILL) at %.1f s; ready again as pid %d after %.0f ms", i, k.AtS, r.bot.Process.Pid(), k.RestartMS)
	}
}

// teardown stops both replicas (SIGTERM, expecting exit 0), reads their
// logs, then closes the stand-ins and drops the database. It may be called
// more than once.
func (s *soak) teardown() {
	if s.res.Replicas == nil {
		for _, r := range s.replicas {
			if r == nil || r.bot == nil {
				continue
			}
			rr := ReplicaResult{Starts: r.starts, PeakRSSMiB: r.bot.Process.PeakRSSMiB(), LogPath: r.cfg.LogPath}
			e := r.bot.Process.Terminate(stopTimeout)
			rr.Exit = e.How
			if e.Err != nil {
				s.fail("replica %d: %v", r.index, e.Err)
			}
			l := harness.ReadBotLog(r.cfg.LogPath)
			rr.LogLevels, rr.LogSamples = l.Levels, l.Samples
			s.res.Replicas = append(s.res.Replicas, rr)
		}
	}
	if s.injected != nil {
		s.mu.Lock()
		s.res.Injected = s.injected
		s.mu.Unlock()
	}
	s.prog.Close()
}
