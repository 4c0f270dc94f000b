package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/rollout/prm"
	"github.com/shepherd-prm/shepherd/rollout/prm/prmsim"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

const scoreProblems = `{"id": "p1", "question": "Start with 4. Add 3, then multiply by 2. What is the result?", "answer": "14", "candidates": [{"id": "wrong", "text": "4 + 3 = 8.\n8 * 2 = 16.\nThe answer is 16."}, "4 + 3 = 7.\n7 * 2 = 14.\nThe answer is 14.", {"id": "late", "steps": ["4 + 3 = 7.", "7 * 2 = 15.", "The answer is 15."]}]}
{"id": "p2", "question": "Start with 5. Subtract 2, then add 10. What is the result?", "candidates": ["5 - 2 = 3.\n3 + 10 = 13.\nThe answer is 13.", "5 - 2 = 3.\n3 + 10 = 13.\nThe answer is 13.", "5 - 2 = 4.\n4 + 10 = 14.\nThe answer is 14."]}
`

func TestScoreCommandWithSimulatedPRM(t *testing.T) {
	for _, layout := range [][]string{{"--layout", "math-shepherd"}, {"--layout", "qwen-prm"}, {"--layout", "custom", "--step-tag", " <step>", "--positive-index", "3"}} {
		t.Run(layout[1], func(t *testing.T) {
			in := writeFile(t, t.TempDir(), "in.jsonl", scoreProblems)
			out := filepath.Join(filepath.Dir(in), "out.jsonl")
			args := append([]string{"score", "--in", in, "--out", out, "--prm", "sim"}, layout...)
			code, _, stderr := runShepherd(t, "", args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stderr, "scored 2 questions (6 candidates, 5 distinct; 5 PRM requests)") ||
				!strings.Contains(stderr, "of 1 with a gold answer, correct: best-of-N 1, weighted 1, majority 0") {
				t.Errorf("summary: %s", stderr)
			}
			recs := readRecords(t, out)
			if len(recs) != 2 || recs[0]["id"] != "p1" || recs[1]["id"] != "p2" {
				t.Fatalf("records %v", recs)
			}
			p1, p2 := recs[0], recs[1]
			if fmt.Sprint(p1["candidate_ids"]) != "[wrong 1 late]" || p1["best"].(float64) != 1 || p1["best_correct"] != true ||
				p1["weighted_best_answer"] != "14" || p1["majority_answer"] != "16" || fmt.Sprint(p1["correct"]) != "[false true false]" {
				t.Errorf("p1: %v", p1)
			}
			steps := p1["step_scores"].([]any)
			late := steps[2].([]any)
			if len(steps) != 3 || len(late) != 3 || late[0].(float64) < 0.75 || late[1].(float64) > 0.25 {
				t.Errorf("p1 step scores %v", steps)
			}
			if _, ok := p2["best_correct"]; ok {
				t.Errorf("p2 has no gold answer but reports best_correct: %v", p2)
			}
			if p2["majority_answer"] != "13" || p2["weighted_best_answer"] != "13" || p2["grader_version"] == "" {
				t.Errorf("p2: %v", p2)
			}
		})
	}
}

func TestScoreCommandMonteCarlo(t *testing.T) {
	in := writeFile(t, t.TempDir(), "in.jsonl", scoreProblems)
	out := filepath.Join(filepath.Dir(in), "out.jsonl")
	code, _, stderr := runShepherd(t, "", "score", "--in", in, "--out", out, "--mode", "mc", "--backend", "sim", "--n", "8", "--seed", "3", "--aggregate", "prod")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "rollouts, 0 failed tasks") {
		t.Errorf("summary: %s", stderr)
	}
	recs := readRecords(t, out)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	p1 := recs[0]
	steps := p1["step_scores"].([]any)
	wrong, right, late := steps[0].([]any), steps[1].([]any), steps[2].([]any)
	// Step scores are soft labels: 0 from an error on, and the last step
	// is the candidate's own outcome.
	for _, v := range wrong {
		if v.(float64) != 0 {
			t.Errorf("wrong: %v", wrong)
		}
	}
	if late[1].(float64) != 0 || late[2].(float64) != 0 || right[2].(float64) != 1 {
		t.Errorf("late %v, right %v", late, right)
	}
	if p1["reference_answer"] != "14" || p1["best"].(float64) != 1 {
		t.Errorf("p1: %v", p1)
	}
	if recs[1]["reference_answer"] != "13" {
		t.Errorf("p2 without a gold answer: reference %v", recs[1]["reference_answer"])
	}
}

