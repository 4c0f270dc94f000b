package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"google.golang.org/protobuf/proto"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shepherd-prm/shepherd/internal/testkit"
	"github.com/shepherd-prm/shepherd/labeler/grade"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/redisq"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/server"
	"github.com/shepherd-prm/shepherd/server/metrics"
	"github.com/shepherd-prm/shepherd/server/servertest"
)

const (
	model = "sim"
	// scrapeInterval is the test Prometheus's; rateInterval stands in for
	// Grafana's $__rate_interval, at least four scrape intervals as
	// Grafana makes it.
	scrapeInterval = time.Second
	rateInterval   = "1m"
)

// TestDashboardQueriesOnPrometheus runs a labeling job through a server and
// a worker (in-process, on a private Redis and the simulator, with a share
// of requests failing so that error panels have data), each serving its
// metrics on a loopback port, has a real Prometheus scrape both, and then
// evaluates every PromQL expression of the dashboard, template variables
// substituted, through Prometheus's HTTP API: each must parse and return
// data.
func TestDashboardQueriesOnPrometheus(t *testing.T) {
	promBin := requireTool(t, "prometheus")
	d := loadDashboard(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	rs := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, PoolSize: 64})
	t.Cleanup(func() { rdb.Close() })
	qopt := redisq.Options{LeaseTTL: 2 * time.Second, Block: 100 * time.Millisecond, MaxDeliveries: 5}

	workerAddr := startWorker(t, rdb, qopt)
	serveAddr, client := startServer(t, rdb, qopt)
	promURL := startPrometheus(t, promBin, serveAddr, workerAddr)

	runJob(t, ctx, client)
	// A failed RPC, for the gRPC error panel.
	if _, err := client.GetJob(ctx, &shepherdv1.GetJobRequest{JobId: "00000000000000000000"}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetJob of an unknown job: %v, want NOT_FOUND", err)
	}

	queries := dashboardQueries(d)
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			q, err := variableQuery(v.Definition)
			if err != nil {
				t.Fatalf("variable %s: %v", v.Name, err)
			}
			queries = append(queries, query{where: "variable " + v.Name, expr: q})
		}
	}
	// What the job must have left in the metrics of both processes (each
	// expression has data only when it holds): the hooks are wired.
	for i, expr := range []string{
		`shepherd_jobs_finished_total{job="shepherd-serve",state="succeeded"} == 1`,
		`sum(shepherd_steps_labelled_total{job="shepherd-serve"}) > 0`,
		`sum(shepherd_rollouts_total{job="shepherd-worker"}) > 0`,
		`shepherd_task_overhead_seconds_count{job="shepherd-serve"} > 0`,
		`sum(shepherd_inference_requests_total{job="shepherd-worker",code="500"}) > 0`,
		`count(sum by (kind) (shepherd_inference_tokens_total{job="shepherd-worker"}) > 0) == 3`,
		`shepherd_grpc_requests_total{job="shepherd-serve",method="GetJob",code="NotFound"} == 1`,
		`count(shepherd_build_info{component=~"serve|worker"}) == 2`,
	} {
		queries = append(queries, query{where: fmt.Sprintf("expectation %d", i), expr: expr})
	}
	// Counters that appeared during the job need two scrapes in the range
	// before rate() has a value: poll until every query has data.
	pending := map[string]string{}
	for _, q := range queries {
		pending[q.where] = substitute(q.expr)
	}
	deadline := time.Now().Add(45 * time.Second)
	for len(pending) > 0 {
		for where, expr := range pending {
			n, err := instantQuery(ctx, promURL, expr)
			if err != nil {
				t.Fatalf("%s: %s: %v", where, expr, err)
			}
			if n > 0 {
				delete(pending, where)
			}
		}
		if len(pending) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(scrapeInterval)
	}
	for where, expr := range pending {
		t.Errorf("%s: no data: %s", where, expr)
	}
	t.Logf("%d queries returned data", len(queries)-len(pending))

	// Every panel query is filtered by the job and instance variables:
	// with either set to a value no target has, none returns data. A
	// broken copy, a query without the job matcher, is caught.
	panelQueries := dashboardQueries(d)
	for _, v := range []string{"job", "instance"} {
		for _, q := range unfiltered(ctx, t, promURL, panelQueries, v) {
			t.Errorf("%s: returns data with $%s matching nothing: %s", q.where, v, q.expr)
		}
	}
	broken := []query{{where: "broken copy", expr: strings.Replace(panelQueries[0].expr, `job=~"$job",`, "", 1)}}
	if broken[0].expr == panelQueries[0].expr {
		t.Fatalf("%s has no job matcher to remove: %s", panelQueries[0].where, panelQueries[0].expr)
	}
	if got := unfiltered(ctx, t, promURL, broken, "job"); len(got) != 1 {
		t.Errorf("a query without the job matcher passed the job filter check: %s", broken[0].expr)
	}
}

