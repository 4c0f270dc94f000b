package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runCmd runs the shepherd command line in-process.
func runShepherd(t testing.TB, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code = run(ctx, env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

const twoProblems = `{"id": "p1", "question": "Start with 4. Add 3, then multiply by 2. What is the result?", "answer": "14", "solutions": ["4 + 3 = 7.\n7 * 2 = 14.\nThe answer is 14.", {"id": "wrong", "text": "4 + 3 = 8.\n8 * 2 = 16.\nThe answer is 16."}]}
{"id": "p2", "question": "Start with 5. Subtract 2, then add 10. What is the result?", "answer": "#### 13", "solutions": [{"id": "pre", "steps": ["5 - 2 = 3.", "3 + 10 = 13.", "The answer is 13."]}]}
`

func readRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestLabelWithSimulator(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "in.jsonl", twoProblems)
	out := filepath.Join(dir, "out.jsonl")
	code, _, stderr := runShepherd(t, "", "label", "--in", in, "--out", out, "--backend", "sim", "--n", "4", "--seed", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "labelled 3 solutions") || !strings.Contains(stderr, out) {
		t.Errorf("summary line: %s", stderr)
	}
	recs := readRecords(t, out)
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	by := map[string]map[string]any{}
	for _, r := range recs {
		by[r["solution_id"].(string)] = r
		for _, k := range []string{"problem_id", "prompt", "completions", "labels", "soft_labels", "rollouts", "correct_rollouts", "first_error_step", "min_score", "outcome_correct", "strategy", "model", "grader_version"} {
			if _, ok := r[k]; !ok {
				t.Errorf("record lacks %q: %v", k, r)
			}
		}
	}
	if r := by["wrong"]; r["first_error_step"].(float64) != 0 || r["outcome_correct"].(bool) {
		t.Errorf("wrong solution: %v", r)
	}
	if r := by["p1-0"]; r["first_error_step"].(float64) != -1 || !r["outcome_correct"].(bool) {
		t.Errorf("correct solution (default id p1-0): %v", r)
	}
	if r := by["pre"]; len(r["completions"].([]any)) != 3 || !r["outcome_correct"].(bool) {
		t.Errorf("pre-split solution with a '####' gold answer: %v", r)
	}
}

func TestLabelResume(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "in.jsonl", twoProblems)
	out := filepath.Join(dir, "out.jsonl")
	if code, _, stderr := runShepherd(t, "", "label", "--in", in, "--out", out, "--backend", "sim", "--n", "4"); code != 0 {
		t.Fatal(stderr)
	}
	full := readRecords(t, out)
	// Keep the first record and half of the second, as a crash would.
	data, _ := os.ReadFile(out)
	first := bytes.IndexByte(data, '\n') + 1
	os.WriteFile(out, data[:first+20], 0o644)
	code, _, stderr := runShepherd(t, "", "label", "--in", in, "--out", out, "--backend", "sim", "--n", "4", "--resume")
	if code != 0 {
		t.Fatal(stderr)
	}
	if !strings.Contains(stderr, "1 skipped as done") {
		t.Errorf("summary: %s", stderr)
	}
	got := readRecords(t, out)
	if len(got) != len(full) {
		t.Fatalf("after resume %d records, want %d", len(got), len(full))
	}
	seen := map[string]bool{}
	for _, r := range got {
		id := r["solution_id"].(string)
		if seen[id] {
			t.Errorf("solution %s twice", id)
		}
		seen[id] = true
	}
}

func TestLabelBadInput(t *testing.T) {
	cases := []struct {
		name, input string
		args        []string
		want        string
	}{
		{"no answer", `{"id": "a", "question": "q", "solutions": ["x"]}`, nil, `line 1: problem a: field "answer"`},
		{"empty solution", `{"id": "a", "question": "q", "answer": "1", "solutions": [""]}` + "\n", nil, "solutions[0] (a-0): solution is empty"},
		{"bad json", "\n{\"id\": ", nil, "input line 2"},
		{"bad solution", `{"id": "a", "question": "q", "answer": "1", "solutions": [{"txt": "x"}]}`, nil, "line 1"},
		{"n zero", "", []string{"--n", "0"}, "--n must be between 1 and 1024"},
		{"strategy", "", []string{"--strategy", "greedy"}, "unknown strategy"},
		{"no backend", "", []string{"--backend", ""}, "--backend is required"},
		{"no model", "", []string{"--backend", "http://127.0.0.1:1/v1"}, "--model is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"label"}
			if !strings.HasPrefix(strings.Join(c.args, " "), "--backend") {
				args = append(args, "--backend", "sim")
			}
			args = append(args, c.args...)
			code, stdout, stderr := runShepherd(t, c.input, args...)
			if code == 0 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want an error containing %q", code, stderr, c.want)
			}
			if stdout != "" {
				t.Errorf("wrote output on bad input: %q", stdout)
			}
		})
	}
}

func TestLabelSimFleetSpec(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "in.jsonl", twoProblems)
	out := filepath.Join(dir, "out.jsonl")
	code, _, stderr := runShepherd(t, "", "label", "--in", in, "--out", out, "--n", "4", "--seed", "1",
		"--backend", "sim?count=3&max-num-seqs=4&latency=2ms&token-latency=100us")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "labelled 3 solutions") || !strings.Contains(stderr, "simulated fleet: 3 servers, 12 sequence slots, busy ") {
		t.Errorf("stderr: %s", stderr)
	}
	code, _, stderr = runShepherd(t, "", "label", "--in", in, "--out", out, "--backend", "sim?max-num-seqs=-2")
	if code == 0 || !strings.Contains(stderr, "MaxNumSeqs = -2: must not be negative") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}
