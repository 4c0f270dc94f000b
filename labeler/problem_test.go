package labeler

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestProblemSolutionForms(t *testing.T) {
	var p Problem
	err := json.Unmarshal([]byte(`{"id": "p", "question": "q?", "answer": "The answer is #### 1,000", "solutions": [
		"a\nb",
		{"id": "t", "text": "c\n\nd"},
		{"id": "s", "steps": ["e", " ", "f"]}]}`), &p)
	if err != nil {
		t.Fatal(err)
	}
	sols, err := p.Prepare("line1", InputLimits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id    string
		steps []string
	}{{"p-0", []string{"a", "b"}}, {"t", []string{"c", "d"}}, {"s", []string{"e", "f"}}}
	for i, w := range want {
		if sols[i].SolutionID != w.id || strings.Join(sols[i].Solution.StepTexts(), "|") != strings.Join(w.steps, "|") {
			t.Errorf("solution %d: id %q steps %q, want %q %q", i, sols[i].SolutionID, sols[i].Solution.StepTexts(), w.id, w.steps)
		}
		if sols[i].Gold != "1,000" && sols[i].Gold != "1000" {
			t.Errorf("gold answer %q, want the part after ####", sols[i].Gold)
		}
	}
}

func TestProblemValidation(t *testing.T) {
	cases := []struct {
		json, want string
		lim        InputLimits
	}{
		{`{"question": "q", "answer": "1", "solutions": ["a"]}`, "", InputLimits{}},
		{`{"id": "x", "answer": "1", "solutions": ["a"]}`, `problem x: field "question"`, InputLimits{}},
		{`{"id": "x", "question": "q", "solutions": ["a"]}`, `field "answer"`, InputLimits{}},
		{`{"id": "x", "question": "q", "answer": "1"}`, `field "solutions"`, InputLimits{}},
		{`{"id": "x", "question": "q", "answer": "1", "solutions": ["  "]}`, "solutions[0] (x-0): solution is empty", InputLimits{}},
		{`{"id": "x", "question": "q", "answer": "1", "solutions": [{"id": "a", "text": "t", "steps": ["s"]}]}`, "not both", InputLimits{}},
		{`{"id": "x", "question": "q", "answer": "1", "solutions": [{"id": "a", "text": "1"}, {"id": "a", "text": "2"}]}`, `duplicate solution id "a"`, InputLimits{}},
		{`{"id": "x", "question": "q", "answer": "1", "solutions": ["a", "b"]}`, "2 solutions, more than the limit of 1", InputLimits{MaxSolutions: 1}},
		{`{"id": "x", "question": "q", "answer": "1", "solutions": ["a\nb\nc"]}`, "limit", InputLimits{SplitOptions: SplitOptions{Mode: SplitLine, MaxSteps: 2}}},
	}
	for _, c := range cases {
		var p Problem
		if err := json.Unmarshal([]byte(c.json), &p); err != nil {
			t.Fatalf("%s: %v", c.json, err)
		}
		_, err := p.Prepare("line7", c.lim)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", c.json, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want it to contain %q", c.json, err, c.want)
		}
	}
	var p Problem
	if err := json.Unmarshal([]byte(`{"solutions": [{"txt": "a"}]}`), &p); err == nil || !strings.Contains(err.Error(), "txt") {
		t.Errorf("unknown solution field: %v", err)
	}
}

