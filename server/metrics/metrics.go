package metrics

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc/codes"

	"github.com/shepherd-prm/shepherd/internal/httpserve"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout"
)

// Version is the version reported by shepherd_build_info. Release builds
// set it with -ldflags '-X github.com/shepherd-prm/shepherd/server/metrics.Version=v1.2.3';
// otherwise it is the main module's version from the build info.
var Version string

const namespace = "shepherd"

// Histogram buckets, in seconds. Inference requests and rollout tasks
// take from milliseconds (a cached prefix, a short answer) to minutes (long
// generations on a loaded GPU); RPCs include label streams that last as
// long as their job.
var (
	requestBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120, 300}
	rpcBuckets     = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600}
)

// overheadBuckets are those of the tasks' queueing overhead: about a
// millisecond on an idle local Redis, seconds when tasks wait behind a
// backlog; five buckets a decade, for usable quantiles.
var overheadBuckets = []float64{0.0001, 0.0002, 0.0003, 0.0005, 0.0007, 0.001, 0.002, 0.003, 0.005, 0.007,
	0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 2, 3, 5, 7, 10}

// Metrics holds the metrics of one process on a registry of its own. It is
// safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	rollouts        *prometheus.CounterVec
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	tokens          *prometheus.CounterVec
	taskDuration    *prometheus.HistogramVec
	taskOverhead    prometheus.Histogram
	redeliveries    prometheus.Counter
	leasesLost      prometheus.Counter
	deadLettered    prometheus.Counter
	reserveErrors   prometheus.Counter
	steps           *prometheus.CounterVec
	jobsFinished    *prometheus.CounterVec
	rpcs            *prometheus.CounterVec
	rpcDuration     *prometheus.HistogramVec
	collectErrors   *prometheus.CounterVec

	pools *poolCollector

	backendMu    sync.RWMutex
	backendNames map[string]string // base URL -> label, see NameBackend
}

