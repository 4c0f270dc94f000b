package labeler

import "math"

// Record is the canonical label record of one solution: one JSONL line of
// `shepherd label`, one message of the streaming API. prompt, completions
// and labels are TRL's stepwise-supervision columns.
type Record struct {
	ProblemID      string     `json:"problem_id"`
	SolutionID     string     `json:"solution_id"`
	Prompt         string     `json:"prompt"`
	Completions    []string   `json:"completions"`
	Labels         []bool     `json:"labels"`
	SoftLabels     []*float64 `json:"soft_labels"` // null where the label was inferred
	Rollouts       []int      `json:"rollouts"`
	CorrectRollout []int      `json:"correct_rollouts"`
	FirstErrorStep int        `json:"first_error_step"`
	MinScore       *float64   `json:"min_score"` // null when no step has a score
	OutcomeCorrect bool       `json:"outcome_correct"`
	FailedSteps    []int      `json:"failed_steps,omitempty"`
	Strategy       Strategy   `json:"strategy"`
	Model          string     `json:"model"`
	GraderVersion  string     `json:"grader_version"`
}

// NewRecord assembles the record of a labelled solution.
func NewRecord(problemID, solutionID, question string, steps []string, labels []StepLabel, outcomeCorrect bool, strategy Strategy, model, graderVersion string) Record {
	r := Record{
		ProblemID:      problemID,
		SolutionID:     solutionID,
		Prompt:         question,
		Completions:    steps,
		Labels:         make([]bool, len(labels)),
		SoftLabels:     make([]*float64, len(labels)),
		Rollouts:       make([]int, len(labels)),
		CorrectRollout: make([]int, len(labels)),
		FirstErrorStep: FirstError(labels),
		OutcomeCorrect: outcomeCorrect,
		Strategy:       strategy,
		Model:          model,
		GraderVersion:  graderVersion,
	}
	for i, l := range labels {
		r.Labels[i] = l.Hard
		if s, ok := l.Soft(); ok {
			r.SoftLabels[i] = &s
		}
		r.Rollouts[i] = l.Rollouts
		r.CorrectRollout[i] = l.Correct
		if l.Failed {
			r.FailedSteps = append(r.FailedSteps, i)
		}
	}
	if m := Aggregate(StepScores(labels), AggMin); !math.IsNaN(m) {
		r.MinScore = &m
	}
	return r
}
