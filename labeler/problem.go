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
	type plain SolutionInput
	var p plain
	if err := UnmarshalTextOr(b, &p.Text, &p, true); err != nil {
		return fmt.Errorf("a solution is a string, {\"id\", \"text\"} or {\"id\", \"steps\"}: %w", err)
	}
	*s = SolutionInput(p)
	return nil
}

// UnmarshalTextOr decodes b, a JSON string or object: a string is a
// solution's bare text, decoded into text; an object decodes into obj,
// unknown fields refused when strict. Data sets give a solution either way.
func UnmarshalTextOr(b []byte, text *string, obj any, strict bool) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, text)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if strict {
		dec.DisallowUnknownFields()
	}
	return dec.Decode(obj)
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

// Prepare validates a problem and splits its solutions (Check, then
// SolutionInput.Split). Errors name the field at fault.
func (p Problem) Prepare(defaultID string, lim InputLimits) ([]PreparedSolution, error) {
	p, err := p.Check(defaultID, lim)
	if err != nil {
		return nil, err
	}
	gold := GoldAnswer(p.Answer)
	out := make([]PreparedSolution, len(p.Solutions))
	for i, s := range p.Solutions {
		sol, err := s.Split(lim.SplitOptions)
		if err != nil {
			return nil, fmt.Errorf("problem %s: solutions[%d] (%s): %w", p.ID, i, s.ID, err)
		}
		out[i] = PreparedSolution{ProblemID: p.ID, SolutionID: s.ID, Question: p.Question, Gold: gold, Solution: sol}
	}
	return out, nil
}

// Check validates what a problem holds short of splitting its solutions,
// and returns it with its effective ids: defaultID for a problem without
// one, "<problem id>-<index>" for a solution without one. A client of a
// server checks this much, and leaves the splitting to the server.
func (p Problem) Check(defaultID string, lim InputLimits) (Problem, error) {
	id := strings.TrimSpace(p.ID)
	if id == "" {
		id = defaultID
	}
	switch {
	case strings.TrimSpace(p.Question) == "":
		return p, fmt.Errorf("problem %s: field \"question\" is missing or empty", id)
	case strings.TrimSpace(p.Answer) == "":
		return p, fmt.Errorf("problem %s: field \"answer\" (the gold answer) is missing or empty", id)
	case len(p.Solutions) == 0:
		return p, fmt.Errorf("problem %s: field \"solutions\" is missing or empty", id)
	case lim.MaxSolutions > 0 && len(p.Solutions) > lim.MaxSolutions:
		return p, fmt.Errorf("problem %s: %d solutions, more than the limit of %d", id, len(p.Solutions), lim.MaxSolutions)
	}
	out := Problem{ID: id, Question: p.Question, Answer: p.Answer, Solutions: make([]SolutionInput, len(p.Solutions))}
	seen := map[string]bool{}
	for i, s := range p.Solutions {
		s.ID = strings.TrimSpace(s.ID)
		if s.ID == "" {
			s.ID = id + "-" + strconv.Itoa(i)
		}
		if seen[s.ID] {
			return p, fmt.Errorf("problem %s: solutions[%d]: duplicate solution id %q", id, i, s.ID)
		}
		seen[s.ID] = true
		if err := s.check(); err != nil {
			return p, fmt.Errorf("problem %s: solutions[%d] (%s): %w", id, i, s.ID, err)
		}
		out.Solutions[i] = s
	}
	return out, nil
}

// check refuses a solution that cannot be split whatever the options.
func (s SolutionInput) check() error {
	switch {
	case len(s.Steps) > 0 && s.Text != "":
		return fmt.Errorf("give either \"text\" or \"steps\", not both")
	case len(s.Steps) == 0 && strings.TrimSpace(s.Text) == "":
		return fmt.Errorf("solution is empty")
	}
	return nil
}

// Split splits a solution as given into steps: its steps when it has
// them, else its text, split by opt.
func (s SolutionInput) Split(opt SplitOptions) (Solution, error) {
	if err := s.check(); err != nil {
		return Solution{}, err
	}
	if len(s.Steps) > 0 {
		return FromSteps(s.Steps, "", opt.MaxSteps)
	}
	return Split(s.Text, opt)
}