// TestInputErrorNamesTheField: Check and Prepare say which field of which
// solution is at fault, which the server restates under the API's paths.
func TestInputErrorNamesTheField(t *testing.T) {
	lim := InputLimits{MaxSolutions: 2, SplitOptions: SplitOptions{Mode: SplitLine, MaxSteps: 2}}
	for _, c := range []struct {
		p                  Problem
		solution           int
		id, field, message string
		split              bool
	}{
		{Problem{Answer: "1", Solutions: []SolutionInput{{Text: "a"}}}, -1, "", "question", `problem d: field "question": missing or empty`, false},
		{Problem{Question: "q", Answer: " ", Solutions: []SolutionInput{{Text: "a"}}}, -1, "", "answer", "the gold answer is missing or empty", false},
		{Problem{Question: "q", Answer: "1"}, -1, "", "solutions", "none given (1..2 per problem)", false},
		{Problem{Question: "q", Answer: "1", Solutions: make([]SolutionInput, 3)}, -1, "", "solutions", "3 solutions, more than the limit of 2", false},
		{Problem{ID: "x", Question: "q", Answer: "1", Solutions: []SolutionInput{{Text: "a"}, {ID: "x-0", Text: "b"}}}, 1, "x-0", "id", `problem x: solutions[1] (x-0): duplicate solution id "x-0"`, false},
		{Problem{Question: "q", Answer: "1", Solutions: []SolutionInput{{Text: " \n "}}}, 0, "d-0", "text", "solutions[0] (d-0): solution is empty", false},
		{Problem{Question: "q", Answer: "1", Solutions: []SolutionInput{{Steps: []string{"", " "}}}}, 0, "d-0", "steps", "solution is empty (no non-empty step)", false},
		{Problem{Question: "q", Answer: "1", Solutions: []SolutionInput{{}}}, 0, "d-0", "", `solution is empty (give "text" or "steps")`, false},
		{Problem{Question: "q", Answer: "1", Solutions: []SolutionInput{{Text: "a", Steps: []string{"b"}}}}, 0, "d-0", "", "not both", false},
		{Problem{Question: "q", Answer: "1", Solutions: []SolutionInput{{Text: "a"}, {Text: "a\nb\nc"}}}, 1, "d-1", "", "solutions[1] (d-1): labeler: solution has 3 steps, more than the limit of 2", true},
	} {
		_, err := c.p.Prepare("d", lim)
		var e *InputError
		if !errors.As(err, &e) {
			t.Errorf("%+v: error %v, want an *InputError", c.p, err)
			continue
		}
		if e.Solution != c.solution || e.SolutionID != c.id || e.Field != c.field || !strings.Contains(e.Error(), c.message) {
			t.Errorf("%+v: %+v (%q), want solution %d (%q), field %q, %q", c.p, e, e.Error(), c.solution, c.id, c.field, c.message)
		}
		if split := errors.Is(err, ErrTooManySteps); split != c.split {
			t.Errorf("%+v: the splitter's error kept: %v, want %v", c.p, split, c.split)
		}
		// Check stops short of splitting: it finds every fault but the split's.
		if _, err := c.p.Check("d", lim); (err == nil) != c.split {
			t.Errorf("%+v: Check: %v", c.p, err)
		}
	}
}

func TestNewRecord(t *testing.T) {
	labels := []StepLabel{Measure(3, 4), Measure(0, 4), {Source: Inferred}, {Source: Outcome}}
	r := NewRecord("p", "s", "q", []string{"a", "b", "c", "d"}, labels, false, Binary, "m", "g/1")
	if r.FirstErrorStep != 1 || r.MinScore == nil || *r.MinScore != 0 || r.SoftLabels[2] != nil || *r.SoftLabels[0] != 0.75 {
		t.Errorf("record: %+v", r)
	}
	if want := []LabelSource{Measured, Measured, Inferred, Outcome}; !slices.Equal(r.Sources, want) {
		t.Errorf("sources %v, want %v", r.Sources, want)
	}
	if got, want := r.StepScores(), StepScores(labels); !slices.Equal(got, want) {
		t.Errorf("record's step scores %v, want %v", got, want)
	}
	b, _ := json.Marshal(r)
	if strings.Contains(string(b), "ources") || strings.Contains(string(b), "key") {
		t.Errorf("json carries the Go-only fields: %s", b)
	}
	if !strings.Contains(string(b), `"soft_labels":[0.75,0,null,0]`) || !strings.Contains(string(b), `"labels":[true,false,false,false]`) {
		t.Errorf("json: %s", b)
	}
}

