package labeler

import (
	"fmt"
	"slices"
	"strings"
)

// Strategy names a way of choosing which rollouts to spend on a solution.
type Strategy string

// The labeling strategies.
const (
	// Exhaustive is Math-Shepherd: n rollouts from every step prefix, giving
	// exact soft and hard labels everywhere.
	Exhaustive Strategy = "exhaustive"
	// Binary searches for the first step whose hard label is 0, stopping each
	// probe at its first correct rollout; steps before it are labelled 1, it
	// and later steps 0.
	Binary Strategy = "binary"
)

// Strategies lists the strategies, the default first. A new strategy is a
// constant above, an entry here and in newPlans, and its plan.
var Strategies = []Strategy{Exhaustive, Binary}

// newPlans makes the plan of each strategy from the common state.
var newPlans = map[Strategy]func(b base, outcomeCorrect bool) Plan{
	Exhaustive: func(b base, _ bool) Plan { return newExhaustive(b) },
	Binary:     func(b base, outcomeCorrect bool) Plan { return newBinary(b, outcomeCorrect) },
}

// ParseStrategy validates a strategy name ("" is Exhaustive).
func ParseStrategy(s string) (Strategy, error) {
	switch st := Strategy(strings.ToLower(strings.TrimSpace(s))); {
	case st == "":
		return Exhaustive, nil
	case slices.Contains(Strategies, st):
		return st, nil
	}
	want := string(Strategies[len(Strategies)-1])
	for i := len(Strategies) - 2; i >= 0; i-- {
		sep := ", "
		if i == len(Strategies)-2 {
			sep = " or "
		}
		want = string(Strategies[i]) + sep + want
	}
	return "", fmt.Errorf("unknown strategy %q (want %s)", s, want)
}

// Probe asks for the rollouts with sample indices [From, To) of the prefix
// ending at step Step. Sample index i is drawn with seed base+i, so a probe
// is a pure function of its prefix and indices: retried, resumed or shared
// probes get the same samples.
type Probe struct {
	Step     int
	From, To int
}

// N is the number of samples the probe asks for.
func (p Probe) N() int { return p.To - p.From }

// Rollout is what a plan needs to know of one graded sample.
type Rollout struct {
	Correct bool
	// Matched is how many of the solution's following steps the sample
	// reproduced byte for byte before diverging. A sample from prefix k that
	// matched m steps is also a sample from prefixes k+1..k+m.
	Matched int
}

// PlanOptions are the per-job settings of a plan.
type PlanOptions struct {
	Strategy Strategy
	N        int // rollouts per measured step
	// Reuse counts a rollout from prefix k that reproduces the solution's
	// next steps as a rollout from those prefixes too, which saves samples
	// but makes exhaustive probe one step after the other.
	Reuse bool
}

// Plan decides, for one solution, which probes to run, and turns their
// rollouts into step labels. It is a pure state machine: the caller runs the
// probes and reports back with Observe. Plans are not safe for concurrent
// use.
type Plan interface {
	// Next returns probes to start now; each is returned once. It returns
	// nothing while the plan waits for outstanding probes, or once done.
	Next() []Probe
	// Observe reports the rollouts of a probe in sample order, or that the
	// probe failed for good (rollouts nil).
	Observe(p Probe, rollouts []Rollout, failed bool)
	Done() bool
	Labels() []StepLabel
}

// NewPlan returns a plan for a solution of steps steps whose own final
// answer grades as outcomeCorrect.
func NewPlan(steps int, outcomeCorrect bool, opt PlanOptions) (Plan, error) {
	if steps < 1 {
		return nil, fmt.Errorf("solution has no steps")
	}
	if opt.N < 1 {
		return nil, fmt.Errorf("n must be at least 1, got %d", opt.N)
	}
	b := base{labels: make([]StepLabel, steps), credit: make([]credit, steps), drawn: make([]int, steps), opt: opt}
	// The prefix ending at the last step is the whole solution: its only
	// continuation is itself, so its label is the graded outcome.
	b.labels[steps-1] = StepLabel{Hard: outcomeCorrect, Source: Outcome}
	st := opt.Strategy
	if st == "" {
		st = Exhaustive
	}
	if newPlan, ok := newPlans[st]; ok {
		return newPlan(b, outcomeCorrect), nil
	}
	return nil, fmt.Errorf("unknown strategy %q", opt.Strategy)
}

