// Package convert holds the conversions between the shepherd.v1 API
// messages (package shepherdv1) and the labeler's domain types: problems
// and their solutions, label records, strategies and split modes. The
// client and the server both use it, so a value crosses the API the same
// way in both directions.
package convert

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shepherd-prm/shepherd/labeler"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

// ProblemProto is a labeling input problem as an API message. A solution
// must have either text or steps (the API carries one of them); a problem
// without an id gets the server's default ("p<index>"), a solution without
// one "<problem id>-<index>", as in `shepherd label`.
func ProblemProto(p labeler.Problem) (*shepherdv1.Problem, error) {
	out := &shepherdv1.Problem{Id: p.ID, Question: p.Question, Answer: p.Answer,
		Solutions: make([]*shepherdv1.Solution, len(p.Solutions))}
	for i, s := range p.Solutions {
		sol := &shepherdv1.Solution{Id: s.ID}
		switch {
		case len(s.Steps) > 0 && s.Text != "":
			return nil, fmt.Errorf("problem %s: solutions[%d]: give either text or steps, not both", p.ID, i)
		case len(s.Steps) > 0:
			sol.Body = &shepherdv1.Solution_Steps{Steps: &shepherdv1.Steps{Steps: s.Steps}}
		default:
			sol.Body = &shepherdv1.Solution_Text{Text: s.Text}
		}
		out.Solutions[i] = sol
	}
	return out, nil
}

// ProblemsProto converts problems with ProblemProto; an error names the
// problem's index.
func ProblemsProto(ps []labeler.Problem) ([]*shepherdv1.Problem, error) {
	out := make([]*shepherdv1.Problem, len(ps))
	for i, p := range ps {
		var err error
		if out[i], err = ProblemProto(p); err != nil {
			return nil, fmt.Errorf("problems[%d]: %w", i, err)
		}
	}
	return out, nil
}

// ProblemOf is an API problem as labeling input.
func ProblemOf(p *shepherdv1.Problem) labeler.Problem {
	out := labeler.Problem{ID: p.GetId(), Question: p.GetQuestion(), Answer: p.GetAnswer(),
		Solutions: make([]labeler.SolutionInput, len(p.GetSolutions()))}
	for i, s := range p.GetSolutions() {
		out.Solutions[i] = SolutionOf(s)
	}
	return out
}

// SolutionBody is an API message holding a solution: a Solution, or a
// Score request's Candidate. Its body is text or steps; the getter of the
// other returns the zero value.
type SolutionBody interface {
	GetId() string
	GetText() string
	GetSteps() *shepherdv1.Steps
}

// SolutionOf is an API solution as labeling input, with the solution's id
// as given (possibly empty).
func SolutionOf(s SolutionBody) labeler.SolutionInput {
	return labeler.SolutionInput{ID: s.GetId(), Text: s.GetText(), Steps: s.GetSteps().GetSteps()}
}

// RecordOf is an API label record as the labeler's record: the same value
// `shepherd label` writes as one JSONL line.
func RecordOf(r *shepherdv1.LabelRecord) labeler.Record {
	out := labeler.Record{
		ProblemID:        r.GetProblemId(),
		SolutionID:       r.GetSolutionId(),
		Prompt:           r.GetPrompt(),
		Completions:      r.GetCompletions(),
		Labels:           r.GetLabels(),
		SoftLabels:       make([]*float64, len(r.GetSoftLabels())),
		Rollouts:         make([]int, len(r.GetRollouts())),
		CorrectRollout:   make([]int, len(r.GetCorrectRollouts())),
		CompletionTokens: r.GetCompletionTokens(),
		FirstErrorStep:   int(r.GetFirstErrorStep()),
		OutcomeCorrect:   r.GetOutcomeCorrect(),
		Strategy:         StrategyOf(r.GetStrategy()),
		Model:            r.GetModel(),
		GraderVersion:    r.GetGraderVersion(),
	}
	if out.Completions == nil {
		out.Completions = []string{}
	}
	if out.Labels == nil {
		out.Labels = []bool{}
	}
	for i, s := range r.GetSoftLabels() {
		if s != nil && s.Value != nil {
			v := s.GetValue()
			out.SoftLabels[i] = &v
		}
	}
	for i, n := range r.GetRollouts() {
		out.Rollouts[i] = int(n)
	}
	for i, n := range r.GetCorrectRollouts() {
		out.CorrectRollout[i] = int(n)
	}
	if r.MinScore != nil {
		v := r.GetMinScore()
		out.MinScore = &v
	}
	for _, k := range r.GetFailedSteps() {
		out.FailedSteps = append(out.FailedSteps, int(k))
	}
	return out
}

