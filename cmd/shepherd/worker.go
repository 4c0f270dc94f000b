package main

import (
	"context"
	"fmt"
	"log/slog"
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
	daemonFlags
	backend       backendFlags
	tasks         int
	leaseTTL      time.Duration
	maxDeliveries int
	drainTimeout  time.Duration
	consumer      string
	backendWait   time.Duration
	affinity      bool
}

func runWorker(ctx context.Context, e env, args []string) error {
	f, err := parseWorkerFlags(e, args)
	if err != nil {
		return err
	}
	log := f.log
	m := metrics.New("worker")
	pool, stopBackends, err := f.openBackends(ctx, e, log, m)
	if err != nil {
		return err
	}
	defer stopBackends()
	tasks := f.taskLimit(pool)

	if f.redis.poolSize <= 0 {
		f.redis.poolSize = tasks + 16
	}
	rdb, where, err := f.redis.open(ctx, log)
	if err != nil {
		return err
	}
	defer rdb.Close()
	q := f.redis.newQueue(rdb, queueSettings{leaseTTL: f.leaseTTL, maxDeliveries: f.maxDeliveries, consumer: f.consumer})
	defer q.Close()

	// Registering makes schedulers route each problem's tasks to one
	// worker, whose pool keeps them on the backend caching the problem.
	if f.affinity {
		if err := q.Register(ctx, f.backend.model, pool.Capacity()); err != nil {
			log.Warn("registering the worker failed; retrying in the background", "error", err)
		}
	}

	w := f.newWorker(ctx, pool, q, m, tasks)
	stopMetrics, err := f.serveWorkerMetrics(ctx, m, w, pool, q)
	if err != nil {
		return err
	}
	defer stopMetrics()

	log.Info("worker started", "model", f.backend.model, "backends", backendURLs(pool), "redis", where,
		"group", f.redis.group, "consumer", q.Consumer(), "tasks", tasks, "lease_ttl", f.leaseTTL)
	if err := w.Run(ctx); err != nil {
		return err
	}
	log.Info("worker stopped")
	return nil
}

// taskLimit is --tasks, by default --concurrency for each backend.
func (f *workerFlags) taskLimit(pool *rollout.Pool) int {
	if f.tasks > 0 {
		return f.tasks
	}
	return f.backend.concurrency * len(pool.Backends())
}

// newWorker is the worker running tasks of q on pool, at most tasks at
// once.
func (f *workerFlags) newWorker(ctx context.Context, pool *rollout.Pool, q sharedQueue, m *metrics.Metrics, tasks int) *rollout.Worker {
	log := f.log
	return &rollout.Worker{
		Queue: q, Generator: pool, Grader: grade.New(grade.Options{}), Model: f.backend.model,
		Concurrency: tasks, DrainTimeout: f.drainTimeout, Observer: m.Observer(),
		OnQueueError:     func(err error) { log.Warn("reserving tasks failed; retrying", "error", err) },
		NoBackendTimeout: f.backendWait,
		OnBackendHealth:  f.onBackendHealth(ctx, log, q),
	}
}

// serveWorkerMetrics collects the pool's and the queue's gauges and
// serves --metrics-listen, ready while w has a usable backend.
func (f *workerFlags) serveWorkerMetrics(ctx context.Context, m *metrics.Metrics, w *rollout.Worker, pool *rollout.Pool, q sharedQueue) (func(), error) {
	m.CollectPool(pool)
	m.CollectQueue(q, []string{f.backend.model})
	return serveMetrics(ctx, f.metricsListen, f.pprof, m, f.log, func() error {
		if !w.Usable() {
			return fmt.Errorf("no usable backend: %s", strings.Join(pool.OutReasons(), "; "))
		}
		return nil
	})
}

// parseWorkerFlags parses and checks worker's flags.
func parseWorkerFlags(e env, args []string) (*workerFlags, error) {
	f := &workerFlags{}
	fs := newFlagSet(e, "worker", "--redis URL --backend URL|sim --model NAME [flags]")
	f.backend.register(fs)
	f.daemonFlags.register(fs, 0, "0: --tasks plus 16")
	fs.IntVar(&f.tasks, "tasks", 0, "rollout tasks in flight at most (default --concurrency times the number of backends)")
	fs.DurationVar(&f.leaseTTL, "lease-ttl", redisq.DefaultLeaseTTL, "how long a task stays leased without a heartbeat before another worker takes it over")
	fs.IntVar(&f.maxDeliveries, "max-deliveries", rollout.DefaultMaxDeliveries, "deliveries of a task before it is dead-lettered and its step marked failed")
	fs.DurationVar(&f.drainTimeout, "drain-timeout", rollout.DefaultDrainTimeout, "on SIGTERM/SIGINT: how long tasks in flight get to finish before they are handed back")
	fs.StringVar(&f.consumer, "consumer", "", "name of this worker in the consumer group, unique among live workers (default host-pid-random)")
	fs.DurationVar(&f.backendWait, "backend-wait", 0, "how long to wait, taking no tasks, for a usable backend when none is left before exiting with status 4; 0 waits until stopped")
	fs.BoolVar(&f.affinity, "affinity", true, "register with the queue so that every task of a problem is routed to one worker (whose backends cache the problem's prefixes); false: take any task")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := f.daemonFlags.check(e); err != nil {
		return nil, err
	}
	if f.leaseTTL < 100*time.Millisecond {
		return nil, usageErrorf("--lease-ttl must be at least 100ms, got %v", f.leaseTTL)
	}
	if f.backendWait < 0 {
		return nil, usageErrorf("--backend-wait must not be negative, got %v", f.backendWait)
	}
	return f, nil
}

// openBackends opens the backends and probes them, logging each one that
// leaves or comes back into rotation. A worker that cannot serve the model
// must not take a single task: every backend is checked before it joins
// the queue, and it starts when at least one passes.
func (f *workerFlags) openBackends(ctx context.Context, e env, log *slog.Logger, m *metrics.Metrics) (*rollout.Pool, func(), error) {
	f.backend.onState = func(backend, reason string) {
		if reason != "" {
			log.Warn("backend out of rotation; its tasks go to other backends or workers", "backend", backend, "reason", reason)
		} else {
			log.Info("backend back in rotation", "backend", backend)
		}
	}
	pool, stop, err := f.backend.open(e, m.Observer())
	if err != nil {
		return nil, nil, err
	}
	if err := f.backend.probe(ctx, pool, false, func(error) {}); err != nil {
		log.Error("no usable backend; not taking tasks", "error", err)
		stop()
		return nil, nil, err
	}
	return pool, stop, nil
}

// backendURLs lists the pool's backends for the log.
func backendURLs(pool *rollout.Pool) string {
	urls := make([]string, 0, len(pool.Backends()))
	for _, b := range pool.Backends() {
		urls = append(urls, b.BaseURL)
	}
	return strings.Join(urls, ",")
}

// onBackendHealth steps a registered worker out of routing while it
// cannot work, so that its problems go to workers that can, and back in
// when a backend is usable again.
func (f *workerFlags) onBackendHealth(ctx context.Context, log *slog.Logger, q sharedQueue) func(usable bool, reasons []string) {
	return func(usable bool, reasons []string) {
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
	}
}
