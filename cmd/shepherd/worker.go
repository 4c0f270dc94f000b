package main

import (
	"context"
	"fmt"
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
	backendWait   time.Duration
	affinity      bool
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
	fs.DurationVar(&f.backendWait, "backend-wait", 0, "how long to wait, taking no tasks, for a usable backend when none is left before exiting with status 4; 0 waits until stopped")
	fs.BoolVar(&f.affinity, "affinity", true, "register with the queue so that every task of a problem is routed to one worker (whose backends cache the problem's prefixes); false: take any task")
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
	if f.backendWait < 0 {
		return usageErrorf("--backend-wait must not be negative, got %v", f.backendWait)
	}
	m := metrics.New("worker")
	f.backend.onState = func(backend, reason string) {
		if reason != "" {
			log.Warn("backend out of rotation; its tasks go to other backends or workers", "backend", backend, "reason", reason)
		} else {
			log.Info("backend back in rotation", "backend", backend)
		}
	}
	pool, stopBackends, err := f.backend.open(e, m.Observer())
	if err != nil {
		return err
	}
	defer stopBackends()
	// A worker that cannot serve the model must not take a single task:
	// check every backend before joining the queue.
	if err := f.backend.probe(ctx, pool, false, func(error) {}); err != nil {
		log.Error("no usable backend; not taking tasks", "error", err)
		return err
	}
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
	q := newQueue(rdb, qopt)
	defer q.Close()

	// Registering makes schedulers route each problem's tasks to one
	// worker, whose pool keeps them on the backend caching the problem.
	if f.affinity {
		if err := q.Register(ctx, f.backend.model, pool.Capacity()); err != nil {
			log.Warn("registering the worker failed; retrying in the background", "error", err)
		}
	}

	m.CollectPool(pool)
	m.CollectQueue(q, []string{f.backend.model})
	w := &rollout.Worker{
		Queue: q, Generator: pool, Grader: grade.New(grade.Options{}), Model: f.backend.model,
		Concurrency: tasks, DrainTimeout: f.drainTimeout, Observer: m.Observer(),
		OnQueueError:     func(err error) { log.Warn("reserving tasks failed; retrying", "error", err) },
		NoBackendTimeout: f.backendWait,
		OnBackendHealth: func(usable bool, reasons []string) {
			// A registered worker steps out of routing while it cannot
			// work, so that its problems go to workers that can.
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if usable {
				log.Info("a backend is usable again; taking tasks")
				if err := q.Rejoin(rctx, f.backend.model); err != nil {
					log.Warn("registering the worker again failed; the heartbeat retries", "error", err)
				}
			} else {
				log.Error("no usable backend; taking no tasks until one is back", "reasons", strings.Join(reasons, "; "))
				if err := q.Withdraw(rctx, f.backend.model); err != nil {
					log.Warn("withdrawing the worker's registration failed", "error", err)
				}
			}
		},
	}
	stopMetrics, err := serveMetrics(ctx, f.metricsListen, f.pprof, m, log, func() error {
		if !w.Usable() {
			return fmt.Errorf("no usable backend: %s", strings.Join(pool.OutReasons(), "; "))
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer stopMetrics()

	backends := make([]string, 0, len(pool.Backends()))
	for _, b := range pool.Backends() {
		backends = append(backends, b.BaseURL)
	}
	log.Info("worker started", "model", f.backend.model, "backends", strings.Join(backends, ","), "redis", where,
		"group", qopt.Group, "consumer", q.Consumer(), "tasks", tasks, "lease_ttl", f.leaseTTL)
	if err := w.Run(ctx); err != nil {
		return err
	}
	log.Info("worker stopped")
	return nil
}
