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
