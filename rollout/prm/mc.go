package prm

import (
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
	"github.com/shepherd-prm/shepherd/rollout"
)

// scoreMC measures every step's soft label with rollouts: a labeling job
// (RunJob with the exhaustive strategy) over the distinct step lists, on
// the queue of s.NewQueue (a fleet of workers elsewhere) or on the queue
// of an in-process runner (rollout.StartLocal) over s.Generator. Rollouts are graded
// against the gold answer when there is one; without one, against the
// majority answer of rollouts from the question alone (see
// referenceAnswer), one more task on the same queue. It returns the step
// scores per distinct step list (NaN where the rollouts failed) and the
// answer they were graded against.
func (s *Scorer) scoreMC(ctx context.Context, in ScoreInput, gold string, hasGold bool, opt MCOptions, uniq []labeler.Solution, st *ScoreStats) ([][]float64, string, error) {
	g := s.grader
	problemID := strings.TrimSpace(in.ID)
	if problemID == "" {
		problemID = "question"
	}
	var q rollout.Queue
	jobID := "score"
	if s.NewQueue != nil {
		// The queue is shared with other calls and labeling jobs.
		fq, release := s.NewQueue()
		q, jobID = fq, "score-"+randomHex()
		defer release([]string{jobID, jobID + "-reference"})
	} else {
		local := rollout.StartLocal(ctx, rollout.LocalOptions{
			Generator: s.Generator, Grader: g, Model: opt.Model, Concurrency: s.concurrency(),
			// Once the job is over nothing waits for a straggler's result.
			DrainTimeout: time.Millisecond,
		})
		defer local.Close()
		q = local.Queue
	}

	if !hasGold {
		ref, samples, err := s.referenceAnswer(ctx, q, jobID+"-reference", in.Question, problemID, opt)
		st.Rollouts += samples
		if err != nil {
			return nil, "", err
		}
		gold = ref
	}

	sols := make([]labeler.PreparedSolution, len(uniq))
	for u, sol := range uniq {
		// A candidate has no id of its own: its place is its id and key.
		sols[u] = labeler.PreparedSolution{Key: strconv.Itoa(u), ProblemID: problemID, SolutionID: strconv.Itoa(u), Question: in.Question, Gold: gold, Solution: sol}
	}
	out := make([][]float64, len(uniq))
	stats, err := rollout.RunJob(ctx, q, g, rollout.JobOptions{
		ID: jobID, Model: opt.Model, Strategy: labeler.Exhaustive, N: opt.N, Seed: opt.Seed,
		Params: opt.Params, Reuse: opt.Reuse, Window: len(uniq),
	}, rollout.NewSliceSource(sols), func(r labeler.Record) error {
		u, err := strconv.Atoi(r.Key)
		if err != nil || u < 0 || u >= len(out) {
			return fmt.Errorf("prm: unexpected solution key %q in the MC job", r.Key)
		}
		out[u] = r.StepScores()
		return nil
	})
	st.Rollouts += stats.Samples
	st.FailedTasks += stats.FailedTasks
	if err != nil {
		return nil, "", fmt.Errorf("prm: MC rollouts: %w", err)
	}
	for u := range out {
		if out[u] == nil {
			return nil, "", fmt.Errorf("prm: MC rollouts: no labels for step list %d", u)
		}
	}
	return out, gold, nil
}

func randomHex() string {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// referenceAnswer stands in for a missing gold answer: it samples
// ReferenceN rollouts from the question alone (the empty prefix), as one
// task of job jobID on q, and returns the answer most of them reach,
// answers grouped by the grader's equivalence, ties to the answer first
// reached. Rollouts cut off by max_tokens do not vote. This is
// self-consistency's answer, so a step's score becomes the share of its
// continuations that agree with what the policy most often concludes on
// its own.
func (s *Scorer) referenceAnswer(ctx context.Context, q rollout.Queue, jobID, question, routeKey string, opt MCOptions) (string, int, error) {
	task := rollout.Task{
		ID: "reference", JobID: jobID, Model: opt.Model, Question: question, Prefix: "",
		N: opt.ReferenceN, Seed: questionSeed(opt.Seed, question), Params: opt.Params, RouteKey: routeKey,
	}
	if err := q.Enqueue(ctx, task); err != nil {
		return "", 0, fmt.Errorf("prm: MC rollouts from the question: %w", err)
	}
	var res *rollout.TaskResult
	for res == nil {
		rs, err := q.Results(ctx, jobID)
		if err != nil {
			return "", 0, fmt.Errorf("prm: MC rollouts from the question: %w", err)
		}
		for i := range rs {
			if rs[i].TaskID == task.ID {
				res = &rs[i]
			}
		}
	}
	if res.Failed {
		return "", 0, fmt.Errorf("prm: MC rollouts from the question (to find a reference answer without a gold one): %s", res.Error)
	}
	answers := make([]string, len(res.Samples))
	for i, smp := range res.Samples {
		if smp.FinishReason == "length" {
			continue
		}
		answers[i], _ = grade.ExtractAnswer(smp.Text)
	}
	groups := labeler.GroupAnswers(answers, s.grader.Equivalent)
	m := labeler.Majority(groups)
	if m < 0 {
		return "", len(res.Samples), errors.New(`prm: MC mode without a gold answer: none of the rollouts from the question reached a final answer; give "answer"`)
	}
	return groups[m].Answer, len(res.Samples), nil
}

// questionSeed derives the seed of the reference rollouts from the job
// seed and the question, below 2^31 with room for sample indices.
func questionSeed(seed int64, question string) int64 {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	h := sha256.Sum256(append(b[:], "reference\x00"+question...))
	return int64(binary.BigEndian.Uint64(h[:8]) % (1<<31 - 1<<20))
}
