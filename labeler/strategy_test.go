package labeler

import (
	"math"
	"math/rand/v2"
	"testing"
)

// drive runs a plan to completion against a world where a rollout from the
// prefix of step s is correct with probability p[s] and reproduces the next
// `match` steps. It returns the labels and the samples drawn.
func drive(t *testing.T, plan Plan, p []float64, match int, rng *rand.Rand) ([]StepLabel, int) {
	t.Helper()
	drawn := 0
	seen := map[Probe]bool{}
	for i := 0; !plan.Done(); i++ {
		probes := plan.Next()
		if len(probes) == 0 && !plan.Done() {
			t.Fatalf("plan neither done nor probing after %d rounds", i)
		}
		for _, pr := range probes {
			if seen[pr] || pr.N() < 1 {
				t.Fatalf("probe %+v repeated or empty", pr)
			}
			seen[pr] = true
			rs := make([]Rollout, pr.N())
			for j := range rs {
				rs[j] = Rollout{Correct: rng.Float64() < p[pr.Step], Matched: match}
			}
			drawn += len(rs)
			plan.Observe(pr, rs, false)
		}
	}
	return plan.Labels(), drawn
}

func TestExhaustiveMeasuresEveryStepButTheLast(t *testing.T) {
	p := []float64{1, 1, 0, 0, 0}
	plan, err := NewPlan(len(p), false, PlanOptions{Strategy: Exhaustive, N: 8})
	if err != nil {
		t.Fatal(err)
	}
	labels, drawn := drive(t, plan, p, 0, rand.New(rand.NewPCG(1, 2)))
	if drawn != 8*4 {
		t.Fatalf("drew %d samples, want 32", drawn)
	}
	for s, l := range labels[:4] {
		if l.Source != Measured || l.Rollouts != 8 || l.Hard != (p[s] == 1) {
			t.Errorf("step %d: %+v", s, l)
		}
	}
	if last := labels[4]; last.Source != Outcome || last.Hard || last.Rollouts != 0 {
		t.Errorf("last step: %+v, want the outcome (incorrect) with no rollout", last)
	}
	if got := FirstError(labels); got != 2 {
		t.Errorf("first error %d, want 2", got)
	}
}

func TestExhaustiveReuseCreditsLaterSteps(t *testing.T) {
	p := []float64{1, 1, 1, 1, 1, 1}
	plan, _ := NewPlan(len(p), true, PlanOptions{Strategy: Exhaustive, N: 4, Reuse: true})
	// Every rollout reproduces the next two steps, so step 0 pays for 1 and 2.
	labels, drawn := drive(t, plan, p, 2, rand.New(rand.NewPCG(1, 2)))
	if drawn >= 4*5 {
		t.Fatalf("reuse saved nothing: drew %d", drawn)
	}
	for s, l := range labels[:5] {
		if l.Rollouts != 4 || l.Correct != 4 {
			t.Errorf("step %d: %+v, want 4 of 4", s, l)
		}
	}
}

func TestBinaryFindsTheFirstError(t *testing.T) {
	for steps := 2; steps <= 12; steps++ {
		for first := 0; first < steps; first++ {
			p := make([]float64, steps)
			for s := range p {
				if s < first {
					p[s] = 1
				}
			}
			plan, _ := NewPlan(steps, false, PlanOptions{Strategy: Binary, N: 8})
			labels, drawn := drive(t, plan, p, 0, rand.New(rand.NewPCG(3, 4)))
			if got := FirstError(labels); got != first {
				t.Fatalf("%d steps, error at %d: found %d (%+v)", steps, first, got, labels)
			}
			for s, l := range labels {
				if l.Hard != (s < first) {
					t.Errorf("%d steps, error at %d: step %d hard=%v", steps, first, s, l.Hard)
				}
				if l.Source == Measured {
					if _, ok := l.Soft(); !ok {
						t.Errorf("measured step without soft label")
					}
				}
			}
			// log2(steps) probes at most N samples each, fewer for correct ones.
			if limit := 8 * int(math.Ceil(math.Log2(float64(steps)))); drawn > limit {
				t.Errorf("%d steps: drew %d samples, more than %d", steps, drawn, limit)
			}
		}
	}
}

func TestBinaryStopsAtFirstCorrectRollout(t *testing.T) {
	p := []float64{1, 1, 1, 1, 0}
	plan, _ := NewPlan(len(p), false, PlanOptions{Strategy: Binary, N: 16})
	labels, drawn := drive(t, plan, p, 0, rand.New(rand.NewPCG(5, 6)))
	// Probes of steps 2 and 3 each succeed on their first sample.
	if drawn != 2 {
		t.Errorf("drew %d samples, want 2", drawn)
	}
	if FirstError(labels) != 4 {
		t.Errorf("first error %d, want 4", FirstError(labels))
	}
	for s := 0; s < 4; s++ {
		if soft, ok := labels[s].Soft(); ok && soft != 1 {
			t.Errorf("step %d soft %v", s, soft)
		}
	}
}

