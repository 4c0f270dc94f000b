package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/proto/convert"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/prm"
)

// ScoreService serves the Score RPC: PRM mode with one prm.Scorer per
// reward model, and Monte-Carlo mode with a scorer whose Generator samples
// rollouts from the policy model. It implements Scorer.
type ScoreService struct {
	// PRMs are the reward-model scorers by served model name.
	PRMs map[string]*prm.Scorer
	// Layouts are the models' layouts, used when a request leaves the
	// layout unset; a model missing here defaults to Math-Shepherd's.
	Layouts map[string]prm.Layout
	// MC scores in Monte-Carlo mode; nil refuses that mode.
	MC *prm.Scorer
}

// Score implements Scorer. The request's spec has been made effective
// (defaults filled in, limits checked) by the service.
func (s *ScoreService) Score(ctx context.Context, r *shepherdv1.ScoreRequest) (*shepherdv1.ScoreResponse, error) {
	in, scorer, err := s.input(r)
	if err != nil {
		return nil, err
	}
	res, err := scorer.Score(ctx, in)
	if err != nil {
		return nil, scoreError(err)
	}
	return scoreResponse(res), nil
}

// input turns a request into the scorer's input and picks the scorer.
func (s *ScoreService) input(r *shepherdv1.ScoreRequest) (prm.ScoreInput, *prm.Scorer, error) {
	sp := r.GetSpec()
	opt := prm.ScoreOptions{
		Split: labeler.SplitOptions{Mode: convert.SplitModeOf(sp.GetSplit()), Tag: sp.GetSplitTag(), MaxSteps: int(sp.GetMaxSteps())},
	}
	switch r.GetAggregate() {
	case shepherdv1.Aggregation_AGGREGATION_UNSPECIFIED, shepherdv1.Aggregation_AGGREGATION_MIN:
		opt.Aggregation = labeler.AggMin
	case shepherdv1.Aggregation_AGGREGATION_PROD:
		opt.Aggregation = labeler.AggProd
	case shepherdv1.Aggregation_AGGREGATION_LAST:
		opt.Aggregation = labeler.AggLast
	case shepherdv1.Aggregation_AGGREGATION_MEAN:
		opt.Aggregation = labeler.AggMean
	default:
		return prm.ScoreInput{}, nil, invalid("aggregate: unknown value %d", int32(r.GetAggregate()))
	}
	var scorer *prm.Scorer
	switch r.GetMode() {
	case shepherdv1.ScoreMode_SCORE_MODE_UNSPECIFIED, shepherdv1.ScoreMode_SCORE_MODE_PRM:
		opt.Mode = prm.ModePRM
		scorer = s.PRMs[r.GetModel()]
		if scorer == nil {
			return prm.ScoreInput{}, nil, status.Errorf(codes.NotFound, "model: no process reward model %q is served here", r.GetModel())
		}
		layout, err := s.layout(r)
		if err != nil {
			return prm.ScoreInput{}, nil, err
		}
		opt.Layout = layout
	case shepherdv1.ScoreMode_SCORE_MODE_MC:
		opt.Mode = prm.ModeMC
		scorer = s.MC
		if scorer == nil {
			return prm.ScoreInput{}, nil, status.Error(codes.FailedPrecondition, "mode: Monte-Carlo scoring is not enabled on this server")
		}
		opt.MC = prm.MCOptions{
			Model: r.GetModel(), N: int(sp.GetN()), Seed: sp.GetSeed(), Reuse: sp.GetReuse(),
			Params: rollout.SamplingParams{Temperature: sp.GetTemperature(), TopP: sp.GetTopP(), MaxTokens: int(sp.GetMaxTokens()), Stop: sp.GetStop()},
		}
	default:
		return prm.ScoreInput{}, nil, invalid("mode: unknown value %d", int32(r.GetMode()))
	}
	in := prm.ScoreInput{ID: r.GetId(), Question: r.GetQuestion(), Options: opt}
	if r.Answer != nil {
		in.Answer = proto.String(r.GetAnswer())
	}
	for _, c := range r.GetCandidates() {
		in.Candidates = append(in.Candidates, convert.SolutionOf(c))
	}
	return in, scorer, nil
}

