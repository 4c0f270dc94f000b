package prm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/rollout/prm"
)

// qwenSteps recovers the steps of an input in the Qwen PRM layout.
func qwenSteps(input string) []string {
	const open = "<|im_start|>assistant\n"
	body := input[strings.LastIndex(input, open)+len(open):]
	parts := strings.Split(body, "<extra_0>")
	return parts[:len(parts)-1]
}

// tableServer scores each step by looking its text up in a table.
func tableServer(t testing.TB, table map[string]float64) *poolingServer {
	return newPoolingServer(t, func(input string) [][]float64 {
		var rows [][]float64
		for _, s := range qwenSteps(input) {
			p, ok := table[s]
			if !ok {
				p = math.NaN() // fails the client's check: an unknown step is a test bug
			}
			rows = append(rows, []float64{1 - p, p})
		}
		return rows
	}, nil)
}

// letters spells n in letters only, so step texts carry no number that
// answer extraction could mistake for an answer.
func letters(n int) string {
	var b []byte
	for {
		b = append(b, byte('a'+n%26))
		n /= 26
		if n == 0 {
			return string(b)
		}
	}
}

// Answer spellings by value: the reference groups answers by this table
// rather than by the grader.
var answerClasses = [][]string{
	{"1/2", "0.5", `\frac{1}{2}`},
	{"2", "2.0"},
	{"-3"},
	{"7", "7.00"},
}

type refCandidate struct {
	id     string
	steps  []string
	answer string // "" for none
}

