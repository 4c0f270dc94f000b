package metrics

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shepherd-prm/shepherd/rollout"
)

// collectTimeout bounds the reads of one scrape-time collector.
const collectTimeout = 3 * time.Second

// BackendLister is what CollectPool reads: *rollout.Pool.
type BackendLister interface {
	Backends() []rollout.BackendStats
}

// QueueInspector is what CollectQueue reads: a shared work queue such as
// *redisq.Queue.
type QueueInspector interface {
	Pending(ctx context.Context, model string) (rollout.PendingStats, error)
	OldestTaskAge(ctx context.Context, model string) (time.Duration, error)
}

// JobCounter is what CollectJobs reads: *server.Server.
type JobCounter interface {
	LiveJobs(ctx context.Context) (queued, running int64, err error)
}

var (
	inFlightDesc = prometheus.NewDesc(namespace+"_backend_requests_in_flight",
		"Inference requests holding one of the backend's concurrency slots.", []string{"backend"}, nil)
	waitingDesc = prometheus.NewDesc(namespace+"_backend_requests_waiting",
		"Inference requests waiting for one of the backend's concurrency slots.", []string{"backend"}, nil)
	limitDesc = prometheus.NewDesc(namespace+"_backend_concurrency_limit",
		"Current adaptive (AIMD) concurrency limit of the backend.", []string{"backend"}, nil)
	upDesc = prometheus.NewDesc(namespace+"_backend_up",
		"1 while the backend is used, 0 while it is skipped after failures.", []string{"backend"}, nil)

	queueTasksDesc = prometheus.NewDesc(namespace+"_queue_tasks",
		"Tasks in the model's work stream by state: waiting (not yet delivered) or leased (delivered, not finished).", []string{"model", "state"}, nil)
	queueAgeDesc = prometheus.NewDesc(namespace+"_queue_oldest_task_age_seconds",
		"Age of the oldest task in the model's work stream (the queue's lag); 0 when it is empty.", []string{"model"}, nil)

	jobsDesc = prometheus.NewDesc(namespace+"_jobs",
		"Live jobs in the job store by state (queued, running), over every server.", []string{"state"}, nil)
)

// CollectPool reports the per-backend gauges of pool (in flight, waiting,
// concurrency limit, up) at scrape time. It may be called for several
// pools; a backend in more than one is summed (its limit and up: the
// largest).
func (m *Metrics) CollectPool(pool BackendLister) {
	if m.pools == nil {
		m.pools = &poolCollector{label: m.backend}
		m.reg.MustRegister(m.pools)
	}
	m.pools.add(pool)
}

type poolCollector struct {
	label func(baseURL string) string // the backend label, Metrics.backend
	mu    sync.Mutex
	pools []BackendLister
}

func (c *poolCollector) add(p BackendLister) {
	c.mu.Lock()
	c.pools = append(c.pools, p)
	c.mu.Unlock()
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- inFlightDesc
	ch <- waitingDesc
	ch <- limitDesc
	ch <- upDesc
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	pools := slices.Clone(c.pools)
	c.mu.Unlock()
	type agg struct{ inflight, waiting, limit, up float64 }
	byBackend := map[string]*agg{}
	var order []string
	for _, p := range pools {
		for _, b := range p.Backends() {
			name := c.label(b.BaseURL)
			a := byBackend[name]
			if a == nil {
				a = &agg{}
				byBackend[name] = a
				order = append(order, name)
			}
			a.inflight += float64(b.InFlight)
			a.waiting += float64(b.Waiting)
			a.limit = max(a.limit, float64(b.Limit))
			if b.Up {
				a.up = 1
			}
		}
	}
	for _, name := range order {
		a := byBackend[name]
		ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, a.inflight, name)
		ch <- prometheus.MustNewConstMetric(waitingDesc, prometheus.GaugeValue, a.waiting, name)
		ch <- prometheus.MustNewConstMetric(limitDesc, prometheus.GaugeValue, a.limit, name)
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, a.up, name)
	}
}

// CollectQueue reports the depth and lag of the models' work streams at
// scrape time (shepherd_queue_tasks, shepherd_queue_oldest_task_age_seconds),
// reading q (such as a *redisq.Queue). Every process that shares the queue reports
// the same values: aggregate them with max, not sum. Call it once per
// process.
func (m *Metrics) CollectQueue(q QueueInspector, models []string) {
	ms := slices.Clone(models)
	slices.Sort(ms)
	ms = slices.Compact(ms)
	m.reg.MustRegister(&queueCollector{q: q, models: ms, errors: m.collectErrors.WithLabelValues("queue")})
}

type queueCollector struct {
	q      QueueInspector
	models []string
	errors prometheus.Counter
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueTasksDesc
	ch <- queueAgeDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	for _, model := range c.models {
		ps, err := c.q.Pending(ctx, model)
		if err != nil {
			c.errors.Inc()
			continue
		}
		age, err := c.q.OldestTaskAge(ctx, model)
		if err != nil {
			c.errors.Inc()
			continue
		}
		ch <- prometheus.MustNewConstMetric(queueTasksDesc, prometheus.GaugeValue, float64(ps.Waiting()), model, "waiting")
		ch <- prometheus.MustNewConstMetric(queueTasksDesc, prometheus.GaugeValue, float64(ps.Pending), model, "leased")
		ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, age.Seconds(), model)
	}
}

// CollectJobs reports the live jobs of the job store by state
// (shepherd_jobs) at scrape time, reading j (a *server.Server). Every
// server reports the same values: aggregate them with max. Call it once
// per process.
func (m *Metrics) CollectJobs(j JobCounter) {
	m.reg.MustRegister(&jobsCollector{j: j, errors: m.collectErrors.WithLabelValues("jobs")})
}

type jobsCollector struct {
	j      JobCounter
	errors prometheus.Counter
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc }

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	queued, running, err := c.j.LiveJobs(ctx)
	if err != nil {
		c.errors.Inc()
		return
	}
	ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(queued), "queued")
	ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(running), "running")
}
