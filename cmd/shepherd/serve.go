package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/redisq"
	"github.com/shepherd-prm/shepherd/server"
	"github.com/shepherd-prm/shepherd/server/metrics"
)

func init() {
	register("serve", command{summary: "serve the gRPC labeling API over a shared Redis (run workers next to it)", run: runServe})
}

type serveFlags struct {
	daemonFlags
	score  serveScoreFlags
	listen string

	tlsCert, tlsKey, tlsClientCA string
	tokensFile, tokens           string
	models                       string

	maxN, maxProblems, maxSolutions, maxSteps, maxTokens int
	maxQueuedTasks, maxMessageBytes, maxRunningJobs      int
	window                                               int
	jobTTL, jobLeaseTTL, shutdownTimeout                 time.Duration
	consumerIdleTTL                                      time.Duration
	id                                                   string
	routeLoadBound                                       float64
}

func runServe(ctx context.Context, e env, args []string) error {
	f, err := parseServeFlags(e, args)
	if err != nil {
		return err
	}
	log := f.log
	tlsConf, err := f.tlsConfig()
	if err != nil {
		return err
	}
	tokens, err := f.loadTokens()
	if err != nil {
		return err
	}
	models := splitList(f.models)

	rdb, where, err := f.redis.open(ctx, log)
	if err != nil {
		return err
	}
	defer rdb.Close()
	scorer, stopScorer, err := f.score.scorer()
	if err != nil {
		return err
	}
	defer stopScorer()
	m := metrics.New("serve")
	q := f.redis.newQueue(rdb, queueSettings{loadBound: f.routeLoadBound}) // the server closes it
	opt := f.limits()
	opt.Scorer, opt.Redis, opt.WorkQueue, opt.Tokens, opt.TLS, opt.Models, opt.Logger = scorer, rdb, q, tokens, tlsConf, models, log
	opt.OnRPC, opt.Observer, opt.OnJobFinished = m.OnRPC, m.Observer(), m.JobFinished
	s, err := server.New(opt)
	if err != nil {
		return usageErrorf("%v", err)
	}
	m.CollectJobs(s)
	if len(models) > 0 {
		m.CollectQueue(q, models)
	}

	return f.listenAndServe(ctx, s, m, log, len(tokens) == 0, "redis", where, "tls", tlsConf != nil, "mtls", f.tlsClientCA != "", "tokens", len(tokens), "group", f.redis.group)
}

// limits are the server options the flags set: the request limits and
// the job lifetimes.
func (f *serveFlags) limits() server.Options {
	return server.Options{
		MaxN: f.maxN, MaxProblems: f.maxProblems, MaxSolutionsPerProblem: f.maxSolutions, MaxSteps: f.maxSteps,
		MaxTokens: f.maxTokens, MaxMessageBytes: f.maxMessageBytes, MaxQueuedTasks: f.maxQueuedTasks,
		JobTTL: f.jobTTL, LeaseTTL: f.jobLeaseTTL, MaxRunningJobs: f.maxRunningJobs, Window: f.window,
		ShutdownTimeout: f.shutdownTimeout, ID: f.id, ConsumerIdleTTL: f.consumerIdleTTL,
	}
}

// listenAndServe listens on --listen, serves the metrics on
// --metrics-listen and serves s until ctx ends, warning first when
// authentication is off; logged says what the start-up log line reports
// besides the address.
func (f *serveFlags) listenAndServe(ctx context.Context, s *server.Server, m *metrics.Metrics, log *slog.Logger, authOff bool, logged ...any) error {
	lis, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	stopMetrics, err := serveMetrics(ctx, f.metricsListen, f.pprof, m, log)
	if err != nil {
		lis.Close()
		return err
	}
	defer stopMetrics()
	if authOff {
		log.Warn("authentication is off: any client may submit jobs (set --tokens-file or SHEPHERD_TOKENS)")
	}
	log.Info("serving shepherd", append([]any{"addr", lis.Addr().String()}, logged...)...)
	if err := s.Serve(ctx, lis); err != nil {
		return err
	}
	log.Info("stopped serving")
	return nil
}

