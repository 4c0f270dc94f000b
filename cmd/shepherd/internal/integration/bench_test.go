package integration

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/labeler"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
)

// The distributed benchmark's job: simulator problems labelled exhaustively
// with few rollouts per step and no reuse, so that tasks are many and
// cheap and every task of a solution runs in parallel.
const (
	benchProblems    = 2000
	benchPerProblem  = 4
	benchN           = 1
	benchWorkerTasks = 256 // --tasks and --concurrency of each worker
	benchWindow      = 256 // --window: a fixed window, as the server had by default before admission by capacity
)

// benchCase is one configuration of BenchmarkDistributed.
type benchCase struct {
	workers  int
	window   int // solutions the job labels at once
	problems int // of the data set
}

// BenchmarkDistributed measures end-to-end rollout tasks per second
// through Redis: a private redis-server, one `shepherd serve` and 1 to 4
// `shepherd worker --backend sim` processes (the built-in simulator, no
// latency), all on this machine, labelling one job per iteration. It
// reports
//
//   - tasks/s: the job's tasks_done over finish_time - create_time, from
//     the Job message (so it includes admission and the last record's
//     commit);
//   - samples/s: the job's rollouts over the same time;
//   - overhead-p50-ms, overhead-p99-ms: quantiles of the serve process's
//     shepherd_task_overhead_seconds histogram (enqueue to result minus the
//     worker's generation and grading time), interpolated within buckets
//     as Prometheus's histogram_quantile does;
//   - cpu-redis, cpu-serve, cpu-workers: CPU cores each part used during
//     the jobs (redis-server's INFO cpu, the processes'
//     process_cpu_seconds_total; the simulator runs inside the workers),
//     and cpu-other: what the rest of the machine used meanwhile (from
//     /proc/stat, on Linux), competing for the same cores;
//   - cpu-us/task: the CPU time of redis-server, serve and the workers
//     per task, a steadier figure than the rates on a shared machine.
//
// The sub-benchmarks workers=1 to workers=4 saturate the machine: the
// scheduler keeps --window 256 solutions (about 900 tasks) in flight, so
// their overhead is mostly the wait behind that backlog. window=1 runs one
// worker and one solution at a time (--window 1) over the first 100
// problems: its overhead is the queue's own latency.
//
// Run with -benchtime 1x: an iteration is a whole job of several seconds.
// With SHEPHERD_BENCH_PROFILE=dir, CPU profiles of serve and of the first
// worker (5 s, taken during the first job) are written to dir.
func BenchmarkDistributed(b *testing.B) {
	problems := benchDataset()
	for _, workers := range []int{1, 2, 3, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			benchDistributed(b, problems, benchCase{workers: workers, window: benchWindow, problems: benchProblems})
		})
	}
	b.Run("window=1", func(b *testing.B) {
		benchDistributed(b, problems, benchCase{workers: 1, window: 1, problems: 100})
	})
}

func benchDataset() []labeler.Problem {
	return simtest.LabelerProblems(sim.GenerateDataset(sim.DatasetOptions{Seed: 1, Problems: benchProblems, SolutionsPerProblem: benchPerProblem,
		MinOps: 3, MaxOps: 5, ErrorRate: 0.5}))
}

