package convert_test

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/proto/convert"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

func TestRecordRoundTrip(t *testing.T) {
	soft := 0.75
	for _, r := range []labeler.Record{
		labeler.NewRecord("p", "p-0", "Q?", []string{"a", "b", "c"},
			[]labeler.StepLabel{{Hard: true, Rollouts: 4, Correct: 3}, {Hard: false, Failed: true}, {Hard: false, Rollouts: 0}},
			false, labeler.Binary, "m", "g/1"),
		{ProblemID: "x", SolutionID: "y", Completions: []string{"s"}, Labels: []bool{true}, SoftLabels: []*float64{&soft},
			Rollouts: []int{4}, CorrectRollout: []int{3}, CompletionTokens: 1 << 40, MinScore: &soft, Strategy: labeler.Exhaustive},
	} {
		p := convert.RecordProto(r)
		if p.GetCompletionTokens() != r.CompletionTokens {
			t.Errorf("completion_tokens: proto has %d, record %d", p.GetCompletionTokens(), r.CompletionTokens)
		}
		b, _ := proto.Marshal(p)
		var back shepherdv1.LabelRecord
		if err := proto.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(r)
		got, _ := json.Marshal(convert.RecordOf(&back))
		if string(got) != string(want) {
			t.Errorf("round trip:\n got  %s\n want %s", got, want)
		}
	}
}

func TestProblemConversion(t *testing.T) {
	p := labeler.Problem{ID: "p", Question: "q", Answer: "1", Solutions: []labeler.SolutionInput{
		{ID: "a", Text: "x\ny"}, {Steps: []string{"x", "y"}},
	}}
	pp, err := convert.ProblemProto(p)
	if err != nil {
		t.Fatal(err)
	}
	if pp.Solutions[0].GetText() != "x\ny" || len(pp.Solutions[1].GetSteps().GetSteps()) != 2 || pp.Solutions[1].Id != "" {
		t.Errorf("converted: %v", pp)
	}
	back, _ := json.Marshal(convert.ProblemOf(pp))
	want, _ := json.Marshal(p)
	if string(back) != string(want) {
		t.Errorf("back: %s, want %s", back, want)
	}
	p.Solutions[0].Steps = []string{"x"}
	if _, err := convert.ProblemsProto([]labeler.Problem{p}); err == nil {
		t.Error("a solution with text and steps was accepted")
	}
}

func TestEnumConversions(t *testing.T) {
	for _, s := range []labeler.Strategy{labeler.Exhaustive, labeler.Binary, ""} {
		if got := convert.StrategyOf(convert.StrategyProto(s)); got != s {
			t.Errorf("strategy %q came back as %q", s, got)
		}
	}
	if convert.StrategyOf(shepherdv1.Strategy(99)) != "" {
		t.Error("an unknown strategy is not \"\"")
	}
	// The API and the labeler name the same strategies: every strategy has
	// an enum value, and every enum value but unspecified a strategy.
	for _, s := range labeler.Strategies {
		if convert.StrategyProto(s) == shepherdv1.Strategy_STRATEGY_UNSPECIFIED {
			t.Errorf("strategy %q has no API value", s)
		}
	}
	for v, name := range shepherdv1.Strategy_name {
		if v != 0 && convert.StrategyOf(shepherdv1.Strategy(v)) == "" {
			t.Errorf("API strategy %s has no labeler strategy", name)
		}
	}
	for _, m := range labeler.SplitModes {
		if convert.SplitModeProto(m) == shepherdv1.SplitMode_SPLIT_MODE_UNSPECIFIED {
			t.Errorf("split mode %q has no API value", m)
		}
	}
	if got := convert.SplitModeProto(labeler.SplitStepMarker); got != shepherdv1.SplitMode_SPLIT_MODE_STEP {
		t.Errorf("step split is %v", got)
	}
	if got := convert.StrategyProto(labeler.Binary); got != shepherdv1.Strategy_STRATEGY_BINARY {
		t.Errorf("binary is %v", got)
	}
	for _, m := range []labeler.SplitMode{labeler.SplitAuto, labeler.SplitLine, labeler.SplitParagraph, labeler.SplitStepMarker, labeler.SplitTag} {
		if got := convert.SplitModeOf(convert.SplitModeProto(m)); got != m {
			t.Errorf("split mode %q came back as %q", m, got)
		}
	}
	if convert.SplitModeProto(labeler.SplitTag) != shepherdv1.SplitMode_SPLIT_MODE_TAG ||
		convert.SplitModeProto("") != shepherdv1.SplitMode_SPLIT_MODE_UNSPECIFIED ||
		convert.SplitModeOf(shepherdv1.SplitMode_SPLIT_MODE_UNSPECIFIED) != labeler.SplitAuto {
		t.Error("split mode defaults")
	}
}

// TestFailedStepSurvivesTheAPI: the API carries labels as bools beside
// failed_steps; a record read back from it writes null labels at the
// failed steps, as the record it came from did.
func TestFailedStepSurvivesTheAPI(t *testing.T) {
	failed := labeler.StepLabel{Failed: true}
	r := labeler.NewRecord("p", "s", "q", []string{"a", "b", "c"},
		[]labeler.StepLabel{labeler.Measure(2, 4), failed, {Source: labeler.Outcome, Hard: true}}, true, labeler.Exhaustive, "m", "g/1")
	b, err := proto.Marshal(convert.RecordProto(r))
	if err != nil {
		t.Fatal(err)
	}
	var m shepherdv1.LabelRecord
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(r)
	got, _ := json.Marshal(convert.RecordOf(&m))
	if string(got) != string(want) || !strings.Contains(string(got), `"labels":[true,null,true]`) {
		t.Errorf("through the API:\n got %s\nwant %s", got, want)
	}
}