// RecordProto is a labeler record as an API message.
func RecordProto(r labeler.Record) *shepherdv1.LabelRecord {
	out := &shepherdv1.LabelRecord{
		ProblemId:        r.ProblemID,
		SolutionId:       r.SolutionID,
		Prompt:           r.Prompt,
		Completions:      r.Completions,
		Labels:           r.Labels,
		SoftLabels:       make([]*shepherdv1.SoftLabel, len(r.SoftLabels)),
		Rollouts:         make([]int32, len(r.Rollouts)),
		CorrectRollouts:  make([]int32, len(r.CorrectRollout)),
		CompletionTokens: r.CompletionTokens,
		FirstErrorStep:   int32(r.FirstErrorStep),
		MinScore:         r.MinScore,
		OutcomeCorrect:   r.OutcomeCorrect,
		Strategy:         StrategyProto(r.Strategy),
		Model:            r.Model,
		GraderVersion:    r.GraderVersion,
	}
	for i, s := range r.SoftLabels {
		out.SoftLabels[i] = &shepherdv1.SoftLabel{Value: s}
	}
	for i, n := range r.Rollouts {
		out.Rollouts[i] = int32(n)
	}
	for i, n := range r.CorrectRollout {
		out.CorrectRollouts[i] = int32(n)
	}
	for _, k := range r.FailedSteps {
		out.FailedSteps = append(out.FailedSteps, int32(k))
	}
	return out
}

// The API names the labeler's values of an enum by their names: value
// "x-y" of the labeler is PREFIX_X_Y in the API, so a new strategy or split
// mode needs no case here, only its enum value.

// StrategyProto is a labeler strategy as an API value; "" is unspecified
// (the server's default, exhaustive).
func StrategyProto(s labeler.Strategy) shepherdv1.Strategy {
	return shepherdv1.Strategy(enumProto(s, labeler.Strategies, "STRATEGY_", shepherdv1.Strategy_value))
}

// StrategyOf is an API strategy as the labeler's; unspecified (or an
// unknown value) is "".
func StrategyOf(s shepherdv1.Strategy) labeler.Strategy {
	st, _ := enumOf(s, labeler.Strategies, "STRATEGY_")
	return st
}

// SplitModeProto is a labeler split mode as an API value; "" is
// unspecified (the server's default, auto).
func SplitModeProto(m labeler.SplitMode) shepherdv1.SplitMode {
	return shepherdv1.SplitMode(enumProto(m, labeler.SplitModes, "SPLIT_MODE_", shepherdv1.SplitMode_value))
}

// SplitModeOf is an API split mode as the labeler's; unspecified (or an
// unknown value) is the default, auto.
func SplitModeOf(m shepherdv1.SplitMode) labeler.SplitMode {
	if mode, ok := enumOf(m, labeler.SplitModes, "SPLIT_MODE_"); ok {
		return mode
	}
	return labeler.SplitAuto
}

func enumName[L ~string](prefix string, v L) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(string(v), "-", "_"))
}

// enumProto is the API value of v, one of known; 0 (unspecified) for
// another value.
func enumProto[L ~string](v L, known []L, prefix string, values map[string]int32) int32 {
	if !slices.Contains(known, v) {
		return 0
	}
	return values[enumName(prefix, v)]
}

// enumOf is the one of known whose API value is p.
func enumOf[L ~string, P fmt.Stringer](p P, known []L, prefix string) (L, bool) {
	for _, v := range known {
		if enumName(prefix, v) == p.String() {
			return v, true
		}
	}
	var none L
	return none, false
}