func benchDistributed(b *testing.B, problems []labeler.Problem, bc benchCase) {
	problems, workers := problems[:bc.problems], bc.workers
	rs := redistest.Start(b)
	redisArgs := redisURL(rs.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	b.Cleanup(func() { rdb.Close() })
	profile := os.Getenv("SHEPHERD_BENCH_PROFILE")

	// Production timings (leases of 30s, blocking reads of 1s), info logs.
	serveArgs := []string{"--metrics-listen", "127.0.0.1:0", "--window", strconv.Itoa(bc.window),
		"--job-lease-ttl", "30s", "--queue-block", "1s", "--log-level", "info"}
	workerArgs := []string{"--metrics-listen", "127.0.0.1:0", "--tasks", strconv.Itoa(benchWorkerTasks),
		"--concurrency", strconv.Itoa(benchWorkerTasks), "--lease-ttl", "30s", "--queue-block", "1s", "--log-level", "info"}
	if profile != "" {
		serveArgs = append(serveArgs, "--pprof")
		workerArgs = append(workerArgs, "--pprof")
	}
	serve, addr := startServe(b, "serve", "127.0.0.1:0", redisArgs, serveArgs...)
	serveMetrics := serve.waitLog(metricsRE, 10*time.Second)[1]
	workerMetrics := make([]string, workers)
	for i := range workers {
		w := startWorker(b, fmt.Sprintf("worker-%d", i+1), "sim", redisArgs, workerArgs...)
		workerMetrics[i] = w.waitLog(metricsRE, 10*time.Second)[1]
	}
	c := dial(b, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var tasks, samples int64
	var busy time.Duration
	var cpuRedis, cpuServe, cpuWorkers, cpuOther float64
	var wall time.Duration
	b.ResetTimer()
	for i := range b.N {
		r0, s0, w0 := benchCPU(b, rdb, serveMetrics, workerMetrics)
		m0, haveMachine := machineCPU()
		begin := time.Now()
		var profiles sync.WaitGroup
		if profile != "" && i == 0 {
			name := strings.NewReplacer("/", "-", "=", "").Replace(b.Name())
			profiles.Go(func() { benchProfile(b, serveMetrics, filepath.Join(profile, name+"-serve.pprof")) })
			profiles.Go(func() { benchProfile(b, workerMetrics[0], filepath.Join(profile, name+"-worker.pprof")) })
		}
		job := benchJob(b, ctx, c, problems)
		wall += time.Since(begin)
		profiles.Wait()
		r1, s1, w1 := benchCPU(b, rdb, serveMetrics, workerMetrics)
		m1, _ := machineCPU()
		cpuRedis, cpuServe, cpuWorkers = cpuRedis+r1-r0, cpuServe+s1-s0, cpuWorkers+w1-w0
		if haveMachine {
			cpuOther += (m1 - m0) - (r1 - r0) - (s1 - s0) - (w1 - w0)
		}
		tasks += job.GetTasksDone()
		samples += job.GetRollouts()
		busy += job.GetFinishTime().AsTime().Sub(job.GetCreateTime().AsTime())
	}
	b.StopTimer()
	p50, p99 := benchOverhead(b, serveMetrics)
	b.ReportMetric(float64(tasks)/busy.Seconds(), "tasks/s")
	b.ReportMetric(float64(samples)/busy.Seconds(), "samples/s")
	b.ReportMetric(p50*1e3, "overhead-p50-ms")
	b.ReportMetric(p99*1e3, "overhead-p99-ms")
	b.ReportMetric(cpuRedis/wall.Seconds(), "cpu-redis")
	b.ReportMetric(cpuServe/wall.Seconds(), "cpu-serve")
	b.ReportMetric(cpuWorkers/wall.Seconds(), "cpu-workers")
	b.ReportMetric((cpuRedis+cpuServe+cpuWorkers)*1e6/float64(tasks), "cpu-us/task")
	if _, ok := machineCPU(); ok {
		b.ReportMetric(max(cpuOther, 0)/wall.Seconds(), "cpu-other")
	}
	b.ReportMetric(float64(tasks)/float64(b.N), "tasks/job")
}

// benchJob submits the job and waits for it to finish; it must succeed.
func benchJob(b *testing.B, ctx context.Context, c *client.Client, problems []labeler.Problem) *shepherdv1.Job {
	job, err := c.Submit(ctx, client.Request{Model: "sim", Problems: problems,
		Spec: &shepherdv1.JobSpec{N: proto.Int32(benchN), Seed: 1, Reuse: proto.Bool(false)}})
	if err != nil {
		b.Fatal(err)
	}
	for job.GetFinishTime() == nil {
		time.Sleep(50 * time.Millisecond)
		if job, err = c.Get(ctx, job.GetId()); err != nil {
			b.Fatal(err)
		}
	}
	if job.GetState() != shepherdv1.JobState_JOB_STATE_SUCCEEDED || job.GetTasksFailed() != 0 ||
		job.GetSolutionsDone() != job.GetSolutionsTotal() {
		b.Fatalf("job ended %v", job)
	}
	return job
}

// benchCPU reads the CPU seconds used so far by redis-server, serve and
// the workers.
func benchCPU(b *testing.B, rdb *redis.Client, serve string, workers []string) (redisCPU, serveCPU, workersCPU float64) {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			redisCPU += f
		}
	}
	serveCPU = scrape(b, serve, "process_cpu_seconds_total")
	for _, w := range workers {
		workersCPU += scrape(b, w, "process_cpu_seconds_total")
	}
	return redisCPU, serveCPU, workersCPU
}

