package labeler

import (
	"fmt"
	"math"
	"strings"
)

// LabelSource says how a step's label was reached.
type LabelSource uint8

// The sources of a step label.
const (
	// Inferred: a strategy deduced the hard label without counting rollouts
	// (steps before a found first error, or of a solution that is its own
	// witness). There is no soft label.
	Inferred LabelSource = iota
	// Measured: counted from rollouts; the soft label is Correct/Rollouts.
	Measured
	// Outcome: the prefix is the whole solution, so its only continuation is
	// the solution itself and the label is the solution's graded outcome,
	// exactly (soft label 1 or 0) with no rollout spent.
	Outcome
)

// StepLabel is what is known of one step prefix after its rollouts.
type StepLabel struct {
	Rollouts int  // graded rollouts counted for this prefix
	Correct  int  // of them, those reaching the gold answer
	Hard     bool // the prefix can reach the gold answer
	Source   LabelSource
	Failed   bool // the step's rollouts could not be obtained (dead-lettered)
}

// Soft returns the soft label and whether there is one: the fraction of
// rollouts that reach the gold answer where measured, the outcome (1 or 0)
// of a complete solution, nothing where inferred or failed.
func (l StepLabel) Soft() (float64, bool) {
	switch {
	case l.Source == Outcome:
		if l.Hard {
			return 1, true
		}
		return 0, true
	case l.Source == Measured && l.Rollouts > 0:
		return Soft(l.Correct, l.Rollouts), true
	}
	return 0, false
}

// Soft returns correct/n, or NaN when n is 0.
func Soft(correct, n int) float64 {
	if n <= 0 {
		return math.NaN()
	}
	return float64(correct) / float64(n)
}

// Measure returns the label of a step from its rollout counts.
func Measure(correct, n int) StepLabel {
	return StepLabel{Rollouts: n, Correct: correct, Hard: correct > 0, Source: Measured}
}

// FirstError returns the index of the first step whose hard label is 0, or
// -1 when every step can still reach the gold answer. Failed steps have no
// label and are passed over.
func FirstError(labels []StepLabel) int {
	for i, l := range labels {
		if !l.Hard && !l.Failed {
			return i
		}
	}
	return -1
}

// Aggregation turns per-step scores into one solution score.
type Aggregation string

// The aggregations of step scores into a solution score.
const (
	AggMin  Aggregation = "min"  // the weakest step (Math-Shepherd, Lightman et al.)
	AggProd Aggregation = "prod" // probability that every step is right
	AggLast Aggregation = "last" // the last step's score
	AggMean Aggregation = "mean"
)

// ParseAggregation validates an aggregation name.
func ParseAggregation(s string) (Aggregation, error) {
	switch a := Aggregation(strings.ToLower(strings.TrimSpace(s))); a {
	case AggMin, AggProd, AggLast, AggMean:
		return a, nil
	case "":
		return AggMin, nil
	}
	return "", fmt.Errorf("unknown aggregation %q (want min, prod, last or mean)", s)
}

// Aggregate combines step scores; NaN scores (steps without a measurement)
// are skipped. It returns NaN when no score is left.
func Aggregate(scores []float64, a Aggregation) float64 {
	out := math.NaN()
	n := 0
	for _, s := range scores {
		if math.IsNaN(s) {
			continue
		}
		switch {
		case n == 0:
			out = s
		case a == AggMin:
			out = math.Min(out, s)
		case a == AggProd:
			out *= s
		case a == AggMean:
			out += s
		case a == AggLast:
			out = s
		}
		n++
	}
	if a == AggMean && n > 0 {
		out /= float64(n)
	}
	return out
}

// StepScores returns the score of each step for aggregation: the soft label
// where there is one, else the hard label (1 or 0) an inference gave it, and
// NaN for a failed step (Aggregate skips it).
func StepScores(labels []StepLabel) []float64 {
	out := make([]float64, len(labels))
	for i, l := range labels {
		if l.Failed {
			// Counts a failed step may hold (from reused rollouts) are
			// partial: no score.
			out[i] = math.NaN()
			continue
		}
		if s, ok := l.Soft(); ok {
			out[i] = s
			continue
		}
		switch {
		case l.Hard:
			out[i] = 1
		}
	}
	return out
}
