// Package metrics exposes shepherd's Prometheus metrics: one registry per
// process (with the Go runtime and process collectors), fed by the
// rollout.Observer hooks of clients, pools, workers and job schedulers, by
// the server's RPC and job hooks, and by collectors that read the queue,
// the backend pools and the job store at scrape time.
//
// # Wiring
//
// A worker process:
//
//	m := metrics.New("worker")
//	pool, _ := rollout.NewPool(clients, rollout.PoolOptions{Observer: m.Observer()})
//	m.CollectPool(pool)
//	q := redisq.New(rdb, redisq.Options{...})
//	m.CollectQueue(q, []string{model})
//	w := &rollout.Worker{Queue: q, Generator: pool, Observer: m.Observer(), ...}
//	go m.Serve(ctx, metricsListener) // or mux.Handle("/metrics", m.Handler())
//
// A server process:
//
//	m := metrics.New("serve")
//	q := redisq.New(rdb, redisq.Options{...})
//	s, _ := server.New(server.Options{..., WorkQueue: q, OnRPC: m.OnRPC, Observer: m.Observer(), OnJobFinished: m.JobFinished})
//	m.CollectJobs(s)
//	m.CollectQueue(q, models)
//
// The scrape-time gauges (shepherd_queue_*, shepherd_jobs) describe shared
// state: every process that reports them reports the same values, so
// aggregate them with max, not sum.
//
// # Metrics
//
// Names follow the Prometheus conventions (prefix shepherd_, base units,
// counters ending in _total, durations as _seconds histograms); labels take
// values from small fixed sets, or backend names (host:port, a given name,
// "sim") and model names,
// never job, solution or prompt ids. testdata/metrics.golden lists every
// metric with its type, labels and help.
//
//	shepherd_build_info{component,version,goversion}              gauge, always 1
//	shepherd_rollouts_total{result}                               correct, incorrect, no_answer, truncated
//	shepherd_inference_requests_total{backend,code}               HTTP status, or timeout, unreachable, conn_error, bad_response, canceled
//	shepherd_inference_request_duration_seconds{backend}          histogram
//	shepherd_inference_tokens_total{backend,kind}                 cached_prompt, uncached_prompt, completion (a partition)
//	shepherd_backend_requests_in_flight{backend}                  gauge (scrape time)
//	shepherd_backend_requests_waiting{backend}                    gauge (scrape time)
//	shepherd_backend_concurrency_limit{backend}                   gauge (scrape time)
//	shepherd_backend_up{backend}                                  gauge (scrape time)
//	shepherd_rollout_task_duration_seconds{result}                histogram: completed, retried, failed
//	shepherd_task_overhead_seconds                                histogram: enqueue to result, less the worker's time
//	shepherd_task_redeliveries_total, shepherd_task_leases_lost_total, shepherd_tasks_dead_lettered_total
//	shepherd_queue_reserve_errors_total
//	shepherd_queue_tasks{model,state}                             gauge (scrape time): waiting, leased
//	shepherd_queue_oldest_task_age_seconds{model}                 gauge (scrape time): the queue's lag
//	shepherd_steps_labelled_total{label,source}                   label 1/0; source measured, inferred, outcome
//	shepherd_jobs{state}                                          gauge (scrape time): queued, running
//	shepherd_jobs_finished_total{state}                           succeeded, partial, failed, cancelled
//	shepherd_grpc_requests_total{service,method,code}
//	shepherd_grpc_request_duration_seconds{service,method}        histogram
//	shepherd_collect_errors_total{source}                         failed scrape-time reads: queue, jobs
//
// deploy/grafana/shepherd.json is the dashboard over them.
package metrics