// TestScorerMatchesReference scores random problems whose step scores are
// known and checks every output against a direct computation: aggregate by
// hand, best by scan, weighted and majority answers by summing and
// counting per answer value.
func TestScorerMatchesReference(t *testing.T) {
	class := map[string]int{}
	for c, spellings := range answerClasses {
		for _, s := range spellings {
			class[s] = c
		}
	}
	values := []float64{0.125, 0.25, 0.5, 0.75, 0.875} // dyadic: sums and products are exact
	rng := rand.New(rand.NewPCG(7, 9))
	table := map[string]float64{}
	ps := tableServer(t, table)
	cl := newClient(t, ps.URL, prm.ClientOptions{Model: "Qwen/Qwen2.5-Math-PRM-7B"})
	sc := &prm.Scorer{PRM: cl, Concurrency: 8}

	stepID := 0
	newStep := func(text string) string {
		table[text] = values[rng.IntN(len(values))]
		return text
	}
	requests := 0
	for _, agg := range []labeler.Aggregation{labeler.AggMin, labeler.AggProd, labeler.AggLast, labeler.AggMean} {
		for p := range 40 {
			var cands []refCandidate
			n := 1 + rng.IntN(10)
			for i := range n {
				if i > 0 && rng.IntN(5) == 0 { // a duplicate of an earlier candidate
					c := cands[rng.IntN(i)]
					cands = append(cands, refCandidate{id: fmt.Sprintf("c%d", i), steps: c.steps, answer: c.answer})
					continue
				}
				c := refCandidate{id: fmt.Sprintf("c%d", i)}
				for range rng.IntN(4) {
					stepID++
					c.steps = append(c.steps, newStep("Consider the "+letters(stepID)+" part."))
				}
				stepID++
				if rng.IntN(5) == 0 {
					c.steps = append(c.steps, newStep("So we are done with "+letters(stepID)+"."))
				} else {
					spellings := answerClasses[rng.IntN(len(answerClasses))]
					c.answer = spellings[rng.IntN(len(spellings))]
					c.steps = append(c.steps, newStep(fmt.Sprintf(`Finally %s gives \boxed{%s}.`, letters(stepID), c.answer)))
				}
				cands = append(cands, c)
			}
			gold := answerClasses[p%len(answerClasses)][0]
			in := prm.ScoreInput{ID: fmt.Sprintf("p%d", p), Question: "What is the value?", Answer: &gold,
				Options: prm.ScoreOptions{Layout: prm.QwenPRM, Aggregation: agg}}
			for i, c := range cands {
				if i%2 == 0 {
					in.Candidates = append(in.Candidates, labeler.SolutionInput{ID: c.id, Text: strings.Join(c.steps, "\n")})
				} else {
					in.Candidates = append(in.Candidates, labeler.SolutionInput{ID: c.id, Steps: c.steps})
				}
			}
			before := ps.Attempts.Load()
			res, err := sc.Score(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			requests++

			// The reference.
			unique := map[string]bool{}
			scores := make([]float64, n)
			for i, c := range cands {
				unique[strings.Join(c.steps, "\x00")] = true
				var agged float64
				for k, s := range c.steps {
					v := table[s]
					switch {
					case k == 0:
						agged = v
					case agg == labeler.AggMin:
						agged = min(agged, v)
					case agg == labeler.AggProd:
						agged *= v
					case agg == labeler.AggLast:
						agged = v
					case agg == labeler.AggMean:
						agged += v
					}
					if res.StepScores[i][k] != v {
						t.Fatalf("%s %s step %d: %v, want %v", in.ID, c.id, k, res.StepScores[i][k], v)
					}
				}
				if agg == labeler.AggMean {
					agged /= float64(len(c.steps))
				}
				scores[i] = agged
			}
			if got := int(ps.Attempts.Load() - before); got != len(unique) || res.Stats.Unique != len(unique) {
				t.Fatalf("%s: %d requests (stats %d) for %d distinct candidates", in.ID, got, res.Stats.Unique, len(unique))
			}
			best := 0
			for i := range scores {
				if scores[i] > scores[best] {
					best = i
				}
			}
			sum, count, first := map[int]float64{}, map[int]int{}, map[int]int{}
			for i, c := range cands {
				if c.answer == "" {
					continue
				}
				v := class[c.answer]
				if _, ok := first[v]; !ok {
					first[v] = i
				}
				sum[v] += scores[i]
				count[v]++
			}
			wantW, wantM := "", ""
			bestW, bestM := -1, -1
			for v, f := range first {
				if bestW < 0 || sum[v] > sum[bestW] || sum[v] == sum[bestW] && f < first[bestW] {
					bestW = v
				}
				if bestM < 0 || count[v] > count[bestM] || count[v] == count[bestM] && f < first[bestM] {
					bestM = v
				}
			}
			if bestW >= 0 {
				wantW, wantM = cands[first[bestW]].answer, cands[first[bestM]].answer
			}

			if fmt.Sprint(res.Scores) != fmt.Sprint(scores) {
				t.Fatalf("%s (%s): scores %v, want %v", in.ID, agg, res.Scores, scores)
			}
			if res.Best != best {
				t.Fatalf("%s (%s): best %d, want %d (scores %v)", in.ID, agg, res.Best, best, scores)
			}
			if got := deref(res.WeightedBestAnswer); got != wantW {
				t.Fatalf("%s (%s): weighted %q, want %q", in.ID, agg, got, wantW)
			}
			if got := deref(res.MajorityAnswer); got != wantM {
				t.Fatalf("%s (%s): majority %q, want %q", in.ID, agg, got, wantM)
			}
			for i, c := range cands {
				if deref(res.Answers[i]) != c.answer || res.CandidateIDs[i] != c.id {
					t.Fatalf("%s: candidate %d is %s with answer %q, want %s %q", in.ID, i, res.CandidateIDs[i], deref(res.Answers[i]), c.id, c.answer)
				}
				want := c.answer != "" && class[c.answer] == class[gold]
				if res.Correct[i] != want {
					t.Fatalf("%s: candidate %d correct %v, want %v", in.ID, i, res.Correct[i], want)
				}
			}
			if res.BestCorrect == nil || *res.BestCorrect != res.Correct[best] {
				t.Fatalf("%s: best_correct %v", in.ID, res.BestCorrect)
			}
		}
	}
	if requests != 160 {
		t.Fatalf("%d problems", requests)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestScorerInputErrors(t *testing.T) {
	ps := newPoolingServer(t, fixedRows([]float64{0.5, 0.5}), nil)
	sc := &prm.Scorer{PRM: newClient(t, ps.URL, prm.ClientOptions{}), MaxCandidates: 3}
	one := []labeler.SolutionInput{{Text: "x"}}
	for _, c := range []struct {
		name string
		in   prm.ScoreInput
		want string
	}{
		{"no question", prm.ScoreInput{Candidates: one}, `field "question" is missing or empty`},
		{"no candidates", prm.ScoreInput{Question: "q"}, `field "candidates" is missing or empty`},
		{"too many", prm.ScoreInput{Question: "q", Candidates: []labeler.SolutionInput{{Text: "a"}, {Text: "b"}, {Text: "c"}, {Text: "d"}}}, `field "candidates" has 4 candidates, more than the limit of 3`},
		{"long id", prm.ScoreInput{ID: strings.Repeat("i", 257), Question: "q", Candidates: one}, `field "id" is 257 bytes, more than the limit of 256`},
		{"duplicate ids", prm.ScoreInput{Question: "q", Candidates: []labeler.SolutionInput{{ID: "a", Text: "x"}, {ID: "a", Text: "y"}}}, `candidates[1]: duplicate candidate id "a"`},
		{"default id clash", prm.ScoreInput{Question: "q", Candidates: []labeler.SolutionInput{{ID: "1", Text: "x"}, {Text: "y"}}}, `candidates[1]: duplicate candidate id "1"`},
		{"text and steps", prm.ScoreInput{Question: "q", Candidates: []labeler.SolutionInput{{Text: "x", Steps: []string{"y"}}}}, `candidates[0] (0): give either "text" or "steps"`},
		{"empty", prm.ScoreInput{Question: "q", Candidates: []labeler.SolutionInput{{ID: "e", Text: "  "}}}, `candidates[0] (e): candidate is empty`},
		{"too many steps", prm.ScoreInput{Question: "q", Candidates: []labeler.SolutionInput{{Text: "a\nb\nc"}}, Options: prm.ScoreOptions{Split: labeler.SplitOptions{MaxSteps: 2}}}, `candidates[0] (0): labeler: solution has 3 steps, more than the limit of 2`},
		{"layout", prm.ScoreInput{Question: "q", Candidates: one, Options: prm.ScoreOptions{Layout: prm.Custom("", 1)}}, "layout: step tag must not be empty"},
		{"aggregate", prm.ScoreInput{Question: "q", Candidates: one, Options: prm.ScoreOptions{Aggregation: "max"}}, `aggregate: unknown aggregation "max"`},
		{"mode", prm.ScoreInput{Question: "q", Candidates: one, Options: prm.ScoreOptions{Mode: "orm"}}, `mode: unknown mode "orm"`},
		{"split", prm.ScoreInput{Question: "q", Candidates: one, Options: prm.ScoreOptions{Split: labeler.SplitOptions{Mode: "words"}}}, `split: unknown split mode "words"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := sc.Score(context.Background(), c.in)
			var ie *prm.InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want an InputError with %q", err, c.want)
			}
		})
	}
	if ps.Attempts.Load() != 0 {
		t.Errorf("bad inputs sent %d requests", ps.Attempts.Load())
	}
	// A mode without its backend is a configuration error, not an input one.
	_, err := (&prm.Scorer{}).Score(context.Background(), prm.ScoreInput{Question: "q", Candidates: one, Options: prm.ScoreOptions{Mode: prm.ModeMC}})
	var ie *prm.InputError
	if err == nil || errors.As(err, &ie) || !strings.Contains(err.Error(), "Scorer.Generator") {
		t.Errorf("MC without a generator: %v", err)
	}
}

func TestScorerFailureNamesCandidate(t *testing.T) {
	var ps *poolingServer
	ps = newPoolingServer(t, fixedRows([]float64{0.5, 0.5}), func(w http.ResponseWriter, i int) bool {
		if strings.Contains(ps.input(i), "too long") {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error": {"message": "maximum context length is 4096 tokens", "type": "BadRequestError", "code": 400}}`))
			return true
		}
		return false
	})
	sc := &prm.Scorer{PRM: newClient(t, ps.URL, prm.ClientOptions{})}
	_, err := sc.Score(context.Background(), prm.ScoreInput{Question: "q", Candidates: []labeler.SolutionInput{
		{ID: "a", Text: "fine"}, {ID: "b", Text: "fine too"}, {ID: "c", Text: "far too long"},
	}, Options: prm.ScoreOptions{Layout: pooled}})
	if err == nil || !strings.Contains(err.Error(), "candidates[2] (c)") || !strings.Contains(err.Error(), "maximum context length is 4096 tokens") || !prm.IsPermanent(err) {
		t.Fatalf("error %v", err)
	}
}

