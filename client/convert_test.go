package client_test

import (
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/labeler"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

func TestRecordRoundTrip(t *testing.T) {
	soft := 0.75
	for _, r := range []labeler.Record{
		labeler.NewRecord("p", "p-0", "Q?", []string{"a", "b", "c"},
			[]labeler.StepLabel{{Hard: true, Rollouts: 4, Correct: 3}, {Hard: false, Failed: true}, {Hard: false, Rollouts: 0}},
			false, labeler.Binary, "m", "g/1"),
		{ProblemID: "x", SolutionID: "y", Completions: []string{"s"}, Labels: []bool{true}, SoftLabels: []*float64{&soft},
			Rollouts: []int{4}, CorrectRollout: []int{3}, MinScore: &soft, Strategy: labeler.Exhaustive},
	} {
		p := client.RecordProto(r)
		b, _ := proto.Marshal(p)
		var back shepherdv1.LabelRecord
		if err := proto.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(r)
		got, _ := json.Marshal(client.RecordOf(&back))
		if string(got) != string(want) {
			t.Errorf("round trip:\n got  %s\n want %s", got, want)
		}
	}
}

func TestProblemConversion(t *testing.T) {
	p := labeler.Problem{ID: "p", Question: "q", Answer: "1", Solutions: []labeler.SolutionInput{
		{ID: "a", Text: "x\ny"}, {Steps: []string{"x", "y"}},
	}}
	pp, err := client.ProblemProto(p)
	if err != nil {
		t.Fatal(err)
	}
	if pp.Solutions[0].GetText() != "x\ny" || len(pp.Solutions[1].GetSteps().GetSteps()) != 2 || pp.Solutions[1].Id != "" {
		t.Errorf("converted: %v", pp)
	}
	back, _ := json.Marshal(client.ProblemOf(pp))
	want, _ := json.Marshal(p)
	if string(back) != string(want) {
		t.Errorf("back: %s, want %s", back, want)
	}
	p.Solutions[0].Steps = []string{"x"}
	if _, err := client.ProblemsProto([]labeler.Problem{p}); err == nil {
		t.Error("a solution with text and steps was accepted")
	}
	if client.StrategyOf(client.StrategyProto(labeler.Binary)) != labeler.Binary ||
		client.SplitModeProto(labeler.SplitTag) != shepherdv1.SplitMode_SPLIT_MODE_TAG ||
		client.StateName(shepherdv1.JobState_JOB_STATE_PARTIAL) != "partial" || !client.IsTerminal(shepherdv1.JobState_JOB_STATE_FAILED) {
		t.Error("enum conversions")
	}
}