// credit holds rollouts from earlier prefixes that reproduced this step.
type credit struct{ rollouts, correct int }

type base struct {
	labels []StepLabel
	credit []credit
	drawn  []int // samples drawn from each prefix itself (the next sample index)
	opt    PlanOptions
}

func (b *base) Labels() []StepLabel { return b.labels }

// probe asks for n more samples of step s, continuing its sample indices.
func (b *base) probe(s, n int) Probe {
	p := Probe{Step: s, From: b.drawn[s], To: b.drawn[s] + n}
	b.drawn[s] = p.To
	return p
}

// count adds a probe's rollouts to its step and, with reuse, credits the
// later steps they reproduced. The last step is never credited: its label
// is the outcome.
func (b *base) count(p Probe, rollouts []Rollout) {
	l := &b.labels[p.Step]
	l.Source = Measured
	for _, r := range rollouts {
		l.Rollouts++
		if r.Correct {
			l.Correct++
		}
		if !b.opt.Reuse {
			continue
		}
		for s := p.Step + 1; s <= p.Step+r.Matched && s < len(b.labels)-1; s++ {
			b.credit[s].rollouts++
			if r.Correct {
				b.credit[s].correct++
			}
		}
	}
	l.Hard = l.Correct > 0
}

// takeCredit moves up to max credited rollouts of step s into its label and
// returns how many it moved.
func (b *base) takeCredit(s, max int) int {
	c := &b.credit[s]
	use := min(c.rollouts, max)
	if use == 0 {
		return 0
	}
	// Credited rollouts are exchangeable; when only some are used, keep the
	// correct share in proportion (rounded down).
	correct := c.correct
	if c.rollouts > use {
		correct = c.correct * use / c.rollouts
	}
	l := &b.labels[s]
	l.Source = Measured
	l.Rollouts += use
	l.Correct += correct
	l.Hard = l.Correct > 0
	c.rollouts -= use
	c.correct -= correct
	return use
}

// exhaustive measures every step but the last with N rollouts. With reuse it
// goes one step after the other so that credits from step k reduce what step
// k+1 asks for; without it every probe starts at once.
type exhaustive struct {
	base
	next        int // next step to start
	outstanding int
}

func newExhaustive(b base) *exhaustive { return &exhaustive{base: b} }

func (e *exhaustive) Next() []Probe {
	last := len(e.labels) - 1
	var out []Probe
	for e.next < last && (!e.opt.Reuse || e.outstanding == 0) {
		s := e.next
		e.next++
		need := e.opt.N
		if e.opt.Reuse {
			need -= e.takeCredit(s, need)
		}
		if need > 0 {
			out = append(out, e.probe(s, need))
			e.outstanding++
		}
	}
	return out
}

func (e *exhaustive) Observe(p Probe, rollouts []Rollout, failed bool) {
	e.outstanding--
	if failed {
		e.labels[p.Step].Failed = true
		return
	}
	e.count(p, rollouts)
}

func (e *exhaustive) Done() bool { return e.next >= len(e.labels)-1 && e.outstanding == 0 }

// binary searches [lo, hi] for the first step whose hard label is 0, keeping
// it inside the range: every step before lo reaches the gold answer and hi
// does not. Each probe asks for samples in doubling batches (1, 1, 2, 4, …,
// N in all) and stops at the first correct one.
type binary struct {
	base
	lo, hi  int
	probing int // the step being probed, -1 between probes
	asked   int // rollouts counted for the probed step so far
	waiting bool
	done    bool
}

