package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/internal/testkit"
	"github.com/shepherd-prm/shepherd/labeler"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/server/servertest"
)

// bin is the shepherd binary TestMain builds.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "shepherd-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "shepherd")
	build := exec.Command("go", "build", "-o", bin, "github.com/shepherd-prm/shepherd/cmd/shepherd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building shepherd:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a shepherd process owned by a test.
type proc struct {
	*testkit.Process
	t testing.TB
}

// start runs `shepherd args...`; it is killed when the test ends, and its
// output is logged when the test fails (or SHEPHERD_TEST_LOGS is set).
func start(t testing.TB, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = cleanEnv()
	return &proc{Process: testkit.StartProcess(t, name, cmd), t: t}
}

// cleanEnv is the test's environment without SHEPHERD_* variables, which
// would set the processes' flags.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SHEPHERD_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitLog waits for a line of the output matching re and returns its
// submatches.
func (p *proc) waitLog(re *regexp.Regexp, timeout time.Duration) []string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(p.Out.String()); m != nil {
			return m
		}
		select {
		case <-p.Done():
			if m := re.FindStringSubmatch(p.Out.String()); m != nil {
				return m
			}
			p.t.Fatalf("%s exited with %d before logging %q", p.Name, p.ExitCode(), re)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s did not log %q within %v", p.Name, re, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signalling %s: %v", p.Name, err)
	}
}

// wait waits for the process to exit and returns its exit code and how
// long it took.
func (p *proc) wait(timeout time.Duration) (int, time.Duration) {
	p.t.Helper()
	begin := time.Now()
	select {
	case <-p.Done():
		return p.ExitCode(), time.Since(begin)
	case <-time.After(timeout):
		p.t.Fatalf("%s still running after %v", p.Name, timeout)
		return -1, 0
	}
}

// stop sends SIGTERM and checks that the process exits with 0 within
// timeout.
func (p *proc) stop(timeout time.Duration) time.Duration {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	code, d := p.wait(timeout)
	if code != 0 {
		p.t.Fatalf("%s exited with %d after SIGTERM, want 0", p.Name, code)
	}
	return d
}

var (
	servingRE = regexp.MustCompile(`msg="serving shepherd" addr=(\S+)`)
	metricsRE = regexp.MustCompile(`msg="serving metrics" url=(\S+)`)
)

// scrape reads the value of an unlabelled metric from a /metrics URL.
func scrape(t testing.TB, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", url, sc.Text(), err)
			}
			return f
		}
	}
	t.Fatalf("%s: no metric %s", url, name)
	return 0
}

// Timings of the processes in tests: short leases and blocking reads.
var (
	serveTimings  = []string{"--job-lease-ttl", "1s", "--queue-block", "200ms", "--shutdown-timeout", "2s", "--log-level", "debug"}
	workerTimings = []string{"--lease-ttl", "1s", "--queue-block", "200ms", "--drain-timeout", "3s", "--max-retries", "2", "--timeout", "10s"}
)

// startServe runs `shepherd serve` on listen (127.0.0.1:0 for a free
// port) and returns it with its address.
func startServe(t testing.TB, name, listen string, redisArgs []string, extra ...string) (*proc, string) {
	t.Helper()
	args := append([]string{"serve", "--listen", listen}, redisArgs...)
	args = append(args, serveTimings...)
	args = append(args, extra...)
	p := start(t, name, args...)
	addr := p.waitLog(servingRE, 30*time.Second)[1]
	return p, addr
}

// startWorker runs `shepherd worker` on backend for model sim.
func startWorker(t testing.TB, name, backend string, redisArgs []string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"worker", "--backend", backend, "--model", "sim"}, redisArgs...)
	args = append(args, workerTimings...)
	args = append(args, extra...)
	p := start(t, name, args...)
	p.waitLog(regexp.MustCompile(`msg="worker started"`), 30*time.Second)
	return p
}

// startSim serves a simulator over HTTP for the worker processes and
// returns its base URL. Latency changes nothing of the samples: every
// simulator of the tests, and label's --backend sim, is the same world.
func startSim(t *testing.T, opt sim.Options) (string, *sim.Server) {
	t.Helper()
	opt.Model = "sim"
	return serveSim(t, opt)
}

// serveSim serves a simulator with opt as given (startSim forces the
// model name) and returns its base URL.
func serveSim(t *testing.T, opt sim.Options) (string, *sim.Server) {
	t.Helper()
	srv := sim.New(opt)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Close(); hs.Close() })
	return hs.URL + "/v1", srv
}

// runLabel runs `shepherd label args...` to the end and returns its exit
// status, output and duration.
func runLabel(t *testing.T, stdin string, args ...string) (int, string, time.Duration) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"label", "--progress", "never"}, args...)...)
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	testkit.SetPdeathsig(cmd)
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("running label: %v", err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), d
}

func redisURL(addr string) []string { return []string{"--redis", "redis://" + addr + "/0"} }

// dataset is a simulator data set: as problems, and as an input file.
type dataset struct {
	problems []labeler.Problem
	file     string
	total    int
}

