package metrics

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"google.golang.org/grpc/codes"

	"github.com/shepherd-prm/shepherd/labeler"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout"
)

var update = flag.Bool("update", false, "rewrite testdata/metrics.golden")

type fakePool []rollout.BackendStats

func (p fakePool) Backends() []rollout.BackendStats { return p }

type fakeQueue struct{ err error }

func (q fakeQueue) Pending(context.Context, string) (rollout.PendingStats, error) {
	return rollout.PendingStats{Length: 10, Pending: 3}, q.err
}

func (q fakeQueue) OldestTaskAge(context.Context, string) (time.Duration, error) {
	return 1500 * time.Millisecond, q.err
}

type fakeJobs struct{ err error }

func (j fakeJobs) LiveJobs(context.Context) (int64, int64, error) { return 2, 1, j.err }

// exercised returns metrics on which every metric has at least one series.
func exercised(t *testing.T) *Metrics {
	t.Helper()
	m := New("test")
	o := m.Observer()
	o.InferenceRequest("http://gpu-1:8000/v1", "200", 120*time.Millisecond)
	o.InferenceRequest("http://gpu-1:8000/v1", "timeout", 5*time.Second)
	o.Tokens("http://gpu-1:8000/v1", 100, 40, 80)
	o.Rollout(rollout.RolloutCorrect)
	o.TaskDone(rollout.TaskCompleted, 200*time.Millisecond)
	o.TaskOverhead(3 * time.Millisecond)
	o.Redelivered()
	o.LeaseLost()
	o.QueueError()
	o.DeadLettered()
	o.StepLabelled(true, rollout.SourceMeasured)
	m.OnRPC(context.Background(), "/shepherd.v1.ShepherdService/SubmitJob", codes.OK, 3*time.Millisecond)
	m.JobFinished(shepherdv1.JobState_JOB_STATE_SUCCEEDED)
	m.CollectPool(fakePool{{BaseURL: "http://gpu-1:8000/v1", Limit: 64, InFlight: 3, Waiting: 1, Up: true}})
	m.CollectQueue(fakeQueue{}, []string{"sim", "sim"})
	m.CollectJobs(fakeJobs{})
	m.collectErrors.WithLabelValues("queue")
	return m
}

// describe renders the families of the shepherd_ metrics: name, type,
// label names and help.
func describe(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "shepherd_") {
			continue
		}
		labels := map[string]bool{}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		names := make([]string, 0, len(labels))
		for l := range labels {
			names = append(names, l)
		}
		slices.Sort(names)
		fmt.Fprintf(&b, "%s %s {%s}\n  %s\n", mf.GetName(), strings.ToLower(mf.GetType().String()), strings.Join(names, ","), mf.GetHelp())
	}
	return b.String()
}