// TestRecordFailedStepIsNull: a failed step carries no label at all (null
// hard and soft labels), first_error_step and min_score pass it over, and
// the JSON reads back into the same record.
func TestRecordFailedStepIsNull(t *testing.T) {
	failed := Measure(0, 4) // counts from reused rollouts before the task failed
	failed.Failed = true
	labels := []StepLabel{Measure(4, 4), failed, Measure(2, 4), {Source: Outcome, Hard: true}}
	r := NewRecord("p", "s", "q", []string{"a", "b", "c", "d"}, labels, true, Exhaustive, "m", "g/1")
	if r.FirstErrorStep != -1 || r.MinScore == nil || *r.MinScore != 0.5 || !slices.Equal(r.FailedSteps, []int{1}) || r.Labels[1] || r.SoftLabels[1] != nil {
		t.Fatalf("record: %+v", r)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"labels":[true,null,true,true]`, `"soft_labels":[1,null,0.5,1]`, `"failed_steps":[1]`, `"first_error_step":-1`, `"min_score":0.5`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("json %s lacks %s", b, want)
		}
	}
	var back Record
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got, want := r.StepScores(), StepScores(labels); !slices.EqualFunc(got, want, func(a, b float64) bool { return a == b || a != a && b != b }) {
		t.Errorf("record's step scores %v, want %v", got, want)
	}
	// The sources are not written: read back, they come from the columns.
	for i, src := range r.Sources {
		if i != 1 && back.Source(i) != src {
			t.Errorf("read back: step %d's source %v, want %v", i, back.Source(i), src)
		}
	}
	r.Sources = nil
	if !reflect.DeepEqual(back, r) {
		t.Errorf("read back %+v, want %+v", back, r)
	}
	// A null label is a failed step even where failed_steps is missing.
	var bare Record
	if err := json.Unmarshal([]byte(`{"labels":[true,null],"soft_labels":[null,null]}`), &bare); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bare.FailedSteps, []int{1}) || !slices.Equal(bare.Labels, []bool{true, false}) {
		t.Errorf("bare record: %+v", bare)
	}
}

// TestProblemCheck: Check gives the ids Prepare gives and refuses what
// Prepare refuses short of splitting; a solution that only its split
// refuses passes Check.
func TestProblemCheck(t *testing.T) {
	long := strings.Repeat("step\n\n", 5)
	p := Problem{Question: "q", Answer: "1", Solutions: []SolutionInput{{Text: "a\n\nb"}, {ID: " s ", Steps: []string{"x"}}, {Text: long}}}
	lim := InputLimits{SplitOptions: SplitOptions{MaxSteps: 3}}
	got, err := p.Check("line7", lim)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{got.ID}
	for _, s := range got.Solutions {
		ids = append(ids, s.ID)
	}
	if want := []string{"line7", "line7-0", "s", "line7-2"}; !slices.Equal(ids, want) {
		t.Errorf("ids %q, want %q", ids, want)
	}
	if _, err := p.Prepare("line7", lim); err == nil || !strings.Contains(err.Error(), "solutions[2] (line7-2)") {
		t.Errorf("Prepare: %v, want solutions[2]'s split to fail", err)
	}
	got.Solutions = got.Solutions[:2]
	sols, err := got.Prepare("other", lim)
	if err != nil || sols[0].SolutionID != "line7-0" || sols[1].SolutionID != "s" || sols[0].ProblemID != "line7" {
		t.Errorf("Prepare of the checked problem: %+v, %v", sols, err)
	}
	for _, bad := range []SolutionInput{{}, {Text: " "}, {Text: "a", Steps: []string{"b"}}} {
		q := Problem{ID: "p", Question: "q", Answer: "1", Solutions: []SolutionInput{bad}}
		if _, err := q.Check("", lim); err == nil || !strings.Contains(err.Error(), "solutions[0] (p-0)") {
			t.Errorf("Check(%+v): %v", bad, err)
		}
	}
}