func TestBinaryCorrectSolutionIsItsOwnWitness(t *testing.T) {
	plan, _ := NewPlan(6, true, PlanOptions{Strategy: Binary, N: 8})
	if !plan.Done() || len(plan.Next()) != 0 {
		t.Fatal("a correct solution should need no probe")
	}
	for s, l := range plan.Labels() {
		if !l.Hard {
			t.Errorf("step %d not labelled 1", s)
		}
		if _, ok := l.Soft(); ok != (s == 5) {
			t.Errorf("step %d: soft label present=%v; only the outcome step has one", s, ok)
		}
	}
}

func TestBinaryDoublingBatches(t *testing.T) {
	plan, _ := NewPlan(2, false, PlanOptions{Strategy: Binary, N: 8})
	var sizes []int
	for !plan.Done() {
		for _, pr := range plan.Next() {
			sizes = append(sizes, pr.N())
			plan.Observe(pr, make([]Rollout, pr.N()), false)
		}
	}
	want := []int{1, 1, 2, 4}
	if len(sizes) != len(want) {
		t.Fatalf("batches %v, want %v", sizes, want)
	}
	for i := range want {
		if sizes[i] != want[i] {
			t.Fatalf("batches %v, want %v", sizes, want)
		}
	}
}

func TestFailedProbe(t *testing.T) {
	plan, _ := NewPlan(5, false, PlanOptions{Strategy: Binary, N: 4})
	pr := plan.Next()[0]
	plan.Observe(pr, nil, true)
	if !plan.Done() {
		t.Fatal("binary should stop when a probe fails for good")
	}
	failed := 0
	for _, l := range plan.Labels() {
		if l.Failed {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no step marked failed")
	}

	ex, _ := NewPlan(3, false, PlanOptions{Strategy: Exhaustive, N: 2})
	probes := ex.Next()
	ex.Observe(probes[0], nil, true)
	ex.Observe(probes[1], []Rollout{{}, {}}, false)
	if !ex.Done() || !ex.Labels()[0].Failed || FirstError(ex.Labels()) != 1 {
		t.Fatalf("exhaustive after a failed probe: done=%v %+v", ex.Done(), ex.Labels())
	}
}

func TestNewPlanRejectsBadInput(t *testing.T) {
	if _, err := NewPlan(0, false, PlanOptions{N: 1}); err == nil {
		t.Error("zero steps accepted")
	}
	if _, err := NewPlan(3, false, PlanOptions{N: 0}); err == nil {
		t.Error("n=0 accepted")
	}
	if _, err := ParseStrategy("greedy"); err == nil {
		t.Error("unknown strategy accepted")
	}
}

func TestAggregate(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		scores []float64
		agg    Aggregation
		want   float64
	}{
		{[]float64{0.5, 0.25, 1}, AggMin, 0.25},
		{[]float64{0.5, 0.5, 1}, AggProd, 0.25},
		{[]float64{0.5, 0.25, 1}, AggLast, 1},
		{[]float64{0.5, 0.25, 0.75}, AggMean, 0.5},
		{[]float64{0.5, nan, 0.25}, AggMin, 0.25},
		{[]float64{0.5, nan}, AggLast, 0.5},
	}
	for _, c := range cases {
		if got := Aggregate(c.scores, c.agg); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Aggregate(%v, %s) = %v, want %v", c.scores, c.agg, got, c.want)
		}
	}
	if !math.IsNaN(Aggregate(nil, AggMin)) {
		t.Error("empty aggregate should be NaN")
	}
	if _, err := ParseAggregation("median"); err == nil {
		t.Error("unknown aggregation accepted")
	}
}

func TestSoftLabels(t *testing.T) {
	if s, ok := Measure(3, 8).Soft(); !ok || s != 0.375 {
		t.Errorf("Measure(3,8).Soft() = %v, %v", s, ok)
	}
	if _, ok := (StepLabel{Hard: true, Source: Inferred}).Soft(); ok {
		t.Error("inferred label has a soft label")
	}
	scores := StepScores([]StepLabel{Measure(1, 2), {Hard: true}, {Failed: true}, {Source: Outcome}})
	if scores[0] != 0.5 || scores[1] != 1 || !math.IsNaN(scores[2]) || scores[3] != 0 {
		t.Errorf("StepScores = %v", scores)
	}
}