// New returns the metrics of a process playing component ("serve",
// "worker", …, reported by shepherd_build_info), with the Go runtime and
// process collectors registered next to them.
func New(component string) *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg}

	// Each metric is registered as it is made.
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, labels))
	}
	counter := func(name, help string) prometheus.Counter {
		return register(reg, prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}))
	}
	histogramVec := func(name string, buckets []float64, help string, labels ...string) *prometheus.HistogramVec {
		return register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}, labels))
	}
	histogram := func(name string, buckets []float64, help string) prometheus.Histogram {
		return register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: name, Help: help, Buckets: buckets}))
	}

	m.rollouts = counterVec("rollouts_total",
		"Graded rollout samples by result: correct, incorrect, no_answer (no final answer found) or truncated (cut off by max_tokens).", "result")
	m.requests = counterVec("inference_requests_total",
		"HTTP attempts against inference backends by backend and code: the HTTP status, or timeout, unreachable, conn_error, bad_response, canceled.", "backend", "code")
	m.requestDuration = histogramVec("inference_request_duration_seconds", requestBuckets,
		"Duration of HTTP attempts against inference backends, whatever their outcome.", "backend")
	m.tokens = counterVec("inference_tokens_total",
		"Tokens reported by inference backends by kind: cached_prompt (prompt tokens served from the prefix cache), uncached_prompt (the rest of the prompt) and completion; the kinds partition the tokens, so a sum over kind counts each once.", "backend", "kind")
	m.taskDuration = histogramVec("rollout_task_duration_seconds", requestBuckets,
		"Time a worker spends on a rollout task, from delivery to reporting its result, by result: completed, retried (handed back) or failed (permanent error).", "result")
	m.taskOverhead = histogram("task_overhead_seconds", overheadBuckets,
		"Queueing overhead of completed rollout tasks, as their job's scheduler sees it: the time from enqueueing a task to receiving its result, minus the worker's generation and grading time.")
	m.redeliveries = counter("task_redeliveries_total",
		"Rollout tasks a worker received again after an earlier delivery (a retry or a reclaimed lease).")
	m.leasesLost = counter("task_leases_lost_total",
		"Rollout tasks whose lease another worker took over while this worker was running them.")
	m.deadLettered = counter("tasks_dead_lettered_total",
		"Rollout tasks that failed for good (permanent error or too many deliveries), as their job's scheduler saw them.")
	m.reserveErrors = counter("queue_reserve_errors_total",
		"Failed attempts of a worker to reserve tasks from the queue.")
	m.steps = counterVec("steps_labelled_total",
		"Steps of committed label records by hard label (1 or 0) and source: measured (from rollouts), inferred (by the strategy) or outcome (the solution's own graded answer).", "label", "source")
	m.jobsFinished = counterVec("jobs_finished_total",
		"Jobs this server moved to a terminal state, by state: succeeded, partial, failed or cancelled.", "state")
	m.rpcs = counterVec("grpc_requests_total",
		"Finished gRPC requests by service, method and status code.", "service", "method", "code")
	m.rpcDuration = histogramVec("grpc_request_duration_seconds", rpcBuckets,
		"Duration of gRPC requests (streams: until they end) by service and method.", "service", "method")
	m.collectErrors = counterVec("collect_errors_total",
		"Failed reads of scrape-time gauges by source (queue, jobs); the gauges of a failed read are left out of that scrape.", "source")
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; the labels describe the running binary.",
		ConstLabels: prometheus.Labels{"component": component, "version": version(), "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	f(buildInfo)
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Series of the fixed label values exist from the start, at 0, so that
	// rates and ratios are defined before the first event.
	for _, r := range []string{rollout.RolloutCorrect, rollout.RolloutIncorrect, rollout.RolloutNoAnswer, rollout.RolloutTruncated} {
		m.rollouts.WithLabelValues(r)
	}
	for _, r := range []string{rollout.TaskCompleted, rollout.TaskRetried, rollout.TaskFailed} {
		m.taskDuration.WithLabelValues(r)
	}
	for _, l := range []string{"1", "0"} {
		for _, s := range []string{rollout.SourceMeasured, rollout.SourceInferred, rollout.SourceOutcome} {
			m.steps.WithLabelValues(l, s)
		}
	}
	for _, s := range []shepherdv1.JobState{shepherdv1.JobState_JOB_STATE_SUCCEEDED, shepherdv1.JobState_JOB_STATE_PARTIAL,
		shepherdv1.JobState_JOB_STATE_FAILED, shepherdv1.JobState_JOB_STATE_CANCELLED} {
		m.jobsFinished.WithLabelValues(stateLabel(s))
	}
	return m
}

// register registers c on reg and returns it.
func register[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	reg.MustRegister(c)
	return c
}

// version is Version, or the main module's version, or "unknown".
func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}

// Registry is the process's registry: register more collectors on it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition formats. A
// collector that fails leaves its metrics out; the others are served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Serve serves Handler at /metrics on lis until ctx ends.
func (m *Metrics) Serve(ctx context.Context, lis net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return httpserve.Serve(ctx, srv, lis, 5*time.Second, nil)
}

// OnRPC counts a finished RPC; use it as server.Options.OnRPC.
func (m *Metrics) OnRPC(_ context.Context, fullMethod string, code codes.Code, d time.Duration) {
	service, method := splitMethod(fullMethod)
	m.rpcs.WithLabelValues(service, method, code.String()).Inc()
	m.rpcDuration.WithLabelValues(service, method).Observe(d.Seconds())
}

// splitMethod splits "/pkg.Service/Method".
func splitMethod(full string) (service, method string) {
	s := strings.TrimPrefix(full, "/")
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[:i], s[i+1:]
	}
	return "unknown", s
}

// JobFinished counts a terminal transition; use it as
// server.Options.OnJobFinished.
func (m *Metrics) JobFinished(state shepherdv1.JobState) {
	m.jobsFinished.WithLabelValues(stateLabel(state)).Inc()
}

// stateLabel is "succeeded" for JOB_STATE_SUCCEEDED.
func stateLabel(s shepherdv1.JobState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "JOB_STATE_"))
}
