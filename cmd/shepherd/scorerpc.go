package main

import (
	"context"
	"flag"
	"fmt"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/proto/convert"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout/prm"
	"github.com/shepherd-prm/shepherd/rollout/prm/prmsim"
	"github.com/shepherd-prm/shepherd/server"
)

// questionScorer scores one question's candidates: a prm.Scorer in
// process, or a shepherd server's Score RPC.
type questionScorer interface {
	Score(ctx context.Context, in prm.ScoreInput) (prm.ScoreResult, error)
}

// remoteScorer scores through a shepherd server, so the output lines are
// the same as in process.
type remoteScorer struct {
	api   shepherdv1.ShepherdServiceClient
	model string
}

func (r *remoteScorer) Score(ctx context.Context, in prm.ScoreInput) (prm.ScoreResult, error) {
	req, err := r.request(in)
	if err != nil {
		return prm.ScoreResult{}, err
	}
	resp, err := r.api.Score(ctx, req)
	if err != nil {
		st := status.Convert(err)
		return prm.ScoreResult{}, fmt.Errorf("%s: %s", st.Code(), st.Message())
	}
	return scoreResultOf(resp), nil
}

func (r *remoteScorer) request(in prm.ScoreInput) (*shepherdv1.ScoreRequest, error) {
	o := in.Options
	req := &shepherdv1.ScoreRequest{Id: in.ID, Question: in.Question, Model: r.model, Answer: in.Answer}
	for _, c := range in.Candidates {
		cand := &shepherdv1.Candidate{Id: c.ID}
		if len(c.Steps) > 0 {
			cand.Body = &shepherdv1.Candidate_Steps{Steps: &shepherdv1.Steps{Steps: c.Steps}}
		} else {
			cand.Body = &shepherdv1.Candidate_Text{Text: c.Text}
		}
		req.Candidates = append(req.Candidates, cand)
	}
	req.Aggregate = map[labeler.Aggregation]shepherdv1.Aggregation{
		labeler.AggMin: shepherdv1.Aggregation_AGGREGATION_MIN, labeler.AggProd: shepherdv1.Aggregation_AGGREGATION_PROD,
		labeler.AggLast: shepherdv1.Aggregation_AGGREGATION_LAST, labeler.AggMean: shepherdv1.Aggregation_AGGREGATION_MEAN,
	}[o.Aggregation]
	spec := &shepherdv1.JobSpec{Split: convert.SplitModeProto(o.Split.Mode), SplitTag: o.Split.Tag, MaxSteps: int32(o.Split.MaxSteps)}
	switch o.Mode {
	case prm.ModeMC:
		req.Mode = shepherdv1.ScoreMode_SCORE_MODE_MC
		mc := o.MC
		spec.N, spec.Seed, spec.MaxTokens, spec.Stop = proto.Int32(int32(mc.N)), mc.Seed, int32(mc.Params.MaxTokens), mc.Params.Stop
		spec.Temperature, spec.TopP, spec.Reuse = proto.Float64(mc.Params.Temperature), proto.Float64(mc.Params.TopP), proto.Bool(mc.Reuse)
	default:
		req.Mode = shepherdv1.ScoreMode_SCORE_MODE_PRM
		switch o.Layout.Name {
		case prm.LayoutQwenPRM:
			req.Layout = shepherdv1.ScoreLayout_SCORE_LAYOUT_QWEN_PRM
		case prm.LayoutCustom:
			req.Layout = shepherdv1.ScoreLayout_SCORE_LAYOUT_CUSTOM
			req.StepTag, req.PositiveIndex = o.Layout.StepTag, proto.Int32(int32(o.Layout.PositiveIndex))
		default:
			req.Layout = shepherdv1.ScoreLayout_SCORE_LAYOUT_MATH_SHEPHERD
		}
	}
	req.Spec = spec
	return req, nil
}

// scoreResultOf is the JSONL result of a Score response.
func scoreResultOf(resp *shepherdv1.ScoreResponse) prm.ScoreResult {
	res := prm.ScoreResult{ID: resp.GetId(), Best: int(resp.GetBest()), GraderVersion: resp.GetGraderVersion()}
	for _, c := range resp.GetCandidates() {
		res.CandidateIDs = append(res.CandidateIDs, c.GetId())
		res.StepScores = append(res.StepScores, c.GetStepScores())
		res.Scores = append(res.Scores, c.GetScore())
		var ans *string
		if c.Answer != nil {
			ans = proto.String(c.GetAnswer())
		}
		res.Answers = append(res.Answers, ans)
		if c.Correct != nil {
			res.Correct = append(res.Correct, c.GetCorrect())
		}
	}
	if resp.WeightedBestAnswer != nil {
		res.WeightedBestAnswer = proto.String(resp.GetWeightedBestAnswer())
	}
	if resp.MajorityAnswer != nil {
		res.MajorityAnswer = proto.String(resp.GetMajorityAnswer())
	}
	if resp.BestCorrect != nil {
		res.BestCorrect = proto.Bool(resp.GetBestCorrect())
	}
	res.ReferenceAnswer = resp.GetReferenceAnswer()
	return res
}

// serveScoreFlags are serve's flags for the Score RPC: one process reward
// model served by vLLM (prompt logprobs or the pooling API, by layout).
type serveScoreFlags struct {
	prmURL, prmModel, prmLayout string
}

func (f *serveScoreFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.prmURL, "prm", "", "serve the Score RPC's prm mode with the reward model at this vLLM server root, or 'sim' for the simulated PRM; empty: prm mode is off (mc mode always runs on the workers)")
	fs.StringVar(&f.prmModel, "prm-model", "", "the reward model's served name (default "+prmsim.DefaultModel+" with --prm sim)")
	fs.StringVar(&f.prmLayout, "prm-layout", string(prm.LayoutMathShepherd), "the reward model's layout when a request leaves it unset: math-shepherd or qwen-prm")
}

// scorer builds the Score service, or nil when --prm is not set.
func (f *serveScoreFlags) scorer() (server.Scorer, func(), error) {
	if f.prmURL == "" {
		return nil, func() {}, nil
	}
	layout, err := prm.ParseLayout(f.prmLayout, "", -1)
	if err != nil {
		return nil, nil, usageErrorf("--prm-layout: %v", err)
	}
	sf := scoreFlags{prmURL: f.prmURL}
	sf.backend.model = f.prmModel
	c, stop, err := sf.openPRM(layout)
	if err != nil {
		return nil, nil, err
	}
	model := f.prmModel
	if model == "" {
		model = prmsim.DefaultModel
	}
	return &server.ScoreService{
		PRMs:    map[string]*prm.Scorer{model: {PRM: c}},
		Layouts: map[string]prm.Layout{model: layout},
	}, stop, nil
}