// TestGolden pins the names, types, labels and help texts of the metrics.
// Run `go test ./server/metrics -update` after changing them on purpose.
func TestGolden(t *testing.T) {
	m := exercised(t)
	got := describe(t, m.Registry())
	path := filepath.Join("testdata", "metrics.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("metrics differ from %s (run go test ./server/metrics -update if intended):\n%s", path, lineDiff(string(want), got))
	}

	// Every shepherd_ metric the registry describes was exercised above,
	// so the golden file lists them all.
	ch := make(chan *prometheus.Desc)
	go func() { m.Registry().Describe(ch); close(ch) }()
	described := 0
	for d := range ch {
		if strings.Contains(d.String(), `fqName: "shepherd_`) {
			described++
		}
	}
	if n := strings.Count(got, "\n  "); n != described {
		t.Errorf("%d shepherd_ metrics described, %d gathered: exercise every metric in exercised()", described, n)
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for _, l := range w {
		if !slices.Contains(g, l) {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}

func TestPromlint(t *testing.T) {
	m := exercised(t)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// exposition is what the handler serves to Prometheus's text parser.
func exposition(t *testing.T, h http.Handler) []byte {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return body
}

// TestPromtool runs `promtool check metrics` over the exposition text.
// Without promtool the test is skipped, unless CI is set: CI installs the
// Debian package prometheus, which ships it.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("promtool is not installed (apt-get install prometheus); CI must run this test")
		}
		t.Skip("promtool is not installed (apt-get install prometheus)")
	}
	body := exposition(t, exercised(t).Handler())
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestValues checks what the observer and the collectors record.
func TestValues(t *testing.T) {
	m := exercised(t)
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"requests 200", testutil.ToFloat64(m.requests.WithLabelValues("gpu-1:8000", "200")), 1},
		{"cached tokens", testutil.ToFloat64(m.tokens.WithLabelValues("gpu-1:8000", "cached_prompt")), 80},
		{"uncached tokens", testutil.ToFloat64(m.tokens.WithLabelValues("gpu-1:8000", "uncached_prompt")), 20},
		{"rollouts correct", testutil.ToFloat64(m.rollouts.WithLabelValues("correct")), 1},
		{"rollouts truncated", testutil.ToFloat64(m.rollouts.WithLabelValues("truncated")), 0},
		{"steps", testutil.ToFloat64(m.steps.WithLabelValues("1", "measured")), 1},
		{"rpcs", testutil.ToFloat64(m.rpcs.WithLabelValues("shepherd.v1.ShepherdService", "SubmitJob", "OK")), 1},
		{"jobs finished", testutil.ToFloat64(m.jobsFinished.WithLabelValues("succeeded")), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	want := `
# HELP shepherd_queue_tasks Tasks in the model's work stream by state: waiting (not yet delivered) or leased (delivered, not finished).
# TYPE shepherd_queue_tasks gauge
shepherd_queue_tasks{model="sim",state="leased"} 3
shepherd_queue_tasks{model="sim",state="waiting"} 7
# HELP shepherd_queue_oldest_task_age_seconds Age of the oldest task in the model's work stream (the queue's lag); 0 when it is empty.
# TYPE shepherd_queue_oldest_task_age_seconds gauge
shepherd_queue_oldest_task_age_seconds{model="sim"} 1.5
# HELP shepherd_jobs Live jobs in the job store by state (queued, running), over every server.
# TYPE shepherd_jobs gauge
shepherd_jobs{state="queued"} 2
shepherd_jobs{state="running"} 1
# HELP shepherd_backend_requests_in_flight Inference requests holding one of the backend's concurrency slots.
# TYPE shepherd_backend_requests_in_flight gauge
shepherd_backend_requests_in_flight{backend="gpu-1:8000"} 3
# HELP shepherd_backend_concurrency_limit Current adaptive (AIMD) concurrency limit of the backend.
# TYPE shepherd_backend_concurrency_limit gauge
shepherd_backend_concurrency_limit{backend="gpu-1:8000"} 64
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"shepherd_queue_tasks", "shepherd_queue_oldest_task_age_seconds", "shepherd_jobs",
		"shepherd_backend_requests_in_flight", "shepherd_backend_concurrency_limit"); err != nil {
		t.Error(err)
	}
}

// TestCollectErrors: a failed scrape-time read leaves its gauges out and
// counts the error; the rest of the scrape is served.
func TestCollectErrors(t *testing.T) {
	m := New("test")
	m.CollectQueue(fakeQueue{err: errors.New("redis down")}, []string{"sim"})
	m.CollectJobs(fakeJobs{err: errors.New("redis down")})
	body := string(exposition(t, m.Handler()))
	if strings.Contains(body, "shepherd_queue_tasks{") || strings.Contains(body, "shepherd_jobs{") {
		t.Errorf("gauges of failed reads served:\n%s", body)
	}
	// Collectors run concurrently within a scrape: the errors of one
	// scrape are certain to show in the next.
	body = string(exposition(t, m.Handler()))
	for _, want := range []string{`shepherd_collect_errors_total{source="queue"}`, `shepherd_collect_errors_total{source="jobs"}`, "shepherd_build_info{"} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	for _, src := range []string{"queue", "jobs"} {
		if n := testutil.ToFloat64(m.collectErrors.WithLabelValues(src)); n < 1 || n > 2 {
			t.Errorf("collect errors of %s: %v after two scrapes", src, n)
		}
	}
}

// TestTokenKindsPartition: the token kinds add up to prompt plus
// completion tokens, whatever the cached share (a server claiming more
// cached tokens than the prompt has is clamped to the prompt).
func TestTokenKindsPartition(t *testing.T) {
	m := New("test")
	o := m.Observer()
	reports := []struct{ prompt, completion, cached int }{
		{100, 40, 80}, {57, 3, 0}, {12, 9, 12}, {30, 5, 45}, {0, 7, 0},
	}
	var prompt, completion, cached int
	for _, r := range reports {
		o.Tokens("http://gpu-1:8000/v1", r.prompt, r.completion, r.cached)
		prompt += r.prompt
		completion += r.completion
		cached += min(r.cached, r.prompt)
	}
	var sum float64
	for _, kind := range []string{"cached_prompt", "uncached_prompt", "completion"} {
		sum += testutil.ToFloat64(m.tokens.WithLabelValues("gpu-1:8000", kind))
	}
	if sum != float64(prompt+completion) {
		t.Errorf("sum over kinds = %v, want prompt %d + completion %d", sum, prompt, completion)
	}
	if got := testutil.ToFloat64(m.tokens.WithLabelValues("gpu-1:8000", "cached_prompt")); got != float64(cached) {
		t.Errorf("cached_prompt = %v, want %d", got, cached)
	}
	if n := testutil.CollectAndCount(m.tokens); n != 3 {
		t.Errorf("%d token series, want 3 (one per kind)", n)
	}
}

// TestBackendLabel: host:port by default, the given name where one was
// set; the same label on counters and scrape-time gauges.
func TestBackendLabel(t *testing.T) {
	for in, want := range map[string]string{
		"http://gpu-1:8000/v1":      "gpu-1:8000",
		"https://vllm.example/v1":   "vllm.example",
		"http://[::1]:8000/v1":      "[::1]:8000",
		"http://127.0.0.1:41235/v1": "127.0.0.1:41235",
		"not a url":                 "not a url",
	} {
		if got := BackendLabel(in); got != want {
			t.Errorf("BackendLabel(%q) = %q, want %q", in, got, want)
		}
	}
	m := New("test")
	o := m.Observer()
	o.(interface{ NameBackend(string, string) }).NameBackend("http://127.0.0.1:41235/v1", "sim")
	o.InferenceRequest("http://127.0.0.1:41235/v1", "200", time.Millisecond)
	m.CollectPool(fakePool{{BaseURL: "http://127.0.0.1:41235/v1", Limit: 8, Up: true}})
	body := string(exposition(t, m.Handler()))
	for _, want := range []string{`shepherd_inference_requests_total{backend="sim",code="200"} 1`, `shepherd_backend_up{backend="sim"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	if strings.Contains(body, "41235") {
		t.Errorf("the simulator's port leaks into a label:\n%s", body)
	}
}

func TestObserveRecord(t *testing.T) {
	m := New("test")
	soft := func(v float64) *float64 { return &v }
	// Step 0 measured 1, step 1 inferred 0, step 2 failed, step 3 the outcome 0.
	rollout.ObserveRecord(m.Observer(), labeler.Record{
		Labels:      []bool{true, false, false, false},
		SoftLabels:  []*float64{soft(0.5), nil, nil, soft(0)},
		Rollouts:    []int{4, 0, 0, 0},
		FailedSteps: []int{2},
	})
	for _, c := range []struct {
		label, source string
		want          float64
	}{{"1", "measured", 1}, {"0", "inferred", 1}, {"0", "outcome", 1}, {"0", "measured", 0}} {
		if got := testutil.ToFloat64(m.steps.WithLabelValues(c.label, c.source)); got != c.want {
			t.Errorf("steps{label=%s,source=%s} = %v, want %v", c.label, c.source, got, c.want)
		}
	}
}

func TestSplitMethod(t *testing.T) {
	for in, want := range map[string][2]string{
		"/shepherd.v1.ShepherdService/SubmitJob": {"shepherd.v1.ShepherdService", "SubmitJob"},
		"/grpc.health.v1.Health/Check":           {"grpc.health.v1.Health", "Check"},
		"odd":                                    {"unknown", "odd"},
	} {
		if s, m := splitMethod(in); s != want[0] || m != want[1] {
			t.Errorf("splitMethod(%q) = %q, %q", in, s, m)
		}
	}
}
