package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/server/servertest"
)

// Exit statuses of shepherd (cmd/shepherd/exitcode.go).
const (
	exitError     = 1
	exitUsage     = 2
	exitPartial   = 3
	exitNoBackend = 4
)

// TestMisconfiguredWorkerTakesNoTasks: of two workers, one is pointed at a
// backend that serves another model. It says why and exits with status 4
// without taking a task; the job completes on the other with no failed
// step and the labels of a clean run.
func TestMisconfiguredWorkerTakesNoTasks(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	goodURL, _ := startSim(t, sim.Options{Latency: 5 * time.Millisecond})
	badURL, badSim := serveSim(t, sim.Options{Model: "other"})
	serve, addr := startServe(t, "serve", "127.0.0.1:0", redisURL(rs.Addr))
	good := startWorker(t, "good-worker", goodURL, redisURL(rs.Addr), "--tasks", "8")
	bad := start(t, "bad-worker", append(append([]string{"worker", "--backend", badURL, "--model", "sim"}, redisURL(rs.Addr)...), workerTimings...)...)
	if code, _ := bad.wait(10 * time.Second); code != exitNoBackend {
		t.Errorf("bad worker exited with %d, want %d", code, exitNoBackend)
	}
	if out := bad.Out.String(); !strings.Contains(out, badURL) || !strings.Contains(out, `does not serve model \"sim\" (it serves \"other\")`) {
		t.Errorf("bad worker's log does not say why:\n%s", out)
	}
	if n := badSim.Stats().Requests; n != 0 {
		t.Errorf("the bad backend got %d generation requests", n)
	}

	ds := newDataset(t, 31, 6, 3)
	want := ds.reference(t, testN, testSeed)
	c := dial(t, addr)
	got := follow(t, c.LabelSolutions(testCtx(t), client.Request{Model: "sim", Spec: spec(), Problems: ds.problems}), -1, nil)
	checkJob(t, got, want, testN)
	for id, r := range got.records {
		if strings.Contains(r, "failed_steps") {
			t.Errorf("%s: failed steps in %s", id, r)
		}
	}
	good.stop(10 * time.Second)
	serve.stop(10 * time.Second)
}

// TestLabelFailsFastOnBadBackend: label against a closed port, a backend
// serving another model, or one refusing the key exits with status 4
// within 10 s, naming the backend and quoting the server.
func TestLabelFailsFastOnBadBackend(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + lis.Addr().String() + "/v1"
	lis.Close()
	otherURL, _ := serveSim(t, sim.Options{Model: "other"})
	keyURL, _ := serveSim(t, sim.Options{Model: "sim", APIKey: "right"})
	ds := newDataset(t, 32, 2, 2)
	for _, c := range []struct {
		name, backend string
		extra         []string
		want          string
	}{
		{"closed port", closed, nil, "connection refused"},
		{"unknown model", otherURL, nil, `does not serve model "sim" (it serves "other")`},
		{"refused key", keyURL, []string{"--api-key", "wrong"}, `401 Unauthorized: "Unauthorized"`},
	} {
		out := filepath.Join(t.TempDir(), "labels.jsonl")
		args := append([]string{"--in", ds.file, "--out", out, "--backend", c.backend, "--model", "sim"}, c.extra...)
		code, stderr, d := runLabel(t, "", args...)
		if code != exitNoBackend || d > 10*time.Second {
			t.Errorf("%s: exit %d after %v, want %d within 10s", c.name, code, d, exitNoBackend)
		}
		if !strings.Contains(stderr, "backend "+c.backend) || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: message %q does not name the backend and quote %q", c.name, stderr, c.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: --out created (%v)", c.name, err)
		}
	}
}

