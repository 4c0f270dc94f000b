package grade

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"github.com/shepherd-prm/shepherd/internal/testkit"
	"github.com/shepherd-prm/shepherd/labeler"
)

// gradeReadJSONL decodes every line of a JSONL file of the reference data set.
func gradeReadJSONL[T any](t testing.TB, rel string) []T {
	t.Helper()
	f, err := os.Open(testkit.SharedData(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s:%d: %v", rel, n, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type gsm8kRow struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
}

type modelSolution struct {
	IsCorrect bool   `json:"is_correct"`
	Solution  string `json:"solution"`
}

type gsm8kSolutions struct {
	Question string         `json:"question"`
	M6F      *modelSolution `json:"6b_finetuning"`
	M6V      *modelSolution `json:"6b_verification"`
	M175F    *modelSolution `json:"175b_finetuning"`
	M175V    *modelSolution `json:"175b_verification"`
}

type math500Row struct {
	Problem  string `json:"problem"`
	Solution string `json:"solution"`
	Answer   string `json:"answer"`
}

// TestGradeGSM8KModelSolutions grades the model solutions published with
// GSM8K against the gold answers and compares with the dataset's own
// is_correct judgement.
func TestGradeGSM8KModelSolutions(t *testing.T) {
	gold := map[string]string{}
	for _, r := range gradeReadJSONL[gsm8kRow](t, "gsm8k/test.jsonl") {
		gold[r.Question] = labeler.GoldAnswer(r.Answer)
	}
	rows := gradeReadJSONL[gsm8kSolutions](t, "gsm8k/example_model_solutions.jsonl")
	g := New(Options{})
	total, agree := 0, 0
	for i, r := range rows {
		ans, ok := gold[r.Question]
		if !ok {
			t.Fatalf("row %d: question not in gsm8k/test.jsonl", i+1)
		}
		for _, m := range []struct {
			name string
			sol  *modelSolution
		}{{"6b_finetuning", r.M6F}, {"6b_verification", r.M6V}, {"175b_finetuning", r.M175F}, {"175b_verification", r.M175V}} {
			if m.sol == nil {
				t.Fatalf("row %d: no %s", i+1, m.name)
			}
			total++
			v := g.Grade(ans, m.sol.Solution)
			if v.Correct == m.sol.IsCorrect {
				agree++
				continue
			}
			t.Logf("row %d %s: gold %q, extracted %q (found %v): grader %v, dataset %v",
				i+1, m.name, ans, v.Answer, v.Found, v.Correct, m.sol.IsCorrect)
		}
	}
	if total != 4*1319 {
		t.Errorf("graded %d solutions, want %d", total, 4*1319)
	}
	wantRate(t, "GSM8K model solutions: grader and dataset agree", agree, total, 0.995)
}

// wantRate logs the share of n that is good, and fails the test when it is
// below least.
func wantRate(t *testing.T, what string, good, n int, least float64) {
	t.Helper()
	rate := float64(good) / float64(n)
	t.Logf("%s: %d of %d (%.2f%%)", what, good, n, 100*rate)
	if rate < least {
		t.Errorf("%s: %.2f%%, want at least %.2f%%", what, 100*rate, 100*least)
	}
}

// TestGradeMATH500 grades each MATH500 reference solution against its own
// gold answer (all but at most one must pass) and against the next
// problem's answer (at least 99.5% must fail, skipping pairs whose gold
// answers are equivalent).
func TestGradeMATH500(t *testing.T) {
	rows := gradeReadJSONL[math500Row](t, "prm800k/math_splits/test.jsonl")
	if len(rows) != 500 {
		t.Fatalf("%d rows, want 500", len(rows))
	}
	g := New(Options{})
	self := 0
	for i, r := range rows {
		v := g.Grade(r.Answer, r.Solution)
		if v.Correct {
			self++
		} else {
			t.Logf("self %d: gold %q, extracted %q (found %v)", i, r.Answer, v.Answer, v.Found)
		}
	}
	t.Logf("MATH500 self: %d of 500 correct", self)
	if self < 499 {
		t.Errorf("self-grading: %d of 500 correct, want at least 499", self)
	}

	pairs, rejected := 0, 0
	for i, r := range rows {
		other := rows[(i+1)%len(rows)]
		if g.Equivalent(r.Answer, other.Answer) {
			continue
		}
		pairs++
		v := g.Grade(other.Answer, r.Solution)
		if !v.Correct {
			rejected++
		} else {
			t.Logf("cross %d: solution answer %q accepted for gold %q", i, v.Answer, other.Answer)
		}
	}
	wantRate(t, "MATH500 cross: pairs rejected", rejected, pairs, 0.995)
}

// TestGradeMATH500UnitVariants: a widely used copy of MATH500 strips the
// units of three gold answers; both forms must be accepted both ways.
func TestGradeMATH500UnitVariants(t *testing.T) {
	rows := gradeReadJSONL[math500Row](t, "prm800k/math_splits/test.jsonl")
	variants := map[string]string{
		`90^\circ`:             "90",
		`864 \mbox{ inches}^2`: "864",
		`15\mbox{ cm}^2`:       "15",
	}
	g := New(Options{MemoSize: -1})
	found := map[string]bool{}
	for _, r := range rows {
		stripped, ok := variants[r.Answer]
		if !ok {
			continue
		}
		found[r.Answer] = true
		for _, c := range [][2]string{{r.Answer, stripped}, {stripped, r.Answer}} {
			if !g.Equivalent(c[0], c[1]) {
				t.Errorf("Equivalent(%q, %q) = false", c[0], c[1])
			}
		}
		if v := g.Grade(stripped, r.Solution); !v.Correct {
			t.Errorf("solution with answer %q not accepted for gold %q", v.Answer, stripped)
		}
	}
	for a := range variants {
		if !found[a] {
			t.Errorf("gold answer %q not found in MATH500", a)
		}
	}
}
