package labeler

import (
	"encoding/json"
	"math"
	"slices"
)

// Record is the canonical label record of one solution: one JSONL line of
// `shepherd label`, one message of the streaming API. prompt, completions
// and labels are TRL's stepwise-supervision columns.
type Record struct {
	ProblemID      string     `json:"problem_id"`
	SolutionID     string     `json:"solution_id"`
	Prompt         string     `json:"prompt"`
	Completions    []string   `json:"completions"`
	Labels         []bool     `json:"labels"`      // JSON: null at failed steps (false here; see FailedSteps)
	SoftLabels     []*float64 `json:"soft_labels"` // null where the label was inferred, and at failed steps
	Rollouts       []int      `json:"rollouts"`
	CorrectRollout []int      `json:"correct_rollouts"`
	// CompletionTokens are the tokens generated on behalf of this solution:
	// each rollout task is charged to the solution whose probe first asked
	// for it, speculative samples included, so a job's records sum to its
	// completion tokens. A solution served by shared or reused rollouts
	// alone, or needing none, has 0.
	CompletionTokens int64 `json:"completion_tokens"`
	// FirstErrorStep and MinScore are computed over the steps that have a
	// label: a failed step is passed over, so -1 means "no labelled step
	// is an error", not "no step is".
	FirstErrorStep int      `json:"first_error_step"`
	MinScore       *float64 `json:"min_score"` // null when no step has a score
	OutcomeCorrect bool     `json:"outcome_correct"`
	FailedSteps    []int    `json:"failed_steps,omitempty"`
	Strategy       Strategy `json:"strategy"`
	Model          string   `json:"model"`
	GraderVersion  string   `json:"grader_version"`
	// Sources says how each step's label was reached, as the strategy
	// knew it. It is not written: a record read back from JSON or the API
	// has none, and Source reads it from the columns then.
	Sources []LabelSource `json:"-"`
	// Key is the solution's PreparedSolution.Key, handed back by the
	// scheduler so that its source can tell which solution a record is
	// for. It is not written.
	Key string `json:"-"`
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
		Sources:        make([]LabelSource, len(labels)),
		FirstErrorStep: FirstError(labels),
		OutcomeCorrect: outcomeCorrect,
		Strategy:       strategy,
		Model:          model,
		GraderVersion:  graderVersion,
	}
	for i, l := range labels {
		r.Rollouts[i] = l.Rollouts
		r.CorrectRollout[i] = l.Correct
		r.Sources[i] = l.Source
		if l.Failed {
			// No label at all: a false here would read as a wrong step.
			r.FailedSteps = append(r.FailedSteps, i)
			continue
		}
		r.Labels[i] = l.Hard
		if s, ok := l.Soft(); ok {
			r.SoftLabels[i] = &s
		}
	}
	if m := Aggregate(StepScores(labels), AggMin); !math.IsNaN(m) {
		r.MinScore = &m
	}
	return r
}

// recordJSON is Record as written, field for field in Record's order:
// labels are nullable so that a failed step reads as "no label" to whoever
// ignores failed_steps.
type recordJSON struct {
	ProblemID        string     `json:"problem_id"`
	SolutionID       string     `json:"solution_id"`
	Prompt           string     `json:"prompt"`
	Completions      []string   `json:"completions"`
	Labels           []*bool    `json:"labels"`
	SoftLabels       []*float64 `json:"soft_labels"`
	Rollouts         []int      `json:"rollouts"`
	CorrectRollout   []int      `json:"correct_rollouts"`
	CompletionTokens int64      `json:"completion_tokens"`
	FirstErrorStep   int        `json:"first_error_step"`
	MinScore         *float64   `json:"min_score"`
	OutcomeCorrect   bool       `json:"outcome_correct"`
	FailedSteps      []int      `json:"failed_steps,omitempty"`
	Strategy         Strategy   `json:"strategy"`
	Model            string     `json:"model"`
	GraderVersion    string     `json:"grader_version"`
}

// MarshalJSON writes null labels and soft labels at failed steps.
func (r Record) MarshalJSON() ([]byte, error) {
	out := recordJSON{
		ProblemID: r.ProblemID, SolutionID: r.SolutionID, Prompt: r.Prompt, Completions: r.Completions,
		Labels: make([]*bool, len(r.Labels)), SoftLabels: slices.Clone(r.SoftLabels),
		Rollouts: r.Rollouts, CorrectRollout: r.CorrectRollout, CompletionTokens: r.CompletionTokens, FirstErrorStep: r.FirstErrorStep,
		MinScore: r.MinScore, OutcomeCorrect: r.OutcomeCorrect, FailedSteps: r.FailedSteps,
		Strategy: r.Strategy, Model: r.Model, GraderVersion: r.GraderVersion,
	}
	if r.Labels == nil {
		out.Labels = nil
	}
	for i := range r.Labels {
		out.Labels[i] = &r.Labels[i]
	}
	for _, k := range r.FailedSteps {
		if k >= 0 && k < len(out.Labels) {
			out.Labels[k] = nil
		}
		if k >= 0 && k < len(out.SoftLabels) {
			out.SoftLabels[k] = nil
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads a record; a null label is a failed step (added to
// FailedSteps if missing there) with Labels false.
func (r *Record) UnmarshalJSON(data []byte) error {
	var in recordJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	*r = Record{
		ProblemID: in.ProblemID, SolutionID: in.SolutionID, Prompt: in.Prompt, Completions: in.Completions,
		SoftLabels: in.SoftLabels, Rollouts: in.Rollouts, CorrectRollout: in.CorrectRollout, CompletionTokens: in.CompletionTokens,
		FirstErrorStep: in.FirstErrorStep, MinScore: in.MinScore, OutcomeCorrect: in.OutcomeCorrect,
		FailedSteps: in.FailedSteps, Strategy: in.Strategy, Model: in.Model, GraderVersion: in.GraderVersion,
	}
	if in.Labels != nil {
		r.Labels = make([]bool, len(in.Labels))
	}
	for i, l := range in.Labels {
		switch {
		case l != nil:
			r.Labels[i] = *l
		case !slices.Contains(r.FailedSteps, i):
			r.FailedSteps = append(r.FailedSteps, i)
		}
	}
	slices.Sort(r.FailedSteps)
	return nil
}

// Source says how step i's label was reached: as kept by NewRecord, or
// for a record read back, from its columns (a soft label with rollouts
// was measured, one without is the solution's outcome, no soft label was
// inferred).
func (r Record) Source(i int) LabelSource {
	switch {
	case i < len(r.Sources):
		return r.Sources[i]
	case i >= len(r.SoftLabels) || r.SoftLabels[i] == nil:
		return Inferred
	case i < len(r.Rollouts) && r.Rollouts[i] == 0:
		return Outcome
	}
	return Measured
}

// StepScores returns the score of each step as StepScores gives it for
// the labels the record was made of: the soft label where there is one,
// else the hard label (1 or 0), NaN at a failed step.
func (r Record) StepScores() []float64 {
	out := make([]float64, len(r.Labels))
	for k := range out {
		switch {
		case k < len(r.SoftLabels) && r.SoftLabels[k] != nil:
			out[k] = *r.SoftLabels[k]
		case r.Labels[k]:
			out[k] = 1
		}
	}
	for _, k := range r.FailedSteps {
		if k >= 0 && k < len(out) {
			out[k] = math.NaN()
		}
	}
	return out
}
