package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
)

// TestScoreThroughServer: score --server writes what in-process scoring
// writes, line for line, for the built-in layouts and aggregations.
func TestScoreThroughServer(t *testing.T) {
	rs := redistest.Start(t)
	dir := t.TempDir()
	in := writeFile(t, dir, "in.jsonl", firstLines(t, filepath.Join("..", "..", "examples", "sim-problems.jsonl"), 6))
	_, addr := startServeCmd(t, rs.Addr, "--prm", "sim")
	for _, agg := range []string{"min", "prod", "mean"} {
		local := filepath.Join(dir, "local-"+agg+".jsonl")
		code, _, stderr := runShepherd(t, "", "score", "--prm", "sim", "--in", in, "--out", local, "--aggregate", agg)
		if code != 0 {
			t.Fatalf("score: %s", stderr)
		}
		remote := filepath.Join(dir, "remote-"+agg+".jsonl")
		code, _, stderr = runShepherd(t, "", "score", "--server", addr, "--insecure", "--model", "sim-prm", "--in", in, "--out", remote, "--aggregate", agg)
		if code != 0 {
			t.Fatalf("score --server: %s", stderr)
		}
		if got, want := readAll(t, remote), readAll(t, local); got != want {
			t.Errorf("aggregate %s: score --server wrote\n%s\nwant\n%s", agg, got, want)
		}
	}
	code, _, stderr := runShepherd(t, "", "score", "--server", addr, "--insecure", "--model", "other", "--in", in)
	if code == 0 || !strings.Contains(stderr, "NotFound") {
		t.Errorf("unknown model: exit %d, %s", code, stderr)
	}
	code, _, stderr = runShepherd(t, "", "score", "--server", addr, "--insecure", "--prm", "sim", "--model", "sim-prm", "--in", in)
	if code != 2 || !strings.Contains(stderr, "--prm does not go with --server") {
		t.Errorf("--prm with --server: exit %d, %s", code, stderr)
	}
}

// TestScoreMonteCarloThroughServer: score --server --mode mc runs its
// rollouts on the workers of serve's queue and writes what in-process
// Monte-Carlo scoring writes, with and without gold answers, for fixed
// seeds.
func TestScoreMonteCarloThroughServer(t *testing.T) {
	rs := redistest.Start(t)
	dir := t.TempDir()
	in := writeFile(t, dir, "in.jsonl", scoreProblems+firstLines(t, filepath.Join("..", "..", "examples", "sim-problems.jsonl"), 3))
	conf := writeFile(t, dir, "worker.conf", "model sim\nbackend sim\nconcurrency 4\n")
	_, addr := startServeCmd(t, rs.Addr)
	startWorkerCmd(t, rs.Addr, "--config", conf)
	for _, seed := range []string{"3", "11"} {
		args := []string{"--mode", "mc", "--in", in, "--n", "8", "--seed", seed}
		local := filepath.Join(dir, "local-"+seed+".jsonl")
		code, _, stderr := runShepherd(t, "", append([]string{"score", "--backend", "sim", "--model", "sim", "--out", local}, args...)...)
		if code != 0 {
			t.Fatalf("score --mode mc: %s", stderr)
		}
		remote := filepath.Join(dir, "remote-"+seed+".jsonl")
		code, _, stderr = runShepherd(t, "", append([]string{"score", "--server", addr, "--insecure", "--model", "sim", "--out", remote}, args...)...)
		if code != 0 {
			t.Fatalf("score --server --mode mc: %s", stderr)
		}
		got, want := readAll(t, remote), readAll(t, local)
		if got != want {
			t.Errorf("seed %s: score --server --mode mc wrote\n%s\nwant\n%s", seed, got, want)
		}
		if !strings.Contains(want, `"reference_answer":"13"`) || strings.Count(want, "\n") != 5 {
			t.Errorf("seed %s: in-process output lacks the expected lines:\n%s", seed, want)
		}
	}
	code, _, stderr := runShepherd(t, "", "score", "--server", addr, "--insecure", "--mode", "mc", "--in", in)
	if code != 2 || !strings.Contains(stderr, "--model is required with --server --mode mc") {
		t.Errorf("no --model: exit %d, %s", code, stderr)
	}
}