// TestOutSurvivesFailedRun: a run that fails on a bad input line, a bad
// flag or a bad backend leaves an existing --out byte for byte as it was,
// with and without --resume, from a file or from standard input.
func TestOutSurvivesFailedRun(t *testing.T) {
	t.Parallel()
	ds := newDataset(t, 33, 3, 2)
	out := filepath.Join(t.TempDir(), "labels.jsonl")
	if code, stderr, _ := runLabel(t, "", "--in", ds.file, "--out", out, "--backend", "sim"); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, stderr)
	}
	before, err := os.ReadFile(out)
	if err != nil || len(before) == 0 {
		t.Fatalf("first run wrote %d bytes (%v)", len(before), err)
	}
	good, _ := os.ReadFile(ds.file)
	badInput := filepath.Join(t.TempDir(), "bad.jsonl")
	// A good line, then a misspelt field on the last line.
	if err := os.WriteFile(badInput, append(good, []byte(`{"id": "x", "question": "q", "answr": "1", "solutions": ["a"]}`+"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		stdin string
		args  []string
		code  int
	}{
		{"bad input line", "", []string{"--in", badInput, "--backend", "sim"}, exitError},
		{"bad input line, resume", "", []string{"--in", badInput, "--backend", "sim", "--resume"}, exitError},
		{"bad input line on stdin", string(good) + "{not json\n", []string{"--in", "-", "--backend", "sim"}, exitError},
		{"bad flag", "", []string{"--in", ds.file, "--backend", "sim", "--n", "0"}, exitUsage},
		{"missing --model", "", []string{"--in", ds.file, "--backend", "http://127.0.0.1:9/v1"}, exitUsage},
		{"unknown flag", "", []string{"--in", ds.file, "--backend", "sim", "--sead", "1"}, exitUsage},
		{"closed port", "", []string{"--in", ds.file, "--backend", "http://127.0.0.1:9/v1", "--model", "sim"}, exitNoBackend},
	} {
		code, stderr, _ := runLabel(t, c.stdin, append([]string{"--out", out}, c.args...)...)
		if code != c.code {
			t.Errorf("%s: exit %d, want %d: %s", c.name, code, c.code, stderr)
		}
		after, err := os.ReadFile(out)
		if err != nil || !bytes.Equal(after, before) {
			t.Errorf("%s: --out changed (%d bytes, was %d; %v)", c.name, len(after), len(before), err)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("left behind in --out's directory: %v", entries)
	}

	// A new --out keeps what a failed run labelled (it destroys nothing),
	// and --resume goes on from it to the labels of a clean run.
	fresh := filepath.Join(t.TempDir(), "fresh.jsonl")
	// A small window reads the input as labelling goes, so solutions are
	// done before the bad line is read.
	code, stderr, _ := runLabel(t, string(good)+"{not json\n", "--in", "-", "--out", fresh, "--backend", "sim", "--window", "1")
	if code != exitError || !strings.Contains(stderr, "rerun with --resume to go on") {
		t.Errorf("bad line on stdin into a new --out: exit %d: %s", code, stderr)
	}
	if code, stderr, _ := runLabel(t, "", "--in", ds.file, "--out", fresh, "--backend", "sim", "--resume"); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	want, got := readRecordFile(t, out), readRecordFile(t, fresh)
	servertest.SameRecords(t, got, want, servertest.WithoutTokens) // after the resume
}

// TestPoisonStep: a step that makes its prefix longer than the server's
// context fails its task with vLLM's 400; the record carries null labels
// there, fields that agree with each other, and label exits with status 3
// printing the server's message with its count.
func TestPoisonStep(t *testing.T) {
	t.Parallel()
	url, _ := serveSim(t, sim.Options{Model: "sim", MaxModelLen: 600})
	ds := newDataset(t, 34, 2, 2)
	long := strings.Repeat("and so on ", 400)
	poison := labeler.Problem{ID: "poison", Question: ds.problems[0].Question, Answer: ds.problems[0].Answer,
		Solutions: []labeler.SolutionInput{{ID: "poison-0", Steps: []string{"Let us think.", long, "More.", "The answer is 1."}}}}
	b, _ := json.Marshal(poison)
	in, _ := os.ReadFile(ds.file)
	file := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(file, append(in, append(b, '\n')...), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "labels.jsonl")
	code, stderr, _ := runLabel(t, "", "--in", file, "--out", out, "--backend", url, "--model", "sim", "--max-tokens", "64", "--n", "4")
	if code != exitPartial {
		t.Fatalf("exit %d, want %d: %s", code, exitPartial, stderr)
	}
	// Two tasks (steps 1 and 2), each with its own token count in vLLM's
	// message: two distinct messages, once each.
	if !strings.Contains(stderr, "2 tasks failed:") || strings.Count(stderr, "1× rollout: "+url+": 400 Bad Request: This model's maximum context length is 600 tokens.") != 2 {
		t.Errorf("stderr does not show the server's message with its count:\n%s", stderr)
	}
	recs := readRecordFile(t, out)
	if len(recs) != ds.total+1 {
		t.Fatalf("%d records, want %d", len(recs), ds.total+1)
	}
	for id, line := range recs {
		var raw struct {
			Labels         []*bool    `json:"labels"`
			SoftLabels     []*float64 `json:"soft_labels"`
			FailedSteps    []int      `json:"failed_steps"`
			FirstErrorStep int        `json:"first_error_step"`
			MinScore       *float64   `json:"min_score"`
		}
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatal(err)
		}
		if id != "poison/poison-0" {
			if len(raw.FailedSteps) > 0 {
				t.Errorf("%s: failed steps %v", id, raw.FailedSteps)
			}
			continue
		}
		// Steps 1 and 2 carry the long step; step 3 is the outcome.
		if fmt.Sprint(raw.FailedSteps) != "[1 2]" || raw.Labels[1] != nil || raw.Labels[2] != nil || raw.SoftLabels[1] != nil || raw.SoftLabels[2] != nil {
			t.Errorf("poison record: %s", line)
		}
		// The fields agree: first_error_step is the first labelled step
		// whose label is false, min_score the least score of the labelled
		// steps.
		first, minScore := -1, 2.0
		for i, l := range raw.Labels {
			if l == nil {
				continue
			}
			if !*l && first < 0 {
				first = i
			}
			s := 0.0
			if raw.SoftLabels[i] != nil {
				s = *raw.SoftLabels[i]
			} else if *l {
				s = 1
			}
			minScore = min(minScore, s)
		}
		if raw.FirstErrorStep != first || raw.MinScore == nil || *raw.MinScore != minScore {
			t.Errorf("poison record disagrees with itself (first error %d, min score %v): %s", first, minScore, line)
		}
	}
}

// fourFaults is a simulator with latency that answers 500, 429, a
// truncated body or nothing (for a minute) to 5% of requests each.
func fourFaults(latency time.Duration, seed int64) sim.Options {
	return sim.Options{Model: "sim", Latency: latency, Rate500: 0.05, Rate429: 0.05, RateTruncated: 0.05, RateHang: 0.05, HangFor: time.Minute, FaultSeed: seed}
}

// faultsAgainstClean runs a job through run against a clean simulator
// with latency, then against one with the same latency and four faults
// (fourFaults with faultSeed), and checks that the faults cost less than
// three times the clean time; run returns its result and the job's time.
// It takes half a minute: it skips in -short mode and runs in parallel.
func faultsAgainstClean[R any](t *testing.T, faultSeed int64, run func(name, backend string) (R, time.Duration)) (clean, faulty R, faultySim *sim.Server) {
	t.Helper()
	if testing.Short() {
		t.Skip("takes half a minute")
	}
	t.Parallel()
	latency := 500 * time.Millisecond
	cleanURL, _ := serveSim(t, sim.Options{Model: "sim", Latency: latency})
	faultyURL, faultySim := serveSim(t, fourFaults(latency, faultSeed))
	clean, cleanTime := run("clean", cleanURL)
	faulty, faultyTime := run("faulty", faultyURL)
	t.Logf("clean %v, with faults %v (%.2fx)", cleanTime, faultyTime, faultyTime.Seconds()/cleanTime.Seconds())
	if faultyTime > 3*cleanTime {
		t.Errorf("with faults the job took %v, more than 3x the clean %v", faultyTime, cleanTime)
	}
	return clean, faulty, faultySim
}

// TestFourFaultsWithinThreeTimesClean: against a server that answers 500,
// 429, truncated bodies and hangs (a short per-request timeout), a job
// takes less than three times a clean run's time and gets the same labels.
func TestFourFaultsWithinThreeTimesClean(t *testing.T) {
	ds := newDataset(t, 35, 30, 4)
	cleanOut, faultyOut, faulty := faultsAgainstClean(t, 7, func(name, url string) (string, time.Duration) {
		out := filepath.Join(t.TempDir(), name+".jsonl")
		code, stderr, d := runLabel(t, "", "--in", ds.file, "--out", out, "--backend", url, "--model", "sim", "--n", "4", "--timeout", "1500ms")
		if code != 0 {
			t.Fatalf("%s run: exit %d: %s", name, code, stderr)
		}
		return out, d
	})
	st := faulty.Stats()
	t.Logf("faults: %d 500, %d 429, %d truncated, %d hung", st.Fault500, st.Fault429, st.FaultTruncated, st.FaultHang)
	if st.Fault500 == 0 || st.Fault429 == 0 || st.FaultTruncated == 0 || st.FaultHang == 0 {
		t.Errorf("not every fault happened: %+v", st)
	}
	want, got := readRecordFile(t, cleanOut), readRecordFile(t, faultyOut)
	servertest.SameRecords(t, got, want, nil) // with faults as clean
}

// TestWorkerLosesItsBackend: mid-job, one worker's only backend goes away
// (its port closes). That worker hands its tasks back uncounted, takes no
// more, and says so in its log, its /healthz (503), its metrics
// (shepherd_backend_up 0) and its exit status (4 when stopped); the other
// worker finishes the job with no failed step and the labels of a clean
// run.
func TestWorkerLosesItsBackend(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	goodURL, _ := startSim(t, sim.Options{Latency: 20 * time.Millisecond})
	flakySim := sim.New(sim.Options{Model: "sim", Latency: 20 * time.Millisecond})
	flaky := httptest.NewServer(flakySim)
	t.Cleanup(func() { flakySim.Close(); flaky.Close() })
	flakyURL := flaky.URL + "/v1"
	serve, addr := startServe(t, "serve", "127.0.0.1:0", redisURL(rs.Addr), "--window", "4")
	lost := startWorker(t, "worker-losing-backend", flakyURL, redisURL(rs.Addr), "--tasks", "4", "--metrics-listen", "127.0.0.1:0", "--max-deliveries", "2")
	metricsURL := lost.waitLog(metricsRE, 5*time.Second)[1]
	good := startWorker(t, "good-worker", goodURL, redisURL(rs.Addr), "--tasks", "4", "--max-deliveries", "2")

	ds := newDataset(t, 36, 8, 3)
	want := ds.reference(t, testN, testSeed)
	c := dial(t, addr)
	got := follow(t, c.LabelSolutions(testCtx(t), client.Request{Model: "sim", Spec: spec(), Problems: ds.problems}), 3, func() {
		flakySim.Close() // ends hung requests
		flaky.CloseClientConnections()
		flaky.Close()
		lost.waitLog(regexp.MustCompile(`msg="no usable backend; taking no tasks until one is back"`), 10*time.Second)
	})
	checkJob(t, got, want, testN)
	for id, r := range got.records {
		if strings.Contains(r, "failed_steps") {
			t.Errorf("%s: failed steps in %s", id, r)
		}
	}
	health := strings.TrimSuffix(metricsURL, "/metrics") + "/healthz"
	resp, err := http.Get(health)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), flakyURL) || !strings.Contains(string(body), "unreachable") {
		t.Errorf("/healthz: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	// The backend label is the URL's host:port.
	if up := `shepherd_backend_up{backend="` + strings.TrimPrefix(flaky.URL, "http://") + `"} 0`; !strings.Contains(string(body), up) {
		t.Errorf("metrics do not show %s:\n%s", up, body)
	}
	lost.signal(syscall.SIGTERM)
	if code, _ := lost.wait(10 * time.Second); code != exitNoBackend {
		t.Errorf("worker without a backend exited with %d after SIGTERM, want %d", code, exitNoBackend)
	}
	good.stop(10 * time.Second)
	serve.stop(10 * time.Second)
}

// TestLabelReportsServerErrors: work that fails makes label exit with
// status 3 and print the server's distinct messages with their counts:
// every request rejected (n above the server's limit), and --max-retries
// 0 against a server failing a third of its requests, which fails those
// tasks at once instead of retrying.
func TestLabelReportsServerErrors(t *testing.T) {
	t.Parallel()
	ds := newDataset(t, 37, 4, 2)
	url, _ := serveSim(t, sim.Options{Model: "sim"})
	code, stderr, _ := runLabel(t, "", "--in", ds.file, "--out", filepath.Join(t.TempDir(), "a.jsonl"), "--backend", url, "--model", "sim", "--n", "129")
	if code != exitPartial || !regexp.MustCompile(`(\d+) tasks failed:\n  (\d+)× rollout: `+regexp.QuoteMeta(url)+`: 400 Bad Request: n must be at most 128, got 129\.\n`).MatchString(stderr) {
		t.Errorf("--n 129: exit %d: %s", code, stderr)
	}
	flakyURL, flaky := serveSim(t, sim.Options{Model: "sim", Rate500: 0.3, FaultSeed: 3})
	code, stderr, d := runLabel(t, "", "--in", ds.file, "--out", filepath.Join(t.TempDir(), "b.jsonl"), "--backend", flakyURL, "--model", "sim", "--max-retries", "0")
	m := regexp.MustCompile(`(\d+) tasks failed:\n  (\d+)× rollout: ` + regexp.QuoteMeta(flakyURL) + `: 500 Internal Server Error: giving up after 1 attempts: simulated internal server error\n`).FindStringSubmatch(stderr)
	if code != exitPartial || m == nil || m[1] != m[2] || d > 10*time.Second {
		t.Fatalf("--max-retries 0: exit %d after %v: %s", code, d, stderr)
	}
	if n := fmt.Sprint(flaky.Stats().Fault500); n != m[1] {
		t.Errorf("%s tasks failed, the server failed %s requests: each should fail its task once", m[1], n)
	}
}

// TestFourFaultsDistributed: the same faults behind serve and a worker on
// Redis: the job takes less than three times a clean job's time and gets
// its labels.
func TestFourFaultsDistributed(t *testing.T) {
	ds := newDataset(t, 38, 20, 4)
	clean, faulty, _ := faultsAgainstClean(t, 8, func(name, url string) (received, time.Duration) {
		rs := redistest.Start(t)
		serve, addr := startServe(t, name+"-serve", "127.0.0.1:0", redisURL(rs.Addr))
		w := startWorker(t, name+"-worker", url, redisURL(rs.Addr), "--tasks", "64", "--timeout", "1500ms", "--max-retries", "5")
		c := dial(t, addr)
		start := time.Now()
		got := follow(t, c.LabelSolutions(testCtx(t), client.Request{Model: "sim", Spec: spec(), Problems: ds.problems}), -1, nil)
		d := time.Since(start)
		w.stop(10 * time.Second)
		serve.stop(10 * time.Second)
		return got, d
	})
	checkJob(t, faulty, clean.records, testN)
}

// label --server against a server that is full, gone, or reached without
// TLS.

func labelArgs(addr string, ds dataset, out string, extra ...string) []string {
	args := []string{"label", "--server", addr, "--insecure", "--model", "sim", "--in", ds.file, "--out", out,
		"--n", fmt.Sprint(testN), "--seed", fmt.Sprint(testSeed), "--progress", "never"}
	return append(args, extra...)
}

// TestLabelWaitsForAdmission: a server at its admission bound answers
// RESOURCE_EXHAUSTED with a retry delay; label --server waits as asked and
// submits again (rather than giving up), and its job completes once
// workers made room.
func TestLabelWaitsForAdmission(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	simURL, _ := startSim(t, sim.Options{})
	_, addr := startServe(t, "serve", "127.0.0.1:0", redisURL(rs.Addr), "--max-queued-tasks", "1")
	c := dial(t, addr)
	ctx := testCtx(t)
	// A job with no worker yet fills the queue.
	backlog := newDataset(t, 21, 2, 2)
	if _, err := c.Submit(ctx, client.Request{Model: "sim", Spec: spec(), Problems: backlog.problems}); err != nil {
		t.Fatal(err)
	}
	ds := newDataset(t, 22, 3, 2)
	want := ds.reference(t, testN, testSeed)
	out := filepath.Join(t.TempDir(), "labels.jsonl")
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	waitFor(t, "the backlog to fill the queue", 20*time.Second, func() bool {
		return rdb.XLen(ctx, "shepherd:{model:sim}:work").Val() >= 1
	})
	label := start(t, "label", labelArgs(addr, ds, out)...)
	m := label.waitLog(regexp.MustCompile(`the server refuses new work for now \(.*\); retrying in (\S+)\n`), 20*time.Second)
	if d, err := time.ParseDuration(m[1]); err != nil || d < 5*time.Second {
		t.Errorf("label retries in %s, not after the server's retry delay of 5s (%v)", m[1], err)
	}
	refusedAt := time.Now()
	startWorker(t, "worker", simURL, redisURL(rs.Addr))
	code, _ := label.wait(60 * time.Second)
	if code != 0 {
		t.Fatalf("label exited with %d", code)
	}
	t.Logf("label finished %v after its first refusal", time.Since(refusedAt).Round(time.Millisecond))
	got := readRecordFile(t, out)
	servertest.SameRecords(t, got, want, nil)
}

// TestLabelGivesUpOnDeadServer: the server dies mid-job and does not come
// back; label --server gives up after --max-outage with a non-zero exit
// and says why.
func TestLabelGivesUpOnDeadServer(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	simURL, _ := startSim(t, sim.Options{Latency: 100 * time.Millisecond})
	serve, addr := startServe(t, "serve", "127.0.0.1:0", redisURL(rs.Addr), "--window", "2")
	startWorker(t, "worker", simURL, redisURL(rs.Addr))
	ds := newDataset(t, 23, 8, 3)
	out := filepath.Join(t.TempDir(), "labels.jsonl")
	label := start(t, "label", labelArgs(addr, ds, out, "--max-outage", "2s")...)
	waitFor(t, "a first record", 30*time.Second, func() bool {
		b := readLabelsSoFar(out)
		return len(b) > 0
	})
	serve.signal(syscall.SIGKILL)
	code, d := label.wait(30 * time.Second)
	t.Logf("label exited with %d %v after the server died", code, d.Round(time.Millisecond))
	if code == 0 {
		t.Error("label exited 0 with the job unfinished")
	}
	if d > 10*time.Second {
		t.Errorf("label took %v to give up with --max-outage 2s", d)
	}
	if o := label.Out.String(); !strings.Contains(o, "giving up") {
		t.Errorf("label's output does not say it gave up:\n%s", o)
	}
}

// TestInsecureTokenWarning: a bearer token sent without TLS is warned
// about; without a token there is nothing to warn about.
func TestInsecureTokenWarning(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	simURL, _ := startSim(t, sim.Options{})
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, addr := startServe(t, "serve", "127.0.0.1:0", redisURL(rs.Addr), "--tokens-file", tokens)
	startWorker(t, "worker", simURL, redisURL(rs.Addr))
	ds := newDataset(t, 24, 1, 1)
	withToken := start(t, "label", labelArgs(addr, ds, filepath.Join(t.TempDir(), "a.jsonl"), "--token", "s3cret")...)
	if code, _ := withToken.wait(60 * time.Second); code != 0 {
		t.Fatalf("label exited with %d", code)
	}
	if o := withToken.Out.String(); !strings.Contains(o, "sends the bearer token in plaintext") {
		t.Errorf("no plaintext warning with --token and --insecure:\n%s", o)
	}
	_, noAuthAddr := startServe(t, "serve-open", "127.0.0.1:0", redisURL(rs.Addr))
	noToken := start(t, "label", labelArgs(noAuthAddr, ds, filepath.Join(t.TempDir(), "b.jsonl"))...)
	if code, _ := noToken.wait(60 * time.Second); code != 0 {
		t.Fatalf("label exited with %d", code)
	}
	if o := noToken.Out.String(); strings.Contains(o, "plaintext") {
		t.Errorf("plaintext warning without a token:\n%s", o)
	}
}