func newBinary(b base, outcomeCorrect bool) *binary {
	last := len(b.labels) - 1
	bn := &binary{base: b, lo: 0, hi: last, probing: -1}
	if outcomeCorrect {
		// A correct solution is its own witness: every prefix of it reaches
		// the gold answer, so no rollout is needed.
		for i := 0; i < last; i++ {
			bn.labels[i] = StepLabel{Hard: true, Source: Inferred}
		}
		bn.done = true
	}
	return bn
}

func (b *binary) Next() []Probe {
	for !b.done && !b.waiting {
		if b.probing < 0 {
			if b.lo >= b.hi {
				b.finish()
				return nil
			}
			b.probing = (b.lo + b.hi) / 2
			b.asked = 0
			if b.opt.Reuse {
				b.asked = b.takeCredit(b.probing, b.opt.N)
			}
		}
		switch {
		case b.labels[b.probing].Correct > 0:
			b.lo, b.probing = b.probing+1, -1
		case b.asked >= b.opt.N:
			b.hi, b.probing = b.probing, -1
		default:
			batch := min(max(1, b.asked), b.opt.N-b.asked)
			b.asked += batch
			b.waiting = true
			return []Probe{b.probe(b.probing, batch)}
		}
	}
	return nil
}

func (b *binary) Observe(p Probe, rollouts []Rollout, failed bool) {
	b.waiting = false
	if !failed {
		b.count(p, rollouts)
		return
	}
	// Without this step's label the search cannot go on: what lies between
	// lo and hi stays unknown.
	for s := b.lo; s < b.hi; s++ {
		b.labels[s].Failed = true
	}
	b.lo = b.hi
	b.probing = -1
	b.finish()
}

func (b *binary) Done() bool { return b.done }

// finish labels the steps the search did not measure: before the first
// error they reach the gold answer, from it on they do not.
func (b *binary) finish() {
	b.done = true
	last := len(b.labels) - 1
	for s := 0; s < last; s++ {
		l := &b.labels[s]
		if l.Source == Measured || l.Failed {
			continue
		}
		l.Hard = s < b.lo
		l.Source = Inferred
	}
}

// Lookahead is implemented by plans that can say which steps they may
// probe after the probes they wait for, so that a scheduler whose capacity
// would otherwise idle can ask for those steps' samples ahead. Samples are
// indexed, so a plan that later asks for them sees the same rollouts and
// its labels do not change; those it never asks for are the price. Binary
// search implements it; exhaustive labeling does not (without reuse it
// asks for every step at once; with reuse, samples asked ahead would make
// its sample count depend on timing).
type Lookahead interface {
	// Lookahead returns the steps the plan may probe within its next depth
	// decisions (depth >= 1), nearer decisions first, starting with the
	// step it probes now when it may want more of its samples. Steps the
	// plan has settled are left out; a step may already have samples.
	Lookahead(depth int) []int
}

// Lookahead implements Lookahead: the midpoints of the ranges the search
// may narrow to, level by level. While step m of [lo, hi] is probed, the
// search goes on in [m+1, hi] if m reaches the gold answer and in [lo, m]
// if it does not; each of those splits the same way at the next level.
func (b *binary) Lookahead(depth int) []int {
	if b.done {
		return nil
	}
	type span struct{ lo, hi int }
	var level []span
	var out []int
	if b.probing >= 0 {
		// The step being probed may need the rest of its batches.
		m := b.probing
		out = append(out, m)
		level = []span{{m + 1, b.hi}, {b.lo, m}}
	} else {
		level = []span{{b.lo, b.hi}}
	}
	for d := 0; d < depth && len(level) > 0; d++ {
		var next []span
		for _, r := range level {
			if r.lo >= r.hi {
				continue
			}
			m := (r.lo + r.hi) / 2
			out = append(out, m)
			next = append(next, span{m + 1, r.hi}, span{r.lo, m})
		}
		level = next
	}
	return out
}
