package labeler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Problem is one line of labeling input: a question, its gold answer and the
// sampled solutions to label.
type Problem struct {
	ID        string          `json:"id"`
	Question  string          `json:"question"`
	Answer    string          `json:"answer"`
	Solutions []SolutionInput `json:"solutions"`
}

// SolutionInput is a solution as given: a plain string, {"id", "text"} or
// {"id", "steps"} with the steps already split.
type SolutionInput struct {
	ID    string   `json:"id,omitempty"`
	Text  string   `json:"text,omitempty"`
	Steps []string `json:"steps,omitempty"`
}

// UnmarshalJSON accepts a bare string as well as the object forms.
func (s *SolutionInput) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		*s = SolutionInput{}
		return json.Unmarshal(b, &s.Text)
	}
	type plain SolutionInput
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("a solution is a string, {\"id\", \"text\"} or {\"id\", \"steps\"}: %w", err)
	}
	*s = SolutionInput(p)
	return nil
}

// InputLimits bound what one problem may carry.
type InputLimits struct {
	MaxSolutions int // per problem
	SplitOptions
}

// PreparedSolution is a validated, split solution ready for labeling.
type PreparedSolution struct {
	ProblemID  string
	SolutionID string
	Question   string
	Gold       string
	Solution   Solution
	// Key, when set, names the solution within its source: opaque to the
	// scheduler, which hands it back on the solution's record
	// (Record.Key), so that a source whose ids may repeat (a stored job)
	// still tells its records apart.
	Key string
}

// Prepare validates a problem and splits its solutions. Errors name the
// field at fault; defaultID names a problem without an id. A solution
// without an id gets "<problem id>-<index>".
func (p Problem) Prepare(defaultID string, lim InputLimits) ([]PreparedSolution, error) {
	id := strings.TrimSpace(p.ID)
	if id == "" {
		id = defaultID
	}
	switch {
	case strings.TrimSpace(p.Question) == "":
		return nil, fmt.Errorf("problem %s: field \"question\" is missing or empty", id)
	case strings.TrimSpace(p.Answer) == "":
		return nil, fmt.Errorf("problem %s: field \"answer\" (the gold answer) is missing or empty", id)
	case len(p.Solutions) == 0:
		return nil, fmt.Errorf("problem %s: field \"solutions\" is missing or empty", id)
	case lim.MaxSolutions > 0 && len(p.Solutions) > lim.MaxSolutions:
		return nil, fmt.Errorf("problem %s: %d solutions, more than the limit of %d", id, len(p.Solutions), lim.MaxSolutions)
	}
	gold := GoldAnswer(p.Answer)
	out := make([]PreparedSolution, 0, len(p.Solutions))
	seen := map[string]bool{}
	for i, s := range p.Solutions {
		sid := strings.TrimSpace(s.ID)
		if sid == "" {
			sid = id + "-" + strconv.Itoa(i)
		}
		if seen[sid] {
			return nil, fmt.Errorf("problem %s: solutions[%d]: duplicate solution id %q", id, i, sid)
		}
		seen[sid] = true
		sol, err := s.Split(lim.SplitOptions)
		if err != nil {
			return nil, fmt.Errorf("problem %s: solutions[%d] (%s): %w", id, i, sid, err)
		}
		out = append(out, PreparedSolution{ProblemID: id, SolutionID: sid, Question: p.Question, Gold: gold, Solution: sol})
	}
	return out, nil
}

// Split splits a solution as given into steps: its steps when it has
// them, else its text, split by opt.
func (s SolutionInput) Split(opt SplitOptions) (Solution, error) {
	switch {
	case len(s.Steps) > 0 && s.Text != "":
		return Solution{}, fmt.Errorf("give either \"text\" or \"steps\", not both")
	case len(s.Steps) > 0:
		return FromSteps(s.Steps, "", opt.MaxSteps)
	case strings.TrimSpace(s.Text) == "":
		return Solution{}, fmt.Errorf("solution is empty")
	}
	return Split(s.Text, opt)
}