func (s *ScoreService) layout(r *shepherdv1.ScoreRequest) (prm.Layout, error) {
	var name prm.LayoutName
	switch r.GetLayout() {
	case shepherdv1.ScoreLayout_SCORE_LAYOUT_UNSPECIFIED:
		if l, ok := s.Layouts[r.GetModel()]; ok {
			return l, nil
		}
		return prm.MathShepherd, nil
	case shepherdv1.ScoreLayout_SCORE_LAYOUT_MATH_SHEPHERD:
		name = prm.LayoutMathShepherd
	case shepherdv1.ScoreLayout_SCORE_LAYOUT_QWEN_PRM:
		name = prm.LayoutQwenPRM
	case shepherdv1.ScoreLayout_SCORE_LAYOUT_CUSTOM:
		name = prm.LayoutCustom
		if r.PositiveIndex == nil {
			return prm.Layout{}, invalid("positive_index: required with SCORE_LAYOUT_CUSTOM")
		}
	default:
		return prm.Layout{}, invalid("layout: unknown value %d", int32(r.GetLayout()))
	}
	positive := -1 // unset
	if r.PositiveIndex != nil {
		positive = int(r.GetPositiveIndex())
	}
	l, err := prm.ParseLayout(string(name), r.GetStepTag(), positive)
	if err != nil {
		return prm.Layout{}, invalid("layout: %v", err)
	}
	return l, nil
}

// scoreQueue gives a Monte-Carlo Score call a queue of its own on the
// workers' Redis queue (its results cursor starts fresh, as a
// scheduler's does) and, when the call is done, deletes its jobs' results
// and closes the queue.
func (s *Server) scoreQueue() (rollout.Queue, func([]string)) {
	q, closeQueue := s.openQueue()
	return q, func(jobIDs []string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, id := range jobIDs {
			if err := s.q.ForgetJob(ctx, id, 0); err != nil {
				s.log.Warn("deleting a scoring job's results", "job", id, "error", err)
			}
			// A cancelled call leaves tasks behind whose late results
			// re-create the keys: the expiry loop deletes them again once
			// a finished job's time to live has passed.
			exp := float64(s.opt.Clock.Now().Add(s.opt.JobTTL).UnixMilli())
			if err := s.rdb.ZAdd(ctx, expiryKey, redis.Z{Score: exp, Member: id + " "}).Err(); err != nil {
				s.log.Warn("scheduling a scoring job's cleanup", "job", id, "error", err)
			}
		}
		closeQueue()
	}
}

// scoreJobID reports whether id names a Monte-Carlo Score call's job
// ("score-" and 16 hex digits, "-reference" for its reference rollouts).
func scoreJobID(id string) bool {
	rest, ok := strings.CutPrefix(id, "score-")
	rest = strings.TrimSuffix(rest, "-reference")
	if !ok || len(rest) != 16 {
		return false
	}
	return strings.Trim(rest, "0123456789abcdef") == ""
}

// scoreError maps a scorer's error to a status: bad input is
// INVALID_ARGUMENT naming the field, a reward model that refuses the input
// FAILED_PRECONDITION with its message, a model that cannot be reached
// UNAVAILABLE.
func scoreError(err error) error {
	var in *prm.InputError
	var api *prm.APIError
	switch {
	case errors.As(err, &in):
		return status.Error(codes.InvalidArgument, in.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.As(err, &api) && api.Permanent:
		return status.Error(codes.FailedPrecondition, api.Error())
	case errors.As(err, &api):
		return status.Error(codes.Unavailable, api.Error())
	}
	return status.Error(codes.Internal, fmt.Sprintf("scoring: %v", err))
}

func scoreResponse(res prm.ScoreResult) *shepherdv1.ScoreResponse {
	out := &shepherdv1.ScoreResponse{Id: res.ID, Best: int32(res.Best), GraderVersion: res.GraderVersion}
	for i := range res.Scores {
		c := &shepherdv1.CandidateScore{StepScores: res.StepScores[i], Score: res.Scores[i]}
		if i < len(res.CandidateIDs) {
			c.Id = res.CandidateIDs[i]
		}
		if a := res.Answers[i]; a != nil {
			c.Answer = proto.String(*a)
		}
		if res.Correct != nil {
			c.Correct = proto.Bool(res.Correct[i])
		}
		out.Candidates = append(out.Candidates, c)
	}
	if res.WeightedBestAnswer != nil {
		out.WeightedBestAnswer = proto.String(*res.WeightedBestAnswer)
	}
	if res.MajorityAnswer != nil {
		out.MajorityAnswer = proto.String(*res.MajorityAnswer)
	}
	if res.BestCorrect != nil {
		out.BestCorrect = proto.Bool(*res.BestCorrect)
	}
	if res.ReferenceAnswer != "" {
		out.ReferenceAnswer = proto.String(res.ReferenceAnswer)
	}
	return out
}
