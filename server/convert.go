package server

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/proto/convert"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout"
)

// Conversions between the API's messages and the store's and the
// scheduler's types; those to and from the labeler's types are in
// package proto/convert.

// strategyOf is a spec's strategy; unspecified is the default,
// exhaustive.
func strategyOf(s shepherdv1.Strategy) labeler.Strategy {
	if st := convert.StrategyOf(s); st != "" {
		return st
	}
	return labeler.Exhaustive
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
