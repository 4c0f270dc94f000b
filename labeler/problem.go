package labeler

import (
	"bytes"
	"encoding/json"
	"errors"
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
// SolutionInput.Split). Errors are *InputError, naming the field at fault.
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
			return nil, &InputError{ProblemID: p.ID, Solution: i, SolutionID: s.ID, Reason: err.Error(), Err: err}
		}
		out[i] = PreparedSolution{ProblemID: p.ID, SolutionID: s.ID, Question: p.Question, Gold: gold, Solution: sol}
	}
	return out, nil
}

// InputError is a problem that Check or Prepare refuses: where the fault
// sits and why. Error states it in the labeler's words ("problem p1:
// solutions[0] (p1-0): solution is empty"); the server states the same
// Reason under the API's field path ("problems[0].solutions[0].text").
type InputError struct {
	ProblemID  string // the problem's effective id
	Solution   int    // the index of the solution at fault; -1 for a field of the problem
	SolutionID string // the solution's effective id, when Solution >= 0
	// Field is the field at fault: "question", "answer" or "solutions" of
	// a problem; "id", "text" or "steps" of a solution, or "" for the
	// solution as a whole.
	Field  string
	Reason string
	Err    error // the splitter's error, when the solution does not split
}

func (e *InputError) Error() string {
	if e.Solution < 0 {
		return fmt.Sprintf("problem %s: field %q: %s", e.ProblemID, e.Field, e.Reason)
	}
	return fmt.Sprintf("problem %s: solutions[%d] (%s): %s", e.ProblemID, e.Solution, e.SolutionID, e.Reason)
}

func (e *InputError) Unwrap() error { return e.Err }

// Check validates what a problem holds short of splitting its solutions,
// and returns it with its effective ids: defaultID for a problem without
// one, "<problem id>-<index>" for a solution without one. A client of a
// server checks this much, and leaves the splitting to the server; the
// server checks this much before it splits. Errors are *InputError.
func (p Problem) Check(defaultID string, lim InputLimits) (Problem, error) {
	id := strings.TrimSpace(p.ID)
	if id == "" {
		id = defaultID
	}
	field := func(name, reason string, a ...any) error {
		return &InputError{ProblemID: id, Solution: -1, Field: name, Reason: fmt.Sprintf(reason, a...)}
	}
	switch {
	case strings.TrimSpace(p.Question) == "":
		return p, field("question", "missing or empty")
	case strings.TrimSpace(p.Answer) == "":
		return p, field("answer", "the gold answer is missing or empty")
	case len(p.Solutions) == 0 && lim.MaxSolutions > 0:
		return p, field("solutions", "none given (1..%d per problem)", lim.MaxSolutions)
	case len(p.Solutions) == 0:
		return p, field("solutions", "none given")
	case lim.MaxSolutions > 0 && len(p.Solutions) > lim.MaxSolutions:
		return p, field("solutions", "%d solutions, more than the limit of %d", len(p.Solutions), lim.MaxSolutions)
	}
	out := Problem{ID: id, Question: p.Question, Answer: p.Answer, Solutions: make([]SolutionInput, len(p.Solutions))}
	seen := map[string]bool{}
	for i, s := range p.Solutions {
		s.ID = strings.TrimSpace(s.ID)
		if s.ID == "" {
			s.ID = id + "-" + strconv.Itoa(i)
		}
		if seen[s.ID] {
			return p, &InputError{ProblemID: id, Solution: i, SolutionID: s.ID, Field: "id", Reason: fmt.Sprintf("duplicate solution id %q", s.ID)}
		}
		seen[s.ID] = true
		if name, reason := s.fault(); reason != "" {
			return p, &InputError{ProblemID: id, Solution: i, SolutionID: s.ID, Field: name, Reason: reason}
		}
		out.Solutions[i] = s
	}
	return out, nil
}

// fault names what makes a solution unsplittable whatever the options:
// the field at fault ("" for the solution as a whole) and why; no reason
// for a solution that can be split.
func (s SolutionInput) fault() (field, reason string) {
	blank := true
	for _, st := range s.Steps {
		blank = blank && isBlank(st)
	}
	switch {
	case len(s.Steps) > 0 && s.Text != "":
		return "", `give either "text" or "steps", not both`
	case len(s.Steps) > 0 && blank:
		return "steps", "solution is empty (no non-empty step)"
	case len(s.Steps) == 0 && s.Text == "":
		return "", `solution is empty (give "text" or "steps")`
	case len(s.Steps) == 0 && strings.TrimSpace(s.Text) == "":
		return "text", "solution is empty"
	}
	return "", ""
}

// check refuses a solution that cannot be split whatever the options.
func (s SolutionInput) check() error {
	if _, reason := s.fault(); reason != "" {
		return errors.New(reason)
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
