// Package report reads label records (the JSONL of `shepherd label`) as a
// stream and renders one self-contained HTML page of counts, charts,
// label-consistency flags and run comparisons. Its memory grows with the
// number of step positions, not with the number of solutions.
package report

import (
	"fmt"
	"math"
)

// record is the part of a label record the report reads. Labels and soft
// labels may be null (a failed step, or an inferred soft label); the text
// fields are left undecoded.
type record struct {
	ProblemID        string     `json:"problem_id"`
	SolutionID       string     `json:"solution_id"`
	Labels           []*bool    `json:"labels"`
	SoftLabels       []*float64 `json:"soft_labels"`
	Rollouts         []int      `json:"rollouts"`
	FirstErrorStep   *int       `json:"first_error_step"`
	MinScore         *float64   `json:"min_score"`
	OutcomeCorrect   *bool      `json:"outcome_correct"`
	FailedSteps      []int      `json:"failed_steps"`
	Strategy         string     `json:"strategy"`
	Model            string     `json:"model"`
	CompletionTokens *int64     `json:"completion_tokens"` // optional: per-solution token count, when the producer records it
}

// step states of a solution's steps.
const (
	stepFalse  = 0
	stepTrue   = 1
	stepFailed = 2
)

// normalise checks r and returns the state of each step and its first
// error step (-1 if none). A step is failed when it is listed in
// failed_steps or its hard label is null.
func (r *record) normalise() (states []uint8, firstError int, err error) {
	n := len(r.Labels)
	if r.SoftLabels != nil && len(r.SoftLabels) != n {
		return nil, 0, fmt.Errorf("soft_labels has %d entries for %d labels", len(r.SoftLabels), n)
	}
	if r.Rollouts != nil && len(r.Rollouts) != n {
		return nil, 0, fmt.Errorf("rollouts has %d entries for %d labels", len(r.Rollouts), n)
	}
	states = make([]uint8, n)
	firstError = -1
	for i, l := range r.Labels {
		switch {
		case l == nil:
			states[i] = stepFailed
		case *l:
			states[i] = stepTrue
		default:
			states[i] = stepFalse
			if firstError < 0 {
				firstError = i
			}
		}
	}
	for _, f := range r.FailedSteps {
		if f < 0 || f >= n {
			return nil, 0, fmt.Errorf("failed_steps holds step %d of a solution with %d steps", f, n)
		}
		states[f] = stepFailed
	}
	for i, s := range r.SoftLabels {
		if s != nil && (math.IsNaN(*s) || *s < 0 || *s > 1) {
			return nil, 0, fmt.Errorf("soft_labels[%d] is %v, not in [0, 1]", i, *s)
		}
	}
	if r.MinScore != nil && (math.IsNaN(*r.MinScore) || *r.MinScore < 0 || *r.MinScore > 1) {
		return nil, 0, fmt.Errorf("min_score is %v, not in [0, 1]", *r.MinScore)
	}
	// The record's own first_error_step is authoritative when present;
	// otherwise it is the first step with hard label 0.
	if r.FirstErrorStep != nil {
		if *r.FirstErrorStep < -1 || *r.FirstErrorStep >= max(n, 1) {
			return nil, 0, fmt.Errorf("first_error_step is %d for a solution with %d steps", *r.FirstErrorStep, n)
		}
		firstError = *r.FirstErrorStep
	}
	return states, firstError, nil
}

// processMin is the min-step score over the steps that were judged by
// rollouts: the soft label where measured, the hard label where inferred,
// failed steps left out. A last step without rollouts is left out too: its
// label is the graded outcome itself (shepherd label's contract), so
// including it would make every wrong solution score 0 and hide the
// solutions whose steps all looked right but whose answer is wrong.
func (r *record) processMin(states []uint8) (float64, bool) {
	n := len(states)
	if len(r.Rollouts) == n && n > 0 && r.Rollouts[n-1] == 0 {
		n--
	}
	m, ok := 1.0, false
	for i := range n {
		if states[i] == stepFailed {
			continue
		}
		v := float64(states[i])
		if i < len(r.SoftLabels) && r.SoftLabels[i] != nil {
			v = *r.SoftLabels[i]
		}
		m, ok = math.Min(m, v), true
	}
	return m, ok
}

func (r *record) rolloutSum() int64 {
	var t int64
	for _, v := range r.Rollouts {
		t += int64(v)
	}
	return t
}

func (r *record) key() string { return r.ProblemID + "\x00" + r.SolutionID }

func (r *record) name() string {
	if r.SolutionID != "" {
		return r.SolutionID
	}
	return r.ProblemID
}
