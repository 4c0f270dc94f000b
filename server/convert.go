package server

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/shepherd-prm/shepherd/labeler"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout"
)

// Conversions between the API's messages and the labeler's and the
// store's types.

func strategyOf(s shepherdv1.Strategy) labeler.Strategy {
	if s == shepherdv1.Strategy_STRATEGY_BINARY {
		return labeler.Binary
	}
	return labeler.Exhaustive
}

func strategyProto(s labeler.Strategy) shepherdv1.Strategy {
	switch s {
	case labeler.Binary:
		return shepherdv1.Strategy_STRATEGY_BINARY
	case labeler.Exhaustive:
		return shepherdv1.Strategy_STRATEGY_EXHAUSTIVE
	}
	return shepherdv1.Strategy_STRATEGY_UNSPECIFIED
}

func splitModeOf(m shepherdv1.SplitMode) labeler.SplitMode {
	switch m {
	case shepherdv1.SplitMode_SPLIT_MODE_LINE:
		return labeler.SplitLine
	case shepherdv1.SplitMode_SPLIT_MODE_PARAGRAPH:
		return labeler.SplitParagraph
	case shepherdv1.SplitMode_SPLIT_MODE_STEP:
		return labeler.SplitStepMarker
	case shepherdv1.SplitMode_SPLIT_MODE_TAG:
		return labeler.SplitTag
	}
	return labeler.SplitAuto
}

// solutionInput is a solution of a request as the labeler takes it.
func solutionInput(id string, s *shepherdv1.Solution) labeler.SolutionInput {
	in := labeler.SolutionInput{ID: id}
	switch b := s.GetBody().(type) {
	case *shepherdv1.Solution_Text:
		in.Text = b.Text
	case *shepherdv1.Solution_Steps:
		in.Steps = b.Steps.GetSteps()
	}
	return in
}

// submitOf is the SubmitJobRequest a LabelSolutionsRequest stands for
// (the two messages have the same fields).
func submitOf(r *shepherdv1.LabelSolutionsRequest) *shepherdv1.SubmitJobRequest {
	return &shepherdv1.SubmitJobRequest{RequestId: r.GetRequestId(), Model: r.GetModel(), Spec: r.GetSpec(), Problems: r.GetProblems()}
}

func msTime(ms int64) *timestamppb.Timestamp {
	if ms == 0 {
		return nil
	}
	return timestamppb.New(time.UnixMilli(ms))
}

// jobProto is the API's view of a job.
func jobProto(m *jobMeta) *shepherdv1.Job {
	return &shepherdv1.Job{
		Id:               m.ID,
		RequestId:        m.RequestID,
		State:            m.State,
		Model:            m.Model,
		Spec:             proto.Clone(m.Spec).(*shepherdv1.JobSpec),
		SolutionsTotal:   m.SolutionsTotal,
		SolutionsDone:    m.SolutionsDone,
		TasksTotal:       m.TasksTotal,
		TasksDone:        m.TasksDone,
		TasksFailed:      m.TasksFailed,
		Rollouts:         m.Rollouts,
		SharedRollouts:   m.SharedRollouts,
		PromptTokens:     m.PromptTokens,
		CompletionTokens: m.CompletionTokens,
		CachedTokens:     m.CachedTokens,
		CreateTime:       msTime(m.CreateMS),
		UpdateTime:       msTime(m.UpdateMS),
		FinishTime:       msTime(m.FinishMS),
		Error:            m.Error,
	}
}

// recordProto is the API's view of a label record.
func recordProto(r labeler.Record) *shepherdv1.LabelRecord {
	out := &shepherdv1.LabelRecord{
		ProblemId:       r.ProblemID,
		SolutionId:      r.SolutionID,
		Prompt:          r.Prompt,
		Completions:     r.Completions,
		Labels:          r.Labels,
		SoftLabels:      make([]*shepherdv1.SoftLabel, len(r.SoftLabels)),
		Rollouts:        make([]int32, len(r.Rollouts)),
		CorrectRollouts: make([]int32, len(r.CorrectRollout)),
		FirstErrorStep:  int32(r.FirstErrorStep),
		MinScore:        r.MinScore,
		OutcomeCorrect:  r.OutcomeCorrect,
		Strategy:        strategyProto(r.Strategy),
		Model:           r.Model,
		GraderVersion:   r.GraderVersion,
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

// jobOptions are the scheduler's options of a job.
func jobOptions(m *jobMeta, window int, onProgress func(rollout.JobStats)) rollout.JobOptions {
	sp := m.Spec
	return rollout.JobOptions{
		ID:       m.ID,
		Model:    m.Model,
		Strategy: strategyOf(sp.GetStrategy()),
		N:        int(sp.GetN()),
		Seed:     sp.GetSeed(),
		Params: rollout.SamplingParams{
			Temperature: sp.GetTemperature(),
			TopP:        sp.GetTopP(),
			MaxTokens:   int(sp.GetMaxTokens()),
			Stop:        sp.GetStop(),
		},
		Reuse:      sp.GetReuse(),
		Window:     window,
		OnProgress: onProgress,
	}
}
