package main

import (
	"context"
	"strings"
	"time"

	"github.com/shepherd-prm/shepherd/labeler/grade"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/redisq"
	"github.com/shepherd-prm/shepherd/server/metrics"
)

func init() {
	register("worker", command{summary: "run rollout tasks from the shared Redis queue on inference servers", run: runWorker})
}

type workerFlags struct {
	backend       backendFlags
	redis         redisFlags
	config        string
	logLevel      string
	metricsListen string
	pprof         bool
	tasks         int
	leaseTTL      time.Duration
	maxDeliveries int
	drainTimeout  time.Duration
	consumer      string
}

func runWorker(ctx context.Context, e env, args []string) error {
	var f workerFlags
	fs := newFlagSet(e, "worker", "--redis URL --backend URL|sim --model NAME [flags]")
	f.backend.register(fs)
	f.redis.register(fs, 0, "0: --tasks plus 16")
	registerConfigFlag(fs, &f.config)
	registerLogFlag(fs, &f.logLevel)
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "serve Prometheus metrics at http://ADDR/metrics (and /healthz); empty: off")
	registerPprofFlag(fs, &f.pprof)
	fs.IntVar(&f.tasks, "tasks", 0, "rollout tasks in flight at most (default --concurrency times the number of backends)")
	fs.DurationVar(&f.leaseTTL, "lease-ttl", redisq.DefaultLeaseTTL, "how long a task stays leased without a heartbeat before another worker takes it over")
	fs.IntVar(&f.maxDeliveries, "max-deliveries", rollout.DefaultMaxDeliveries, "deliveries of a task before it is dead-lettered and its step marked failed")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", rollout.DefaultDrainTimeout, "on SIGTERM/SIGINT: how long tasks in flight get to finish before they are handed back")
	fs.StringVar(&f.consumer, "consumer", "", "name of this worker in the consumer group, unique among live workers (default host-pid-random)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkPprof(f.pprof, f.metricsListen); err != nil {
		return err
	}
	log, err := newLogger(e, f.logLevel)
	if err != nil {
		return err
	}
	if f.leaseTTL < 100*time.Millisecond {
		return usageErrorf("--lease-ttl must be at least 100ms, got %v", f.leaseTTL)
	}
	m := metrics.New("worker")
	pool, stopBackends, err := f.backend.open(e, m.Observer())
	if err != nil {
		return err
	}
	defer stopBackends()
	tasks := f.tasks
	if tasks <= 0 {
		tasks = f.backend.concurrency * len(pool.Backends())
	}

	if f.redis.poolSize <= 0 {
		f.redis.poolSize = tasks + 16
	}
	rdb, where, err := f.redis.open(ctx, log)
	if err != nil {
		return err
	}
	defer rdb.Close()
	qopt := f.redis.queueOptions(f.leaseTTL, f.maxDeliveries)
	qopt.Consumer = f.consumer
	q := redisq.New(rdb, qopt)
	defer q.Close()

	m.CollectPool(pool)
	m.CollectQueue(q, []string{f.backend.model})
	stopMetrics, err := serveMetrics(ctx, f.metricsListen, f.pprof, m, log)
	if err != nil {
		return err
	}
	defer stopMetrics()

	w := &rollout.Worker{
		Queue: q, Generator: pool, Grader: grade.New(grade.Options{}), Model: f.backend.model,
		Concurrency: tasks, DrainTimeout: f.drainTimeout, Observer: m.Observer(),
		OnQueueError: func(err error) { log.Warn("reserving tasks failed; retrying", "error", err) },
	}
	backends := make([]string, 0, len(pool.Backends()))
	for _, b := range pool.Backends() {
		backends = append(backends, b.BaseURL)
	}
	log.Info("worker started", "model", f.backend.model, "backends", strings.Join(backends, ","), "redis", where,
		"group", q.Options().Group, "consumer", q.Options().Consumer, "tasks", tasks, "lease_ttl", f.leaseTTL)
	if err := w.Run(ctx); err != nil {
		return err
	}
	log.Info("worker stopped")
	return nil
}