// machineCPU reads the CPU seconds the whole machine has been busy (not
// idle or waiting for I/O) from /proc/stat, where there is one: the rest
// of the machine's work competes with the benchmark's processes.
func machineCPU() (float64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, false
	}
	var busy float64
	for i, v := range f[1:8] { // user nice system idle iowait irq softirq
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, false
		}
		busy += n
	}
	return busy / 100, true // USER_HZ is 100 on Linux
}

// benchProfile writes a 5 s CPU profile of the process whose metrics are
// at metricsURL (it runs with --pprof).
func benchProfile(b *testing.B, metricsURL, path string) {
	resp, err := http.Get(strings.TrimSuffix(metricsURL, "/metrics") + "/debug/pprof/profile?seconds=5")
	if err != nil {
		b.Error(err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		b.Error(err)
		return
	}
	defer f.Close()
	if _, err := f.ReadFrom(resp.Body); err != nil {
		b.Error(err)
	}
}

var bucketRE = regexp.MustCompile(`^shepherd_task_overhead_seconds_bucket\{le="([^"]+)"\} (\S+)$`)

// benchOverhead reads the serve process's overhead histogram and returns
// its median and 99th percentile in seconds.
func benchOverhead(b *testing.B, metricsURL string) (p50, p99 float64) {
	resp, err := http.Get(metricsURL)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var buckets []bucket
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		m := bucketRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		le, err1 := strconv.ParseFloat(m[1], 64)
		n, err2 := strconv.ParseFloat(m[2], 64)
		if err1 != nil || err2 != nil {
			b.Fatalf("%s: bad bucket line %q", metricsURL, sc.Text())
		}
		buckets = append(buckets, bucket{le, n})
	}
	if len(buckets) == 0 {
		b.Fatalf("%s: no shepherd_task_overhead_seconds buckets", metricsURL)
	}
	return histogramQuantile(0.5, buckets), histogramQuantile(0.99, buckets)
}

// bucket is a cumulative histogram bucket: the observations <= le.
type bucket struct{ le, count float64 }

// histogramQuantile estimates the q-quantile of cumulative buckets (the
// last one +Inf) as Prometheus's histogram_quantile does: it finds the
// bucket holding the rank q·count and interpolates linearly within it,
// from 0 for the first bucket; a rank in the +Inf bucket gives the largest
// finite bound.
func histogramQuantile(q float64, buckets []bucket) float64 {
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].le < buckets[j].le })
	n := len(buckets)
	if n < 2 || !math.IsInf(buckets[n-1].le, 1) || buckets[n-1].count == 0 {
		return math.NaN()
	}
	rank := q * buckets[n-1].count
	i := sort.Search(n-1, func(i int) bool { return buckets[i].count >= rank })
	if i == n-1 {
		return buckets[n-2].le
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = buckets[i-1].le, buckets[i-1].count
	}
	return lower + (buckets[i].le-lower)*(rank-below)/(buckets[i].count-below)
}

func TestHistogramQuantile(t *testing.T) {
	inf := math.Inf(1)
	for _, c := range []struct {
		q    float64
		b    []bucket
		want float64
	}{
		{0.5, []bucket{{0.1, 0}, {0.2, 10}, {inf, 10}}, 0.15},
		{0.5, []bucket{{0.1, 10}, {inf, 10}}, 0.05},
		{0.99, []bucket{{0.1, 50}, {1, 90}, {inf, 100}}, 1},
		{0.75, []bucket{{inf, 4}, {1, 4}, {0.5, 2}}, 0.75}, // unsorted input
	} {
		if got := histogramQuantile(c.q, c.b); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("histogramQuantile(%v, %v) = %v, want %v", c.q, c.b, got, c.want)
		}
	}
	if got := histogramQuantile(0.5, []bucket{{1, 0}, {inf, 0}}); !math.IsNaN(got) {
		t.Errorf("quantile of an empty histogram = %v, want NaN", got)
	}
}
