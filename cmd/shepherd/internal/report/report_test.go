package report

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
)

func build(t *testing.T, opt Options, files ...string) *Report {
	t.Helper()
	var in []Input
	for i, f := range files {
		in = append(in, Input{Name: fmt.Sprintf("run%d", i), R: strings.NewReader(f)})
	}
	rep, err := Build(in, opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// Four solutions, one per flag and one clean, including a failed step with
// a null label as a record of a partial job has it.
const fourSolutions = `{"problem_id":"p1","solution_id":"s1","labels":[true,true,false,false],"soft_labels":[1,0.5,0,0],"rollouts":[8,8,8,0],"first_error_step":2,"min_score":0,"outcome_correct":false,"strategy":"exhaustive","model":"m1"}
{"problem_id":"p1","solution_id":"s2","labels":[true,false,true],"soft_labels":[0.75,0,1],"rollouts":[8,8,0],"first_error_step":1,"min_score":0,"outcome_correct":true,"strategy":"exhaustive","model":"m1"}

{"problem_id":"p2","solution_id":"s3","labels":[true,null,true],"soft_labels":[null,null,1],"rollouts":[1,0,0],"first_error_step":-1,"min_score":1,"outcome_correct":true,"failed_steps":[1],"strategy":"binary","model":"m2"}
{"problem_id":"p2","solution_id":"s4","labels":[true,true],"soft_labels":[0.875,null],"rollouts":[8,0],"first_error_step":-1,"min_score":0.875,"outcome_correct":false,"strategy":"binary","model":"m1"}
`

func TestCountsAndFlags(t *testing.T) {
	rep := build(t, DefaultOptions, fourSolutions)
	s := rep.Runs[0]
	if s.Solutions != 4 || s.Steps != 12 || s.OutcomeCorrect != 2 || s.FirstError != 2 || s.FailedSteps != 1 {
		t.Fatalf("counts: %d solutions, %d steps, %d correct, %d first errors, %d failed steps", s.Solutions, s.Steps, s.OutcomeCorrect, s.FirstError, s.FailedSteps)
	}
	if g := *s.ByStrategy["binary"]; g != (group{Solutions: 2, Steps: 5, OutcomeCorrect: 1, FailedSteps: 1}) {
		t.Errorf("binary: %+v", g)
	}
	if g := *s.ByModel["m1"]; g != (group{Solutions: 3, Steps: 9, OutcomeCorrect: 1, FirstError: 2}) {
		t.Errorf("m1: %+v", g)
	}
	for name, f := range map[string]struct {
		l  flagList
		id string
	}{"high min, wrong": {s.HighMinWrong, "s4"}, "correct after error": {s.CorrectAfterError, "s2"}, "failed": {s.Failed, "s3"}} {
		if f.l.Count != 1 || len(f.l.Items) != 1 || f.l.Items[0].SolutionID != f.id {
			t.Errorf("%s: %+v, want only %s", name, f.l, f.id)
		}
	}
	// Step 1: s1 true, s2 false, s3 failed (left out), s4 true.
	if p := s.positions[1]; p.hardTrue != 2 || p.hardN != 3 || p.failed != 1 {
		t.Errorf("position 1: %d of %d true, %d failed", p.hardTrue, p.hardN, p.failed)
	}
	if s.positions[1].firstErrors != 1 || s.positions[2].firstErrors != 1 {
		t.Errorf("first errors by position: %d %d", s.positions[1].firstErrors, s.positions[2].firstErrors)
	}
	// s1: (2+1)/4 = 75 % -> bin 7; s2: (1+1)/3 = 67 % -> bin 6.
	if s.firstRel[7] != 1 || s.firstRel[6] != 1 {
		t.Errorf("relative first errors: %v", s.firstRel)
	}
	// min-score bins: s1, s2 at 0 (one correct), s3 at 1 (correct), s4 at 0.875 (wrong).
	if s.scoreN[0] != 2 || s.scoreRight[0] != 1 || s.scoreN[9] != 1 || s.scoreRight[9] != 1 || s.scoreN[8] != 1 || s.scoreRight[8] != 0 {
		t.Errorf("min-score bins: %v / %v", s.scoreRight, s.scoreN)
	}

	rep = build(t, Options{HighMinScore: 0.9, MaxListed: 0}, fourSolutions)
	if f := rep.Runs[0].HighMinWrong; f.Count != 0 {
		t.Errorf("with a 0.9 threshold, 0.875 is not high: %+v", f)
	}
	if f := rep.Runs[0].Failed; f.Count != 1 || len(f.Items) != 0 {
		t.Errorf("MaxListed 0 counts but lists nothing: %+v", f)
	}
}

func TestFirstErrorFromLabelsWhenAbsent(t *testing.T) {
	rep := build(t, DefaultOptions, `{"solution_id":"a","labels":[true,false,false],"first_error_step":null,"outcome_correct":false}`)
	if rep.Runs[0].FirstError != 1 || rep.Runs[0].positions[1].firstErrors != 1 {
		t.Fatalf("first error not derived from the labels")
	}
}

func TestQuantileBands(t *testing.T) {
	var b strings.Builder
	for i := range 101 {
		fmt.Fprintf(&b, `{"solution_id":"s%d","labels":[true],"soft_labels":[%g],"first_error_step":-1,"min_score":%g,"outcome_correct":true}`+"\n", i, float64(i)/100, float64(i)/100)
	}
	s := build(t, DefaultOptions, b.String()).Runs[0]
	p := s.positions[0]
	for _, q := range []float64{0.1, 0.25, 0.5, 0.75, 0.9} {
		if got := quantile(&p.soft, p.softN, q); math.Abs(got-q) > 0.011 {
			t.Errorf("quantile %v = %v", q, got)
		}
	}
	var hist int64
	for _, c := range s.softHist {
		hist += c
	}
	if hist != 101 || s.softHist[softHistBins-1] != 6 { // 0.95 … 1.00
		t.Errorf("soft histogram %v", s.softHist)
	}
}

func TestPositionsAreBounded(t *testing.T) {
	n := 10 * MaxPositions
	labels := strings.TrimSuffix(strings.Repeat("true,", n), ",")
	rep := build(t, DefaultOptions, `{"solution_id":"long","labels":[`+labels+`],"first_error_step":-1,"outcome_correct":true}`)
	s := rep.Runs[0]
	if len(s.positions) != MaxPositions {
		t.Fatalf("%d positions kept for %d steps, want %d", len(s.positions), n, MaxPositions)
	}
	if last := s.positions[MaxPositions-1]; last.hardN != int64(n-MaxPositions+1) {
		t.Errorf("pooled last position holds %d steps", last.hardN)
	}
	if s.Steps != int64(n) {
		t.Errorf("steps %d", s.Steps)
	}
}

func TestCompareRuns(t *testing.T) {
	a := `{"problem_id":"p","solution_id":"1","labels":[true,false,false],"rollouts":[8,8,0],"first_error_step":1,"outcome_correct":false,"completion_tokens":100}
{"problem_id":"p","solution_id":"2","labels":[true,true],"rollouts":[8,0],"first_error_step":-1,"outcome_correct":true,"completion_tokens":50}
{"problem_id":"p","solution_id":"3","labels":[true,true,false],"rollouts":[8,8,0],"first_error_step":2,"outcome_correct":false,"completion_tokens":70}
{"problem_id":"p","solution_id":"onlyA","labels":[true],"rollouts":[0],"first_error_step":-1,"outcome_correct":true}
`
	// B lists them in another order, finds solution 3's error a step earlier
	// and has a failed step in solution 2.
	b := `{"problem_id":"p","solution_id":"3","labels":[true,false,false],"rollouts":[2,1,0],"first_error_step":1,"outcome_correct":false,"completion_tokens":20}
{"problem_id":"q","solution_id":"onlyB","labels":[true],"rollouts":[0],"first_error_step":-1,"outcome_correct":true}
{"problem_id":"p","solution_id":"2","labels":[null,true],"rollouts":[0,0],"first_error_step":-1,"outcome_correct":true,"failed_steps":[0],"completion_tokens":0}
{"problem_id":"p","solution_id":"1","labels":[true,false,false],"rollouts":[1,3,0],"first_error_step":1,"outcome_correct":false,"completion_tokens":30}
`
	rep := build(t, DefaultOptions, a, b)
	if len(rep.Comparisons) != 1 {
		t.Fatalf("%d comparisons", len(rep.Comparisons))
	}
	c := rep.Comparisons[0]
	if c.Matched != 3 || c.OnlyA != 1 || c.OnlyB != 1 {
		t.Fatalf("matched %d, only A %d, only B %d", c.Matched, c.OnlyA, c.OnlyB)
	}
	if c.SameFirstError != 1 || c.BEarlier != 1 || c.AEarlier != 0 || c.SkippedFailed != 1 || c.WithinOne != 2 {
		t.Errorf("first errors: same %d, within one %d, A earlier %d, B earlier %d, skipped %d", c.SameFirstError, c.WithinOne, c.AEarlier, c.BEarlier, c.SkippedFailed)
	}
	if c.FirstErrorDiff[-1] != 1 || c.FirstErrorDiff[0] != 1 {
		t.Errorf("differences %v", c.FirstErrorDiff)
	}
	want := [3][3]int64{ // [A][B]: false, true, failed
		{3, 0, 0},
		{1, 3, 1},
		{0, 0, 0},
	}
	if c.Confusion != want {
		t.Errorf("confusion %v, want %v", c.Confusion, want)
	}
	if c.RolloutsA != 40 || c.RolloutsB != 7 || c.TokensA != 220 || c.TokensB != 50 || c.TokenPairs != 3 {
		t.Errorf("costs: rollouts %d/%d tokens %d/%d over %d", c.RolloutsB, c.RolloutsA, c.TokensB, c.TokensA, c.TokenPairs)
	}
	if len(c.pending[0])+len(c.pending[1]) != 0 || c.maxPend == 0 {
		t.Errorf("pending not released: %d, max %d", len(c.pending[0])+len(c.pending[1]), c.maxPend)
	}
}

// Two runs written in the same order need no waiting room at all beyond
// one solution.
func TestCompareSameOrderHoldsNothing(t *testing.T) {
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, `{"problem_id":"p","solution_id":"%d","labels":[true,false],"first_error_step":1,"outcome_correct":false}`+"\n", i)
	}
	c := build(t, DefaultOptions, b.String(), b.String()).Comparisons[0]
	if c.Matched != 1000 || c.maxPend > 1 {
		t.Fatalf("matched %d, at most %d pending", c.Matched, c.maxPend)
	}
}