// TestScorerBoundsConcurrency checks that Concurrency bounds the requests
// in flight across concurrent Score calls.
func TestScorerBoundsConcurrency(t *testing.T) {
	var inflight, peak atomic.Int32
	ps := newPoolingServer(t, fixedRows([]float64{0.5, 0.5}), func(w http.ResponseWriter, _ int) bool {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inflight.Add(-1)
		return false
	})
	sc := &prm.Scorer{PRM: newClient(t, ps.URL, prm.ClientOptions{}), Concurrency: 3}
	var wg sync.WaitGroup
	for q := range 4 {
		wg.Go(func() {
			in := prm.ScoreInput{Question: "q", Options: prm.ScoreOptions{Layout: pooled}}
			for i := range 8 {
				in.Candidates = append(in.Candidates, labeler.SolutionInput{Text: fmt.Sprintf("step of %d %d", q, i)})
			}
			if _, err := sc.Score(context.Background(), in); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak %d requests in flight with Concurrency 3", p)
	}
	if ps.Attempts.Load() != 32 {
		t.Errorf("%d requests", ps.Attempts.Load())
	}
}

func TestScoreInputJSON(t *testing.T) {
	var in prm.ScoreInput
	in.Options.Mode = prm.ModeMC
	line := `{"id": 17, "question": "q", "answer": 0.5, "candidates": ["a\nb", {"id": "x", "text": "t"}, {"id": "y", "steps": ["s1", "s2"]}], "extra": true}`
	if err := json.Unmarshal([]byte(line), &in); err != nil {
		t.Fatal(err)
	}
	if in.ID != "17" || in.Answer == nil || *in.Answer != "0.5" || len(in.Candidates) != 3 || in.Candidates[2].Steps[1] != "s2" || in.Options.Mode != prm.ModeMC {
		t.Fatalf("decoded %+v", in)
	}
	round, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var again prm.ScoreInput
	if err := json.Unmarshal(round, &again); err != nil || fmt.Sprint(again) != fmt.Sprint(prm.ScoreInput{ID: in.ID, Question: in.Question, Answer: again.Answer, Candidates: in.Candidates}) || *again.Answer != "0.5" {
		t.Fatalf("round trip %s: %+v %v", round, again, err)
	}
	if err := json.Unmarshal([]byte(`{"question": "q", "solutions": ["a", "b"]}`), &again); err != nil || len(again.Candidates) != 2 {
		t.Fatalf("solutions for candidates: %+v %v", again, err)
	}
	if err := json.Unmarshal([]byte(`{"question": "q", "answer": "  ", "candidates": ["a"]}`), &in); err != nil || in.Answer != nil {
		t.Fatalf("blank answer: %v %v", in.Answer, err)
	}
	for _, c := range []struct{ line, want string }{
		{`{"question": ["q"]}`, `field "question" must be a string`},
		{`{"question": "q", "candidates": {"a": 1}}`, `field "candidates" must be a list`},
		{`{"question": "q", "candidates": ["a", 3]}`, `candidates[1]: `},
		{`{"question": "q", "candidates": ["a", {"id": "b", "txt": "x"}]}`, `candidates[1]: a solution is a string`},
		{`{"question": "q"`, `unexpected end of JSON`},
		{`{"question": "q", "candidates": ["a"], "solutions": ["b"]}`, `either "candidates" or "solutions"`},
	} {
		err := json.Unmarshal([]byte(c.line), &in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.line, err, c.want)
		}
	}

	yes := true
	out, err := json.Marshal(prm.ScoreResult{
		ID: "q", CandidateIDs: []string{"a", "b"}, StepScores: [][]float64{{0.5, math.NaN()}, {math.NaN()}},
		Scores: []float64{0.5, math.NaN()}, Answers: []*string{nil, new("1/2")}, Best: 0,
		WeightedBestAnswer: new("1/2"), MajorityAnswer: new("1/2"), GraderVersion: "g",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"q","candidate_ids":["a","b"],"step_scores":[[0.5,null],[null]],"scores":[0.5,null],"answers":[null,"1/2"],"best":0,"weighted_best_answer":"1/2","majority_answer":"1/2","grader_version":"g"}`
	if string(out) != want {
		t.Errorf("JSON\n got %s\nwant %s", out, want)
	}
	out, _ = json.Marshal(prm.ScoreResult{Correct: []bool{true}, BestCorrect: &yes, Best: -1, ReferenceAnswer: "4"})
	for _, s := range []string{`"correct":[true]`, `"best_correct":true`, `"best":-1`, `"reference_answer":"4"`, `"weighted_best_answer":null`, `"answers":[]`} {
		if !strings.Contains(string(out), s) {
			t.Errorf("%s lacks %s", out, s)
		}
	}
	if !slices.Contains([]string{"prm", "mc"}, string(prm.ModePRM)) {
		t.Fatal("mode names")
	}
}
