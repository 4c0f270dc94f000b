package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
)

// firstLines is the first n lines of a file.
func firstLines(t *testing.T, path string, n int) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	return strings.Join(lines[:n], "")
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	return sortedLines(readAll(t, path))
}

var tokensRE = regexp.MustCompile(`"completion_tokens":\d+,`)

// withoutTokens is lines of records without their completion_tokens.
func withoutTokens(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = tokensRE.ReplaceAllString(l, "")
	}
	slices.Sort(out)
	return out
}

var summaryRE = regexp.MustCompile(`labelled (\d+) solutions \((\d+) steps, (\d+) skipped as done\) with (\d+) rollouts`)

// TestLabelThroughServer: label --server writes what the embedded path
// writes (the same records, completion tokens included, in any order, and
// the same summary counts),
// with --resume and --format too; the worker takes its backends from a
// config file.
func TestLabelThroughServer(t *testing.T) {
	rs := redistest.Start(t)
	dir := t.TempDir()
	in := writeFile(t, dir, "in.jsonl", firstLines(t, filepath.Join("..", "..", "examples", "sim-problems.jsonl"), 8))
	conf := writeFile(t, dir, "worker.conf", "# two simulators\nmodel sim\nbackend sim\nbackend sim  # a second one\nconcurrency 4\n")
	_, addr := startServeCmd(t, rs.Addr)
	w := startWorkerCmd(t, rs.Addr, "--config", conf)
	if m := w.waitLog(`msg="worker started".* backends=(\S+)`); strings.Count(m[1], "http://") != 2 {
		t.Errorf("worker backends %q, want the config file's two", m[1])
	}
	w.waitLog(`tasks=8 `)

	local := filepath.Join(dir, "local.jsonl")
	code, _, localErr := runShepherd(t, "", "label", "--backend", "sim", "--in", in, "--out", local, "--n", "4", "--seed", "2")
	if code != 0 {
		t.Fatalf("embedded label: %s", localErr)
	}
	remote := filepath.Join(dir, "remote.jsonl")
	server := []string{"label", "--server", addr, "--insecure", "--model", "sim", "--in", in, "--n", "4", "--seed", "2"}
	code, _, remoteErr := runShepherd(t, "", append(server, "--out", remote)...)
	if code != 0 {
		t.Fatalf("label --server: exit %d: %s", code, remoteErr)
	}
	want := fileLines(t, local)
	if got := fileLines(t, remote); !slices.Equal(got, want) {
		t.Errorf("label --server wrote\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The records carry the tokens of their rollouts (the lines above
	// compared them too), adding up to the job's completion tokens.
	for path, summary := range map[string]string{local: localErr, remote: remoteErr} {
		var sum int64
		for _, r := range readRecords(t, path) {
			sum += int64(r["completion_tokens"].(float64))
		}
		if m := completionRE.FindStringSubmatch(summary); sum == 0 || m == nil || m[1] != strconv.FormatInt(sum, 10) {
			t.Errorf("%s: records sum to %d completion tokens; summary: %s", path, sum, summary)
		}
	}
	lm, rm := summaryRE.FindStringSubmatch(localErr), summaryRE.FindStringSubmatch(remoteErr)
	if lm == nil || rm == nil || !slices.Equal(lm[1:], rm[1:]) || !strings.Contains(remoteErr, "labels in "+remote) {
		t.Errorf("summaries differ:\n embedded %s\n server   %s", localErr, remoteErr)
	}

	// --resume: keep three records and a torn line; the rest is labelled.
	kept := strings.SplitAfter(readAll(t, remote), "\n")[:3]
	if err := os.WriteFile(remote, []byte(strings.Join(kept, "")+`{"problem_id": "sim-00`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, resumeErr := runShepherd(t, "", append(server, "--out", remote, "--resume")...)
	if code != 0 {
		t.Fatalf("label --server --resume: exit %d: %s", code, resumeErr)
	}
	// A resumed job charges a prefix shared with a kept solution to one it
	// labels again: the tokens move, every other field stays.
	if got := withoutTokens(fileLines(t, remote)); !slices.Equal(got, withoutTokens(want)) {
		t.Errorf("resumed output differs:\n%s", strings.Join(got, "\n"))
	}
	if m := summaryRE.FindStringSubmatch(resumeErr); m == nil || m[3] != "3" || m[1] == lm[1] {
		t.Errorf("resumed summary: %s", resumeErr)
	}
	var resumed int64
	for _, r := range readRecords(t, remote)[len(kept):] {
		resumed += int64(r["completion_tokens"].(float64))
	}
	if m := completionRE.FindStringSubmatch(resumeErr); m == nil || m[1] != strconv.FormatInt(resumed, 10) {
		t.Errorf("the resumed records sum to %d completion tokens; summary: %s", resumed, resumeErr)
	}

	// Trainer formats go through the same sink.
	localTRL, remoteTRL := filepath.Join(dir, "local-trl.jsonl"), filepath.Join(dir, "remote-trl.jsonl")
	if code, _, errs := runShepherd(t, "", "label", "--backend", "sim", "--in", in, "--out", localTRL, "--n", "4", "--seed", "2", "--format", "trl"); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := runShepherd(t, "", append(server, "--out", remoteTRL, "--format", "trl")...); code != 0 {
		t.Fatal(errs)
	}
	if !slices.Equal(fileLines(t, localTRL), fileLines(t, remoteTRL)) {
		t.Error("--format trl through the server differs from the embedded path's")
	}

	// The client leaves the split to the server, whose refusal names the
	// solution and the limit.
	code, _, errs := runShepherd(t, "", append(server, "--out", filepath.Join(dir, "long.jsonl"), "--max-steps", "2")...)
	if want := `problems[0].solutions[0]: solution has 7 steps, more than the limit of 2 (spec.max_steps); problem "sim-0001", solution "sim-0001-1"`; code != 1 || !strings.Contains(errs, want) {
		t.Errorf("--max-steps 2 through the server: exit %d, stderr %q; want %q", code, errs, want)
	}
}

// TestLabelServerChecksWithoutSplitting: before it connects, label
// --server refuses what it can refuse without splitting (a problem
// without a question) and leaves the split to the server: a solution of
// more steps than --max-steps gets as far as connecting.
func TestLabelServerChecksWithoutSplitting(t *testing.T) {
	dir := t.TempDir()
	noQuestion := writeFile(t, dir, "noq.jsonl", twoProblems+`{"id": "p3", "answer": "1", "solutions": ["1"]}`+"\n")
	longSteps := writeFile(t, dir, "long.jsonl", twoProblems)
	server := []string{"label", "--server", "127.0.0.1:1", "--insecure", "--model", "sim", "--max-steps", "2", "--progress", "never"}
	code, _, stderr := runShepherd(t, "", append(server, "--in", noQuestion)...)
	if want := `input line 3: problem p3: field "question": missing or empty`; code != 1 || !strings.Contains(stderr, want) || strings.Contains(stderr, "connecting") {
		t.Errorf("no question: exit %d, stderr %q; want 1 and %q before connecting", code, stderr, want)
	}
	code, _, stderr = runShepherd(t, "", append(server, "--in", longSteps)...)
	if code != 1 || !strings.Contains(stderr, "connecting to 127.0.0.1:1") || strings.Contains(stderr, "more than the limit") {
		t.Errorf("3 steps over --max-steps 2: exit %d, stderr %q; want the client to leave the split to the server", code, stderr)
	}
	// The embedded path splits, and refuses the same input up front.
	code, _, stderr = runShepherd(t, "", "label", "--backend", "sim", "--max-steps", "2", "--in", longSteps, "--progress", "never")
	if want := "input line 1: problem p1: solutions[0] (p1-0): labeler: solution has 3 steps, more than the limit of 2"; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("embedded: exit %d, stderr %q; want %q", code, stderr, want)
	}
}

func TestLabelServerBadFlags(t *testing.T) {
	in := writeFile(t, t.TempDir(), "in.jsonl", twoProblems)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--server", "127.0.0.1:1", "--backend", "sim", "--model", "sim"}, 2, "--backend does not go with --server"},
		{[]string{"--server", "127.0.0.1:1"}, 2, "--model is required"},
		{[]string{"--server", "127.0.0.1:1", "--model", "sim", "--insecure", "--tls-ca", "ca.pem"}, 2, "--insecure excludes"},
		{[]string{"--server", "127.0.0.1:1", "--model", "sim", "--insecure"}, 1, "--server: client: connecting to 127.0.0.1:1"},
	} {
		code, _, stderr := runShepherd(t, "", append([]string{"label", "--in", in}, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}