func TestErrorsNameTheLineAndField(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"{\"solution_id\":\"a\",\"labels\":[true]}\nnot json\n", "run0:2: not a label record"},
		{`{"solution_id":"a","labels":[true],"soft_labels":[1.5]}`, `run0:1: solution "a": soft_labels[0] is 1.5, not in [0, 1]`},
		{`{"solution_id":"a","labels":[true],"soft_labels":[1,1]}`, "soft_labels has 2 entries for 1 labels"},
		{`{"solution_id":"a","labels":[true],"failed_steps":[3]}`, "failed_steps holds step 3 of a solution with 1 steps"},
		{`{"solution_id":"a","labels":[true],"first_error_step":4}`, "first_error_step is 4"},
		{`{"solution_id":"a","labels":[true],"min_score":-1}`, "min_score is -1"},
	} {
		_, err := Build([]Input{{Name: "run0", R: strings.NewReader(c.in)}}, DefaultOptions)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.in, err, c.want)
		}
	}
	opt := DefaultOptions
	opt.MaxLineBytes = 64
	_, err := Build([]Input{{Name: "big", R: strings.NewReader(`{"solution_id":"` + strings.Repeat("x", 100) + `"}`)}}, opt)
	if err == nil || !strings.Contains(err.Error(), "big:1: a line is longer than the limit of 64 bytes") {
		t.Errorf("long line: %v", err)
	}
}

