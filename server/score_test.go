package server

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/shepherd-prm/shepherd/labeler"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/prm"
	"github.com/shepherd-prm/shepherd/rollout/prm/prmsim"
	"github.com/shepherd-prm/shepherd/rollout/redisq"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
)

func TestScoreRPC(t *testing.T) {
	url, stop, err := prmsim.Start(prmsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	client, err := prm.NewClient(prm.ClientOptions{BaseURL: url, Model: prmsim.DefaultModel})
	if err != nil {
		t.Fatal(err)
	}
	scorer := &prm.Scorer{PRM: client}
	h := newHarness(t)
	ts := h.startServer(Options{Scorer: &ScoreService{PRMs: map[string]*prm.Scorer{prmsim.DefaultModel: scorer}}})
	ctx := testCtx(t)

	question := "Start with 4. Add 3, then multiply by 2. What is the result?"
	req := &shepherdv1.ScoreRequest{
		Id: "q1", Question: question, Answer: proto.String("14"), Model: prmsim.DefaultModel,
		Candidates: []*shepherdv1.Candidate{
			{Id: "right", Body: &shepherdv1.Candidate_Text{Text: "4 + 3 = 7.\n7 * 2 = 14.\nThe answer is 14."}},
			{Id: "wrong", Body: &shepherdv1.Candidate_Steps{Steps: &shepherdv1.Steps{Steps: []string{"4 + 3 = 8.", "8 * 2 = 16.", "The answer is 16."}}}},
		},
	}
	resp, err := ts.client.Score(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// The same input scored directly must give the same numbers.
	in := prm.ScoreInput{ID: "q1", Question: question, Answer: proto.String("14"),
		Candidates: []labeler.SolutionInput{{ID: "right", Text: "4 + 3 = 7.\n7 * 2 = 14.\nThe answer is 14."}, {ID: "wrong", Steps: []string{"4 + 3 = 8.", "8 * 2 = 16.", "The answer is 16."}}},
		Options:    prm.ScoreOptions{Layout: prm.MathShepherd, Split: labeler.SplitOptions{MaxSteps: labeler.DefaultMaxSteps}}}
	want, err := scorer.Score(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Best != int32(want.Best) || resp.Best != 0 || resp.GetBestCorrect() != true || resp.GetWeightedBestAnswer() != *want.WeightedBestAnswer {
		t.Errorf("response %v, direct %+v", resp, want)
	}
	for i, c := range resp.Candidates {
		if c.Score != want.Scores[i] || len(c.StepScores) != len(want.StepScores[i]) || c.GetAnswer() != *want.Answers[i] || c.GetCorrect() != want.Correct[i] {
			t.Errorf("candidate %d: %v, want %v %v", i, c, want.Scores[i], want.StepScores[i])
		}
	}

	bad := []struct {
		name string
		mut  func(r *shepherdv1.ScoreRequest)
		code codes.Code
		want string
	}{
		{"unknown model", func(r *shepherdv1.ScoreRequest) { r.Model = "nope" }, codes.NotFound, "model"},
		{"mc without a model", func(r *shepherdv1.ScoreRequest) { r.Mode, r.Model = shepherdv1.ScoreMode_SCORE_MODE_MC, "" }, codes.InvalidArgument, "model: missing"},
		{"no candidates", func(r *shepherdv1.ScoreRequest) { r.Candidates = nil }, codes.InvalidArgument, "candidates"},
		{"custom without index", func(r *shepherdv1.ScoreRequest) {
			r.Layout = shepherdv1.ScoreLayout_SCORE_LAYOUT_CUSTOM
			r.StepTag = "<s>"
		}, codes.InvalidArgument, "positive_index"},
		{"bad n", func(r *shepherdv1.ScoreRequest) { r.Spec = &shepherdv1.JobSpec{N: proto.Int32(5000)} }, codes.InvalidArgument, "spec.n"},
	}
	for _, c := range bad {
		r := proto.Clone(req).(*shepherdv1.ScoreRequest)
		c.mut(r)
		_, err := ts.client.Score(ctx, r)
		if st := status.Convert(err); st.Code() != c.code || !strings.Contains(st.Message(), c.want) {
			t.Errorf("%s: %v, want %v naming %q", c.name, err, c.code, c.want)
		}
	}
}

func TestScoreUnimplementedWithoutScorer(t *testing.T) {
	ts := newHarness(t).startServer(Options{})
	_, err := ts.client.Score(testCtx(t), &shepherdv1.ScoreRequest{Question: "q"})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("Score without a scorer: %v", err)
	}
}

// TestScoreMonteCarloOnWorkers: Score in MC mode runs on the workers of the
// Redis queue, gives what the in-process scorer gives with the same seed,
// leaves no queue keys behind (and schedules their sweep), and is refused
// like SubmitJob: an unserved model, a spec beyond the limits, a full queue.
func TestScoreMonteCarloOnWorkers(t *testing.T) {
	h := newHarness(t)
	h.startWorker(sim.Options{})
	ts := h.startServer(Options{Models: []string{simModel}})
	ctx := testCtx(t)
	question := "Start with 4. Add 3, then multiply by 2. What is the result?"
	req := &shepherdv1.ScoreRequest{Id: "q1", Question: question, Model: simModel, Mode: shepherdv1.ScoreMode_SCORE_MODE_MC,
		Spec: &shepherdv1.JobSpec{N: proto.Int32(8), Seed: 7, MaxTokens: 256, Temperature: proto.Float64(0.7)},
		Candidates: []*shepherdv1.Candidate{
			{Id: "right", Body: &shepherdv1.Candidate_Text{Text: "4 + 3 = 7.\n7 * 2 = 14.\nThe answer is 14."}},
			{Id: "wrong", Body: &shepherdv1.Candidate_Text{Text: "4 + 3 = 8.\n8 * 2 = 16.\nThe answer is 16."}},
		}}
	resp, err := ts.client.Score(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	direct := &prm.Scorer{Generator: simtest.Pool(t, sim.Options{})}
	want, err := direct.Score(ctx, prm.ScoreInput{ID: "q1", Question: question,
		Candidates: []labeler.SolutionInput{{ID: "right", Text: "4 + 3 = 7.\n7 * 2 = 14.\nThe answer is 14."}, {ID: "wrong", Text: "4 + 3 = 8.\n8 * 2 = 16.\nThe answer is 16."}},
		Options: prm.ScoreOptions{Mode: prm.ModeMC, Split: labeler.SplitOptions{MaxSteps: labeler.DefaultMaxSteps},
			MC: prm.MCOptions{Model: simModel, N: 8, Seed: 7, Reuse: true, Params: rollout.SamplingParams{Temperature: 0.7, TopP: 1, MaxTokens: 256}}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetReferenceAnswer() != want.ReferenceAnswer || resp.Best != int32(want.Best) || want.Best != 0 {
		t.Errorf("reference %q best %d, in process %q %d", resp.GetReferenceAnswer(), resp.Best, want.ReferenceAnswer, want.Best)
	}
	for i, c := range resp.Candidates {
		if fmt.Sprint(c.StepScores) != fmt.Sprint(want.StepScores[i]) {
			t.Errorf("candidate %d: step scores %v, in process %v", i, c.StepScores, want.StepScores[i])
		}
	}
	keys, err := h.rdb.Keys(ctx, "*score-*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("queue keys left behind: %v %v", keys, err)
	}
	swept, err := h.rdb.ZRange(ctx, expiryKey, 0, -1).Result()
	if err != nil || len(swept) != 2 || !scoreJobID(strings.TrimSpace(swept[0])) {
		t.Errorf("expiry entries %v %v, want the call's two jobs", swept, err)
	}

	for _, c := range []struct {
		mut  func(r *shepherdv1.ScoreRequest)
		code codes.Code
		want string
	}{
		{func(r *shepherdv1.ScoreRequest) { r.Model = "other" }, codes.InvalidArgument, "not served by this server's backends"},
		{func(r *shepherdv1.ScoreRequest) { r.Spec.N = proto.Int32(5000) }, codes.InvalidArgument, "spec.n"},
	} {
		r := proto.Clone(req).(*shepherdv1.ScoreRequest)
		c.mut(r)
		if _, err := ts.client.Score(ctx, r); status.Code(err) != c.code || !strings.Contains(status.Convert(err).Message(), c.want) {
			t.Errorf("%v, want %v naming %q", err, c.code, c.want)
		}
	}
	tight := h.startServer(Options{MaxQueuedTasks: 1})
	if err := redisq.New(h.rdb, h.qopt).Enqueue(ctx, rollout.Task{ID: "t", JobID: "filler", Model: "idle", Question: question, N: 1}); err != nil {
		t.Fatal(err)
	}
	r := proto.Clone(req).(*shepherdv1.ScoreRequest)
	r.Model = "idle"
	if _, err := tight.client.Score(ctx, r); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a full queue: %v", err)
	}
}
