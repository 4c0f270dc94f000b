package labeler

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// Every step a binary search probes after its outstanding probe settles
// was among the steps its Lookahead named before: Lookahead(depth) covers
// the next depth decisions, so samples asked for ahead are the ones it will
// want. (With reuse, credited rollouts may settle a step without a probe,
// so the search can go deeper in one round.)
func TestLookaheadNamesTheNextProbedSteps(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, opt := range []PlanOptions{{Strategy: Binary, N: 8}, {Strategy: Binary, N: 3}} {
		for trial := 0; trial < 200; trial++ {
			steps := 2 + rng.IntN(12)
			first := rng.IntN(steps)
			p := make([]float64, steps)
			for s := range p {
				if s < first {
					p[s] = 0.3 + 0.7*rng.Float64()
				}
			}
			plan, err := NewPlan(steps, false, opt)
			if err != nil {
				t.Fatal(err)
			}
			la := plan.(Lookahead)
			var ahead1, ahead3 []int // named before the current probes were observed
			for !plan.Done() {
				probes := plan.Next()
				for _, pr := range probes {
					if ahead1 != nil && !slices.Contains(ahead1, pr.Step) {
						t.Fatalf("%s %d steps: probed step %d, Lookahead(1) named %v", opt.Strategy, steps, pr.Step, ahead1)
					}
					if ahead3 != nil && !slices.Contains(ahead3, pr.Step) {
						t.Fatalf("%s %d steps: probed step %d, Lookahead(3) named %v", opt.Strategy, steps, pr.Step, ahead3)
					}
				}
				ahead1, ahead3 = la.Lookahead(1), la.Lookahead(3)
				if len(ahead3) < len(ahead1) {
					t.Fatalf("Lookahead(3) %v names fewer steps than Lookahead(1) %v", ahead3, ahead1)
				}
				for _, pr := range probes {
					rs := make([]Rollout, pr.N())
					for j := range rs {
						rs[j] = Rollout{Correct: rng.Float64() < p[pr.Step], Matched: rng.IntN(2)}
					}
					plan.Observe(pr, rs, false)
				}
				if len(probes) == 0 && !plan.Done() {
					t.Fatal("plan neither done nor probing")
				}
			}
			if got := la.Lookahead(4); len(got) != 0 {
				t.Errorf("done plan looks ahead to %v", got)
			}
		}
	}
}

func TestBinaryLookaheadIsTheSearchTree(t *testing.T) {
	plan, _ := NewPlan(16, false, PlanOptions{Strategy: Binary, N: 8})
	if pr := plan.Next(); len(pr) != 1 || pr[0].Step != 7 {
		t.Fatalf("first probe %v, want step 7 of [0, 15]", pr)
	}
	la := plan.(Lookahead)
	// Probing 7: the rest of its batches, then 11 (if 7 reaches the gold
	// answer, [8, 15]) or 3 ([0, 7]), then the midpoints of their halves.
	if got, want := la.Lookahead(1), []int{7, 11, 3}; !slices.Equal(got, want) {
		t.Errorf("Lookahead(1) = %v, want %v", got, want)
	}
	if got, want := la.Lookahead(2), []int{7, 11, 3, 13, 9, 5, 1}; !slices.Equal(got, want) {
		t.Errorf("Lookahead(2) = %v, want %v", got, want)
	}
}
