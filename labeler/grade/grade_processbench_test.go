package grade

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/internal/testkit"
	"github.com/shepherd-prm/shepherd/labeler"
)

// processBenchRow is one solution of ProcessBench with its human verdict.
type processBenchRow struct {
	ID                 string   `json:"id"`
	Generator          string   `json:"generator"`
	Problem            string   `json:"problem"`
	Steps              []string `json:"steps"`
	FinalAnswerCorrect bool     `json:"final_answer_correct"`
}

// processBenchBars are the agreement bars of TestGradeProcessBench: the
// share of all rows on which the grader agrees with the human verdict, and
// the most false accepts allowed (shepherd-grader/1 had 2 and 7).
var processBenchBars = map[string]struct {
	minAgree        float64
	maxFalseAccepts int
}{
	"gsm8k": {0.990, 2},
	"math":  {0.992, 7},
}

// processBenchReviewedFile lists disagreements judged, by reading the
// solution, to be label noise, a wrong gold or ambiguous; one
// "id<TAB>reason" per line. They still count against the figures.
const processBenchReviewedFile = "testdata/processbench_reviewed.tsv"

func readProcessBenchReviewed(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.FromSlash(processBenchReviewedFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, ok := strings.Cut(line, "\t")
		if !ok || strings.TrimSpace(reason) == "" {
			t.Fatalf("%s:%d: want id<TAB>reason, got %q", processBenchReviewedFile, n, line)
		}
		if _, dup := out[id]; dup {
			t.Fatalf("%s:%d: %s listed twice", processBenchReviewedFile, n, id)
		}
		out[id] = strings.TrimSpace(reason)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// processBenchGold returns the gold answers of the GSM8K and MATH test
// problems by question text.
func processBenchGold(t *testing.T) map[string]map[string]string {
	gold := map[string]map[string]string{"math": {}, "gsm8k": {}}
	type mathRow struct {
		Problem  string `json:"problem"`
		Solution string `json:"solution"`
	}
	for _, r := range gradeReadJSONL[mathRow](t, "math/test.jsonl") {
		gold["math"][strings.TrimSpace(r.Problem)] = labeler.GoldAnswer(r.Solution)
	}
	for _, r := range gradeReadJSONL[gsm8kRow](t, "gsm8k/test.jsonl") {
		gold["gsm8k"][strings.TrimSpace(r.Question)] = labeler.GoldAnswer(r.Answer)
	}
	return gold
}

// TestGradeProcessBench grades the final answers of the ProcessBench
// solutions (written by a dozen open models in free form: boxed, bold,
// "The final answer is", or only a closing sentence) against the gold
// answers of the GSM8K and MATH problems they come from, and compares with
// the human final_answer_correct. It prints the confusion matrix and every
// disagreement, marking those of the reviewed list; the figures count
// every row, reviewed or not.
func TestGradeProcessBench(t *testing.T) {
	gold := processBenchGold(t)
	reviewed := readProcessBenchReviewed(t)
	seen := map[string]bool{}
	g := New(Options{})
	for _, name := range []string{"gsm8k", "math"} {
		data, err := os.ReadFile(testkit.SharedData(t, "processbench/"+name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var rows []processBenchRow
		if err := json.Unmarshal(data, &rows); err != nil {
			t.Fatal(err)
		}
		// tp: both accept; fa: grader accepts, humans reject; fr: grader
		// rejects, humans accept; tn: both reject.
		var tp, fa, fr, tn, noted int
		for _, r := range rows {
			ans, ok := gold[name][strings.TrimSpace(r.Problem)]
			if !ok {
				t.Errorf("%s: problem not found in the %s gold data", r.ID, name)
				continue
			}
			v := g.Grade(ans, strings.Join(r.Steps, "\n\n"))
			switch {
			case v.Correct && r.FinalAnswerCorrect:
				tp++
			case !v.Correct && !r.FinalAnswerCorrect:
				tn++
			case v.Correct:
				fa++
			default:
				fr++
			}
			if v.Correct == r.FinalAnswerCorrect {
				continue
			}
			kind := "false accept"
			if !v.Correct {
				kind = "false reject"
			}
			note := ""
			if reason, ok := reviewed[r.ID]; ok {
				seen[r.ID] = true
				noted++
				note = " [reviewed: " + reason + "]"
			}
			found := "none"
			if v.Found {
				found = quoteShort(v.Answer)
			}
			t.Logf("%s %s: gold %s, extracted %s%s", kind, r.ID, quoteShort(ans), found, note)
		}
		total := len(rows)
		agree := tp + tn
		rate := float64(agree) / float64(total)
		t.Logf("ProcessBench %s (%d rows):\n"+
			"                  human correct  human wrong\n"+
			"  grader correct  %13d  %11d\n"+
			"  grader wrong    %13d  %11d\n"+
			"  agreement %.2f%% (%d false accepts, %d false rejects; %d of the %d disagreements on the reviewed list)",
			name, total, tp, fa, fr, tn, 100*rate, fa, fr, noted, fa+fr)
		bar := processBenchBars[name]
		if rate < bar.minAgree {
			t.Errorf("ProcessBench %s: agreement %.2f%%, want at least %.1f%%", name, 100*rate, 100*bar.minAgree)
		}
		if fa > bar.maxFalseAccepts {
			t.Errorf("ProcessBench %s: %d false accepts, want at most %d", name, fa, bar.maxFalseAccepts)
		}
	}
	for id := range reviewed {
		if !seen[id] {
			t.Errorf("%s: on the reviewed list (%s) but not a disagreement; remove it", id, processBenchReviewedFile)
		}
	}
}

// quoteShort quotes s, cutting it to 120 bytes.
func quoteShort(s string) string {
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