// parseServeFlags parses and checks serve's flags.
func parseServeFlags(e env, args []string) (*serveFlags, error) {
	f := &serveFlags{}
	fs := newFlagSet(e, "serve", "--listen ADDR --redis URL [flags]")
	fs.StringVar(&f.listen, "listen", ":7070", "gRPC listen address, host:port")
	f.daemonFlags.register(fs, 256, "each open label stream and running job holds one")
	f.score.register(fs)
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM server certificate; with --tls-key turns TLS on")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM key of --tls-cert")
	fs.StringVar(&f.tlsClientCA, "tls-client-ca", "", "PEM CA bundle: clients must present a certificate it signed (mutual TLS)")
	fs.StringVar(&f.tokensFile, "tokens-file", "", "file of accepted bearer tokens, one per line ('#' comments); with --tokens, both count")
	fs.StringVar(&f.tokens, "tokens", "", "accepted bearer tokens, comma-separated; prefer SHEPHERD_TOKENS or --tokens-file (command lines are visible to other users). No token: authentication off")
	fs.StringVar(&f.models, "models", "", "comma-separated models jobs may name (those the workers serve), whose queue depth and lag the metrics report; empty: any model, no queue metrics")
	fs.IntVar(&f.maxN, "max-n", server.DefaultMaxN, "largest n (rollouts per step) a job may ask for")
	fs.IntVar(&f.maxProblems, "max-problems", server.DefaultMaxProblems, "problems per request at most")
	fs.IntVar(&f.maxSolutions, "max-solutions-per-problem", server.DefaultMaxSolutionsPerProblem, "solutions per problem at most")
	fs.IntVar(&f.maxSteps, "max-steps", server.DefaultMaxStepsCap, "largest max_steps (steps per solution) a job may ask for")
	fs.IntVar(&f.maxTokens, "max-tokens", server.DefaultMaxTokensCap, fmt.Sprintf("a cap: the largest max_tokens (tokens per rollout) a job may ask for; a job that names none gets %d (label --max-tokens is the value a job asks for)", server.DefaultJobMaxTokens))
	fs.IntVar(&f.maxQueuedTasks, "max-queued-tasks", server.DefaultMaxQueuedTasks, "refuse new jobs (RESOURCE_EXHAUSTED) while a model's work stream holds this many tasks; -1: no bound")
	fs.IntVar(&f.maxMessageBytes, "max-message-bytes", server.DefaultMaxMessageBytes, "largest request message in bytes")
	fs.IntVar(&f.maxRunningJobs, "max-running-jobs", 0, "jobs this server schedules at once; 0: no bound (others wait QUEUED for a server with room)")
	fs.IntVar(&f.window, "window", 0, fmt.Sprintf("solutions a job labels at once at most (0: as many as keep the registered workers busy, up to %d; %d if no worker registered)", rollout.DefaultMaxWindow, server.DefaultWindow))
	fs.Float64Var(&f.routeLoadBound, "route-load-bound", redisq.DefaultLoadBound, "how far a registered worker's backlog may exceed its capacity's share before its problems' tasks spill to the next worker (1: strict balance; negative: never spill)")
	fs.DurationVar(&f.jobTTL, "job-ttl", server.DefaultJobTTL, "how long a finished job's records and state stay readable")
	fs.DurationVar(&f.jobLeaseTTL, "job-lease-ttl", server.DefaultLeaseTTL, "how soon another server adopts the jobs of a server that crashed")
	fs.DurationVar(&f.consumerIdleTTL, "consumer-idle-ttl", server.DefaultConsumerIdleTTL, "delete a consumer of the workers' group (a stopped or dead worker) once it held no task and read nothing for this long")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout, "on SIGTERM/SIGINT: how long open calls get to finish before they are cut")
	fs.StringVar(&f.id, "id", "", "name of this server in job leases and logs (default host-pid-random)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := f.daemonFlags.check(e); err != nil {
		return nil, err
	}
	if f.routeLoadBound >= 0 && f.routeLoadBound < 1 {
		return nil, usageErrorf("--route-load-bound must be at least 1 (or negative for no bound), got %v", f.routeLoadBound)
	}
	return f, nil
}

func (f *serveFlags) tlsConfig() (*tls.Config, error) {
	switch {
	case f.tlsCert == "" && f.tlsKey == "" && f.tlsClientCA == "":
		return nil, nil
	case f.tlsCert == "" || f.tlsKey == "":
		return nil, usageErrorf("TLS needs both --tls-cert and --tls-key (--tls-client-ca adds mutual TLS)")
	}
	return server.TLSConfig(f.tlsCert, f.tlsKey, f.tlsClientCA)
}

// loadTokens is the union of --tokens-file and --tokens.
func (f *serveFlags) loadTokens() ([]string, error) {
	var tokens []string
	if f.tokensFile != "" {
		t, err := server.LoadTokens(f.tokensFile)
		if err != nil {
			return nil, fmt.Errorf("--tokens-file: %w", err)
		}
		tokens = t
	}
	return append(tokens, splitList(f.tokens)...), nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// metricsHandler is what the metrics listener serves at /metrics: the
// process's own registry (package server/metrics).
func metricsHandler(m *metrics.Metrics) http.Handler { return m.Handler() }

// serveMetrics serves /metrics and /healthz on addr until ctx ends or stop
// is called, and the profiler at /debug/pprof/ when withPprof is set; an
// empty addr serves nothing. The listener is bound before
// it returns, so a bad address fails the command at start.
//
// health, when given, decides /healthz: 503 with its error's text while it
// returns one.
func serveMetrics(ctx context.Context, addr string, withPprof bool, m *metrics.Metrics, log *slog.Logger, health ...func() error) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metricsHandler(m))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		for _, h := range health {
			if err := h(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", "error", err)
		}
	}()
	log.Info("serving metrics", "url", "http://"+lis.Addr().String()+"/metrics")
	stopCtx, cancel := context.WithCancel(ctx)
	go func() {
		<-stopCtx.Done()
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	}()
	return func() { cancel(); <-done }, nil
}