// unfiltered returns the queries that still return data when the template
// variable v matches no series ("$v" replaced by a value no target has).
func unfiltered(ctx context.Context, t *testing.T, promURL string, qs []query, v string) []query {
	t.Helper()
	var out []query
	for _, q := range qs {
		expr := strings.NewReplacer("${"+v+"}", "no-such-"+v, "$"+v+`"`, "no-such-"+v+`"`).Replace(q.expr)
		n, err := instantQuery(ctx, promURL, substitute(expr))
		if err != nil {
			t.Fatalf("%s: %s: %v", q.where, expr, err)
		}
		if n > 0 {
			out = append(out, q)
		}
	}
	return out
}

var (
	grafanaRange = regexp.MustCompile(`\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}`)
	grafanaVar   = regexp.MustCompile(`\$\{\w+\}|\$\w+`)
	labelValues  = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s*,\s*(\w+)\s*\)$`)
)

// substitute replaces Grafana's interval variables by rateInterval and
// every template variable by the regexp matching anything.
func substitute(expr string) string {
	expr = grafanaRange.ReplaceAllString(expr, rateInterval)
	return grafanaVar.ReplaceAllString(expr, ".*")
}

// variableQuery turns a variable's label_values(metric, label) into the
// PromQL that has data when the variable has values.
func variableQuery(def string) (string, error) {
	m := labelValues.FindStringSubmatch(strings.TrimSpace(def))
	if m == nil {
		return "", fmt.Errorf("definition %q is not label_values(metric, label)", def)
	}
	return fmt.Sprintf("count by (%s) (%s)", m[2], m[1]), nil
}

// instantQuery evaluates expr now and returns the number of series or
// samples in the result; an expression Prometheus rejects is an error.
func instantQuery(ctx context.Context, base, expr string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?"+url.Values{"query": {expr}}.Encode(), nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	switch r.Data.ResultType {
	case "vector", "matrix":
		var res []json.RawMessage
		if err := json.Unmarshal(r.Data.Result, &res); err != nil {
			return 0, err
		}
		return len(res), nil
	}
	return 1, nil // a scalar or string
}

// serveMetrics serves m on a loopback port until the test ends and
// returns host:port.
func serveMetrics(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("metrics listener: %v", err)
		}
	})
	return lis.Addr().String()
}

// startWorker runs a worker on the simulator, which fails a tenth of the
// requests with 500, and returns its metrics address.
func startWorker(t *testing.T, rdb redis.UniversalClient, qopt redisq.Options) string {
	t.Helper()
	m := metrics.New("worker")
	hs := httptest.NewServer(sim.New(sim.Options{Model: model, Rate500: 0.1, FaultSeed: 1}))
	t.Cleanup(hs.Close)
	c, err := rollout.NewClient(rollout.ClientOptions{BaseURL: hs.URL + "/v1", Model: model, Timeout: 5 * time.Second,
		BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond, MaxRetries: 8})
	if err != nil {
		t.Fatal(err)
	}
	// DownAfter is high so that the failures do not take the only backend
	// out of rotation for long.
	pool, err := rollout.NewPool([]*rollout.Client{c}, rollout.PoolOptions{Observer: m.Observer(), DownAfter: 100, DownFor: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m.CollectPool(pool)
	q := redisq.New(rdb, qopt)
	m.CollectQueue(q, []string{model})
	w := &rollout.Worker{Queue: q, Generator: pool, Grader: grade.New(grade.Options{}), Model: model,
		Concurrency: 16, DrainTimeout: time.Second, Observer: m.Observer()}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = w.Run(ctx) })
	t.Cleanup(func() { cancel(); q.Close(); wg.Wait() })
	return serveMetrics(t, m)
}

// startServer runs a server (over bufconn) with its metrics wired in
// and returns its metrics address and a client.
func startServer(t *testing.T, rdb redis.UniversalClient, qopt redisq.Options) (string, shepherdv1.ShepherdServiceClient) {
	t.Helper()
	m := metrics.New("serve")
	opt := server.Options{Redis: rdb, WorkQueue: redisq.New(rdb, qopt), Models: []string{model}, Logger: servertest.QuietLogger(), ShutdownTimeout: time.Second,
		OnRPC: m.OnRPC, Observer: m.Observer(), OnJobFinished: m.JobFinished}
	servertest.QuickTimings(&opt.LeaseTTL, &opt.ProgressInterval, &opt.SnapshotInterval, &opt.StreamBlock, &opt.ShutdownTimeout)
	s, err := server.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	m.CollectJobs(s)
	mq := redisq.New(rdb, qopt)
	t.Cleanup(func() { mq.Close() })
	m.CollectQueue(mq, []string{model})
	sv := servertest.ServeBufconn(t, s)
	return serveMetrics(t, m), shepherdv1.NewShepherdServiceClient(sv.Conn)
}

// startPrometheus runs Prometheus scraping the two metrics addresses every
// scrapeInterval until the test ends, and returns its base URL once it is
// ready.
func startPrometheus(t *testing.T, bin, serveAddr, workerAddr string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  evaluation_interval: %[1]s
scrape_configs:
  - job_name: shepherd-serve
    static_configs: [{targets: [%[2]q]}]
  - job_name: shepherd-worker
    static_configs: [{targets: [%[3]q]}]
`, scrapeInterval, serveAddr, workerAddr)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	prom := testkit.StartProcess(t, "prometheus", cmd)
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-prom.Done():
			t.Fatalf("prometheus exited:\n%s", prom.Out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus at %s not ready: %v", base, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

// runJob submits a job of simulator problems and reads its label stream
// to the end; the job must succeed.
func runJob(t *testing.T, ctx context.Context, c shepherdv1.ShepherdServiceClient) {
	t.Helper()
	ds := sim.GenerateDataset(sim.DatasetOptions{Seed: 5, Problems: 12, SolutionsPerProblem: 4, MinOps: 3, MaxOps: 6, ErrorRate: 0.5})
	var problems []*shepherdv1.Problem
	for _, p := range ds {
		pp := &shepherdv1.Problem{Id: p.ID, Question: p.Question, Answer: p.Answer}
		for _, s := range p.Solutions {
			pp.Solutions = append(pp.Solutions, &shepherdv1.Solution{Id: s.ID, Body: &shepherdv1.Solution_Text{Text: s.Text}})
		}
		problems = append(problems, pp)
	}
	resp, err := c.SubmitJob(ctx, &shepherdv1.SubmitJobRequest{RequestId: "dashboard", Model: model,
		Spec: &shepherdv1.JobSpec{Strategy: shepherdv1.Strategy_STRATEGY_BINARY, N: proto.Int32(4), Seed: 3}, Problems: problems})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.StreamLabels(ctx, &shepherdv1.StreamLabelsRequest{JobId: resp.Job.Id})
	if err != nil {
		t.Fatal(err)
	}
	records := 0
	var final *shepherdv1.Job
	for {
		msg, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch e := msg.Event.(type) {
		case *shepherdv1.StreamLabelsResponse_Record:
			records++
		case *shepherdv1.StreamLabelsResponse_Job:
			final = e.Job
		}
	}
	if final == nil || final.State != shepherdv1.JobState_JOB_STATE_SUCCEEDED || records == 0 {
		t.Fatalf("job ended %v with %d records, want SUCCEEDED", final, records)
	}
}
