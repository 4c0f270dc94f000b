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

func (d *daemonFlags) check() error {
	if d.pprof && d.metricsListen == "" {
		return usageErrorf("--pprof needs --metrics-listen")
	}
	return nil
}

// logger logs as text on the command's stderr at --log-level.
func (d *daemonFlags) logger(e env) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(d.logLevel)); err != nil {
		return nil, usageErrorf("--log-level: %q is not debug, info, warn or error", d.logLevel)
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: l})), nil
}