func render(t *testing.T, rep *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := rep.Render(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestPageIsSelfContained(t *testing.T) {
	page := render(t, build(t, DefaultOptions, fourSolutions, fourSolutions))
	for _, id := range []string{"first-error-abs", "first-error-rel", "soft-bands", "soft-hist", "hard-share", "rollouts", "tokens", "min-score-outcome", "compare-first-error-diff"} {
		if !strings.Contains(page, `data-chart="`+id+`"`) {
			t.Errorf("chart %s missing", id)
		}
	}
	// Nothing is fetched: no src or href attributes, no URL but the SVG namespace.
	if m := regexp.MustCompile(`(?i)(src|href)\s*=`).FindString(page); m != "" {
		t.Errorf("page refers to another resource: %s", m)
	}
	if u := regexp.MustCompile(`https?://[^"]*`).FindAllString(page, -1); len(u) == 0 || strings.Join(u, "") != strings.Repeat("http://www.w3.org/2000/svg", len(u)) {
		t.Errorf("URLs in the page: %v", u)
	}
	for _, want := range []string{`data-count="total:solutions" data-run="0">4<`, `data-count="strategy:binary:failed-steps" data-run="1">1<`, `data-count="flag:failed-steps" data-run="0">1<`, `<td class="sid">s3</td>`, `data-count="compare:matched">4<`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestTokensChartOnlyWithTokens(t *testing.T) {
	without := build(t, DefaultOptions, fourSolutions).Runs[0].charts()
	with := build(t, DefaultOptions, `{"solution_id":"a","labels":[true],"strategy":"binary","completion_tokens":300,"outcome_correct":true}`).Runs[0].charts()
	find := func(cs []chart) chart {
		for _, c := range cs {
			if c.ID == "tokens" {
				return c
			}
		}
		t.Fatal("no tokens chart")
		return chart{}
	}
	if c := find(without); c.SVG != "" || !strings.Contains(c.NoData, "completion_tokens") {
		t.Errorf("without tokens: %+v", c)
	}
	if c := find(with); !strings.Contains(string(c.SVG), "256–511") || c.NoData != "" {
		t.Errorf("with tokens: %+v", c)
	}
}

func TestLog2Bins(t *testing.T) {
	for v, want := range map[int64]int{0: 0, 1: 1, 2: 2, 3: 2, 4: 3, 7: 3, 8: 4, 1 << 40: log2Bins - 1} {
		if got := log2Bin(v); got != want {
			t.Errorf("log2Bin(%d) = %d, want %d", v, got, want)
		}
	}
	if log2Label(3) != "4–7" || log2Label(0) != "0" {
		t.Errorf("labels %q %q", log2Label(3), log2Label(0))
	}
	if groupDigits(1234567) != "1,234,567" || groupDigits(-1000) != "-1,000" || groupDigits(12) != "12" {
		t.Error("groupDigits")
	}
}

func TestProgressReportsEveryByte(t *testing.T) {
	var b strings.Builder
	for b.Len() < 3<<20 {
		fmt.Fprintf(&b, `{"solution_id":"s%d","labels":[true,false],"first_error_step":1,"outcome_correct":false}`+"\n", b.Len())
	}
	var calls int
	var last int64
	opt := DefaultOptions
	opt.Progress = func(n int64) {
		if n < last {
			t.Errorf("progress went back from %d to %d", last, n)
		}
		calls++
		last = n
	}
	build(t, opt, b.String())
	if last != int64(b.Len()) || calls < 3 {
		t.Errorf("progress ended at %d of %d bytes after %d calls", last, b.Len(), calls)
	}
}
