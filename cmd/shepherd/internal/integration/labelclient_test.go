package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

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
	if len(got) != len(want) {
		t.Errorf("got %d records, want %d", len(got), len(want))
	}
	sameRecords(t, got, want, nil)
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
	if o := label.out.String(); !strings.Contains(o, "giving up") {
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
	if o := withToken.out.String(); !strings.Contains(o, "sends the bearer token in plaintext") {
		t.Errorf("no plaintext warning with --token and --insecure:\n%s", o)
	}
	_, noAuthAddr := startServe(t, "serve-open", "127.0.0.1:0", redisURL(rs.Addr))
	noToken := start(t, "label", labelArgs(noAuthAddr, ds, filepath.Join(t.TempDir(), "b.jsonl"))...)
	if code, _ := noToken.wait(60 * time.Second); code != 0 {
		t.Fatalf("label exited with %d", code)
	}
	if o := noToken.out.String(); strings.Contains(o, "plaintext") {
		t.Errorf("plaintext warning without a token:\n%s", o)
	}
}