func newDataset(t testing.TB, seed int64, problems, perProblem int) dataset {
	t.Helper()
	ds := sim.GenerateDataset(sim.DatasetOptions{Seed: seed, Problems: problems, SolutionsPerProblem: perProblem, MinOps: 3, MaxOps: 5, ErrorRate: 0.5})
	d := dataset{file: filepath.Join(t.TempDir(), "in.jsonl")}
	var buf bytes.Buffer
	for _, p := range ds {
		lp := labeler.Problem{ID: p.ID, Question: p.Question, Answer: p.Answer}
		for _, s := range p.Solutions {
			lp.Solutions = append(lp.Solutions, labeler.SolutionInput{ID: s.ID, Text: s.Text})
		}
		d.problems = append(d.problems, lp)
		d.total += len(lp.Solutions)
		b, _ := json.Marshal(lp)
		buf.Write(append(b, '\n'))
	}
	if err := os.WriteFile(d.file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return d
}

// reference labels the data set with the embedded `shepherd label`
// (in-process queue and simulator) and returns its records as JSON by
// solution.
func (d dataset) reference(t *testing.T, n int, seed int64) map[string]string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ref.jsonl")
	cmd := exec.Command(bin, "label", "--backend", "sim", "--in", d.file, "--out", out,
		"--n", fmt.Sprint(n), "--seed", fmt.Sprint(seed), "--progress", "never")
	cmd.Env = cleanEnv()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("embedded label: %v\n%s", err, b)
	}
	return readRecordFile(t, out)
}

// readRecordFile reads label records, normalised to json.Marshal's
// encoding, by solution.
func readRecordFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r labeler.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		k := r.ProblemID + "/" + r.SolutionID
		if _, dup := out[k]; dup {
			t.Fatalf("%s: record %s twice", path, k)
		}
		out[k] = servertest.RecordJSON(t, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func dial(t testing.TB, addr string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr, client.Options{Insecure: true, MinBackoff: 20 * time.Millisecond, MaxBackoff: 300 * time.Millisecond, MaxOutage: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// received is what a label stream delivered.
type received struct {
	keys    []string          // in stream order
	records map[string]string // JSON by solution
	final   *shepherdv1.Job
}

// follow reads a stream to its end, failing on a duplicate; at(n) runs
// after the n-th record when n == after.
func follow(t *testing.T, s *client.Stream, after int, at func()) received {
	t.Helper()
	got := received{records: map[string]string{}}
	for s.Next() {
		r := s.Event().Record
		if r == nil {
			continue
		}
		k := r.ProblemID + "/" + r.SolutionID
		if _, dup := got.records[k]; dup {
			t.Fatalf("record %s delivered twice", k)
		}
		got.records[k] = servertest.RecordJSON(t, *r)
		got.keys = append(got.keys, k)
		if len(got.keys) == after && at != nil {
			at()
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("label stream: %v (after %d records)", err, len(got.keys))
	}
	got.final = s.Job()
	return got
}

// checkJob checks a job that ran with n rollouts per step against the
// reference labels: every record once, equal to the embedded path's, every
// step but the last with exactly n rollouts counted, and final counts
// that add up.
func checkJob(t *testing.T, got received, want map[string]string, n int) {
	t.Helper()
	f := got.final
	if f.GetState() != shepherdv1.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("final job %v, want SUCCEEDED", f)
	}
	if int(f.GetSolutionsDone()) != len(want) || f.GetTasksFailed() != 0 || f.GetTasksDone() == 0 {
		t.Errorf("final counts: %v", f)
	}
	if f.GetTasksDone() != f.GetTasksTotal() {
		t.Errorf("tasks_done %d, tasks_total %d: %v", f.GetTasksDone(), f.GetTasksTotal(), f)
	}
	if len(got.records) != len(want) {
		t.Errorf("got %d records, want %d", len(got.records), len(want))
	}
	var tokens int64 // over the records, which the API carries
	for k, w := range want {
		g, ok := got.records[k]
		if !ok {
			t.Errorf("record %s missing", k)
			continue
		}
		if servertest.WithoutTokens(g) != servertest.WithoutTokens(w) {
			t.Errorf("record %s differs from the embedded path's:\n got  %s\n want %s", k, g, w)
		}
		var r labeler.Record
		_ = json.Unmarshal([]byte(g), &r)
		tokens += r.CompletionTokens
		for i, c := range r.Rollouts {
			if want := n; i == len(r.Rollouts)-1 {
				if c != 0 {
					t.Errorf("record %s: last step has %d rollouts, want 0 (its label is the outcome)", k, c)
				}
			} else if c != want {
				t.Errorf("record %s: step %d has %d rollouts, want %d", k, i, c, want)
			}
		}
	}
	if tokens == 0 {
		t.Errorf("the records carry no completion tokens (job: %d)", f.GetCompletionTokens())
	}
}

// readLabelsSoFar reads what label has written to out so far: a new --out
// is written through a temporary file beside it (".labels.jsonl.tmp-*")
// that is renamed to out when the run ends.
func readLabelsSoFar(out string) []byte {
	if b, err := os.ReadFile(out); err == nil {
		return b
	}
	tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*"))
	for _, p := range tmps {
		if b, err := os.ReadFile(p); err == nil {
			return b
		}
	}
	return nil
}

// memKB reads a field of /proc/PID/status (VmRSS, VmHWM) in kB.
func memKB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Skipf("reading the process's memory: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatalf("%s: %q: %v", field, line, err)
			}
			return n
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}