func TestScoreCommandRealURLKeepsOrder(t *testing.T) {
	s, err := prmsim.New(prmsim.Options{Model: "Qwen/Qwen2.5-Math-PRM-7B", Layout: prm.QwenPRM})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	ds := sim.GenerateDataset(sim.DatasetOptions{Seed: 9, Problems: 30, SolutionsPerProblem: 5, ErrorRate: 0.5})
	var b strings.Builder
	for _, p := range ds {
		line, _ := json.Marshal(p) // the labeling format: "solutions" for "candidates"
		b.Write(line)
		b.WriteString("\n\n") // blank lines are skipped
	}
	code, stdout, stderr := runShepherd(t, b.String(), "score", "--prm", hs.URL+"/v1", "--model", "Qwen/Qwen2.5-Math-PRM-7B", "--layout", "qwen-prm", "--concurrency", "4")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != len(ds) {
		t.Fatalf("%d output lines for %d problems", len(lines), len(ds))
	}
	for i, l := range lines {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if r["id"] != ds[i].ID {
			t.Fatalf("line %d is %v, want %s", i, r["id"], ds[i].ID)
		}
		// The simulated PRM is a perfect verifier: a correct candidate, if
		// any, is chosen.
		anyCorrect := false
		for _, sol := range ds[i].Solutions {
			anyCorrect = anyCorrect || sol.FirstError < 0
		}
		if anyCorrect && r["best_correct"] != true {
			t.Errorf("%s: best %v is wrong", ds[i].ID, r["best"])
		}
	}
	if int(s.Requests()) != 150 {
		t.Errorf("%d PRM requests for 150 candidates", s.Requests())
	}
}

func TestScoreCommandBadInput(t *testing.T) {
	good := `{"id": "a", "question": "q", "candidates": ["x"]}`
	for _, c := range []struct {
		name, input, want string
	}{
		{"bad JSON", good + "\n{\"id\": \"b\", \"question\": \n", "input line 2: "},
		{"wrong type", good + "\n\n" + `{"question": 5, "candidates": ["x"]}`, `input line 3: field "question" must be a string, got 5`},
		{"bad candidate", `{"question": "q", "candidates": ["x", {"id": "y", "body": "z"}]}`, `input line 1: candidates[1]: a solution is a string`},
		{"missing question", good + "\n" + `{"id": "b", "candidates": ["x"]}`, `input line 2 (b): field "question" is missing or empty`},
		{"no candidates", `{"question": "q"}`, `input line 1 (line1): field "candidates" is missing or empty`},
		{"too many candidates", `{"question": "q", "candidates": ["a", "b", "c"]}`, `field "candidates" has 3 candidates, more than the limit of 2`},
		{"candidate", `{"question": "q", "candidates": ["a", {"id": "e", "text": " "}]}`, `input line 1 (line1): candidates[1] (e): candidate is empty`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.jsonl")
			code, _, stderr := runShepherd(t, c.input, "score", "--prm", "sim", "--out", out, "--max-candidates", "2")
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q, want %q", code, stderr, c.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a failed run left %v behind", entries)
			}
		})
	}
}

func TestScoreCommandUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--prm is required"},
		{[]string{"--prm", "sim", "--mode", "mc"}, "--prm applies to --mode prm"},
		{[]string{"--backend", "sim"}, "--backend applies to --mode mc"},
		{[]string{"--mode", "orm"}, `unknown mode "orm"`},
		{[]string{"--prm", "sim", "--aggregate", "max"}, `unknown aggregation "max"`},
		{[]string{"--prm", "sim", "--layout", "custom"}, "needs a step tag"},
		{[]string{"--prm", "sim", "--layout", "custom", "--step-tag", "<s>"}, "needs the positive class index"},
		{[]string{"--prm", "sim", "--step-tag", "<s>"}, "applies to layout custom only"},
		{[]string{"--prm", "http://127.0.0.1:1"}, "--model is required"},
		{[]string{"--mode", "mc", "--backend", "sim", "--n", "0"}, "--n must be between 1 and 1024"},
		{[]string{"--prm", "sim", "--concurrency", "0"}, "--concurrency must be at least 1"},
		{[]string{"--prm", "sim", "--split", "words"}, `unknown split mode "words"`},
		{[]string{"--prm", "sim", "--prm-api", "pooling"}, "layout math-shepherd through /pooling gives meaningless numbers"},
		{[]string{"--prm", "sim", "--layout", "qwen-prm", "--prm-api", "completions"}, "--runner pooling"},
		{[]string{"--prm", "sim", "--layout", "custom", "--step-tag", "<s>", "--positive-index", "1", "--good-token-id", "5"}, "not both"},
		{[]string{"--prm", "sim", "--good-token-id", "5"}, "token ids apply to layout custom only"},
	} {
		code, _, stderr := runShepherd(t, "", append([]string{"score"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}

func TestScoreCommandBundledExamples(t *testing.T) {
	code, stdout, stderr := runShepherd(t, "", "score", "--in", "../../examples/sim-problems.jsonl", "--prm", "sim")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if n := strings.Count(stdout, "\n"); n != 40 || !strings.Contains(stderr, "scored 40 questions (160 candidates") {
		t.Errorf("%d lines; %s", n, stderr)
	}
}

// TestScoreCommandMathShepherdLogprobs: score --layout math-shepherd
// against a server speaking vLLM's /tokenize and prompt-logprobs format
// writes, for candidates of 1 to 40 steps whose text holds "+", "-", the
// tag's letters and multi-byte text, the softmax over the "+" and "-"
// logits at every tag; with buried labels (asked for one by one) too.
func TestScoreCommandMathShepherdLogprobs(t *testing.T) {
	question := "Сколько будет 3 + 4? (½ × 14)"
	pieces := []string{"3 + 4 = 7.", "10 - 3 = 7", "к и", "数学 2×3=6", "🙂 +-", "Привет", "x - y + z"}
	var steps [][]string
	var b strings.Builder
	b.WriteString(`{"id": "q", "question": ` + strconvQuote(question) + `, "candidates": [`)
	for n := 1; n <= 40; n++ {
		var st []string
		for k := range n {
			st = append(st, fmt.Sprintf("%s (%d)", pieces[(n+k)%len(pieces)], k))
		}
		steps = append(steps, st)
		enc, _ := json.Marshal(map[string]any{"id": fmt.Sprint("c", n), "steps": st})
		if n > 1 {
			b.WriteString(", ")
		}
		b.Write(enc)
	}
	b.WriteString("]}\n")
	for _, buried := range []bool{false, true} {
		s, err := prmsim.New(prmsim.Options{Model: "peiyi9979/math-shepherd-mistral-7b-prm", BuryLabels: buried})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(s)
		code, stdout, stderr := runShepherd(t, b.String(), "score", "--prm", hs.URL, "--model", "peiyi9979/math-shepherd-mistral-7b-prm", "--layout", "math-shepherd")
		hs.Close()
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var r struct {
			StepScores [][]float64 `json:"step_scores"`
		}
		if err := json.Unmarshal([]byte(stdout), &r); err != nil || len(r.StepScores) != 40 {
			t.Fatalf("%v: %s", err, stdout)
		}
		for i, got := range r.StepScores {
			input, err := prm.MathShepherd.Render(question, steps[i])
			if err != nil {
				t.Fatal(err)
			}
			want := prmsim.StepScores(prm.MathShepherd, input)
			if len(got) != len(want) || len(got) != i+1 {
				t.Fatalf("candidate %d: %d scores, want %d", i, len(got), i+1)
			}
			for k := range got {
				if math.Abs(got[k]-want[k]) > 1e-6 {
					t.Errorf("buried %v, candidate %d step %d: %v, softmax at the tag %v", buried, i, k, got[k], want[k])
				}
			}
		}
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
