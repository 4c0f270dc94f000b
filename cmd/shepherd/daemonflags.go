package main

import (
	"flag"
	"log/slog"
)

// daemonFlags are the flags of the long-running commands, serve and
// worker: the Redis they share, the --config file, the log level and the
// metrics listener.
type daemonFlags struct {
	redis         redisFlags
	config        string
	logLevel      string
	metricsListen string
	pprof         bool

	log *slog.Logger // at --log-level on stderr, made by check
}

// register adds the flags; poolSize and poolDoc are --redis-pool-size's
// default and what it says of it.
func (d *daemonFlags) register(fs *flag.FlagSet, poolSize int, poolDoc string) {
	d.redis.register(fs, poolSize, poolDoc)
	registerConfigFlag(fs, &d.config)
	fs.StringVar(&d.logLevel, "log-level", "info", "log level on stderr: debug, info, warn or error")
	fs.StringVar(&d.metricsListen, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics (and /healthz); empty: off")
	fs.BoolVar(&d.pprof, "pprof", false, "also serve the Go profiler (net/http/pprof) at /debug/pprof/ on --metrics-listen, for diagnosing performance; keep that address private")
}

// check checks the flags and makes the logger, which logs as text on the
// command's stderr.
func (d *daemonFlags) check(e env) error {
	if d.pprof && d.metricsListen == "" {
		return usageErrorf("--pprof needs --metrics-listen")
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(d.logLevel)); err != nil {
		return usageErrorf("--log-level: %q is not debug, info, warn or error", d.logLevel)
	}
	d.log = slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: l}))
	return nil
}
