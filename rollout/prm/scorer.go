package prm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
	"github.com/shepherd-prm/shepherd/rollout"
)

// StepScorer scores the steps of one solution with a process reward
// model: one probability per step, in step order. *Client implements it.
type StepScorer interface {
	ScoreSteps(ctx context.Context, layout Layout, question string, steps []string) ([]float64, error)
}

// Mode is where step scores come from.
type Mode string

// The scoring modes.
const (
	// ModePRM asks a process reward model (Scorer.PRM) for each step's
	// probability of being good.
	ModePRM Mode = "prm"
	// ModeMC measures each step's soft label with Monte-Carlo rollouts
	// (Scorer.Generator), as `shepherd label` does with the exhaustive
	// strategy.
	ModeMC Mode = "mc"
)

// ParseMode parses "prm" or "mc" ("" means prm).
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case "", ModePRM:
		return ModePRM, nil
	case ModeMC:
		return ModeMC, nil
	}
	return "", fmt.Errorf("unknown mode %q (want %s or %s)", s, ModePRM, ModeMC)
}

// Limits and defaults of scoring.
const (
	DefaultMaxCandidates = 256
	DefaultConcurrency   = 16
	// MaxIDBytes bounds the question id and every candidate id.
	MaxIDBytes = 256
	// DefaultMCRollouts is MCOptions.N when zero; MaxMCRollouts its limit.
	DefaultMCRollouts = 8
	MaxMCRollouts     = 1024
	// DefaultMCMaxTokens is the MC rollouts' max_tokens when zero (vLLM's
	// own default of 16 would cut every rollout short).
	DefaultMCMaxTokens = 1024
	// DefaultMCReferenceRollouts is the least MCOptions.ReferenceN when zero.
	DefaultMCReferenceRollouts = 32
)

// ScoreOptions are the per-request settings of Score. The zero value
// scores with a PRM in the Math-Shepherd layout, splits candidates
// automatically and aggregates by the minimum.
type ScoreOptions struct {
	Mode        Mode                 // "" means ModePRM
	Layout      Layout               // PRM mode; the zero Layout means MathShepherd
	Aggregation labeler.Aggregation  // "" means min
	Split       labeler.SplitOptions // how candidate texts become steps; MaxSteps bounds every candidate
	MC          MCOptions            // MC mode
}

// MCOptions are the rollout settings of Monte-Carlo scoring.
type MCOptions struct {
	// Model names the rollout tasks' queue in the in-process job; the
	// Generator decides which model actually samples. "" means "mc".
	Model  string
	N      int   // rollouts per step prefix; 0 means DefaultMCRollouts
	Seed   int64 // every rollout's seed derives from it
	Params rollout.SamplingParams
	// Reuse counts a rollout that reproduces a candidate's next steps as a
	// rollout from those prefixes too.
	Reuse bool
	// ReferenceN is the number of rollouts from the question alone whose
	// majority answer stands in for a missing gold answer; 0 means
	// max(N, DefaultMCReferenceRollouts). A plurality over few samples of
	// a hard question is easily a wrong answer.
	ReferenceN int
}

// ScoreInput is one question and its candidate solutions, as one JSONL
// line of `shepherd score`:
//
//	{"id": "q1", "question": "…", "answer": "18",
//	 "candidates": ["text …", {"id": "b", "text": "…"}, {"id": "c", "steps": ["…", "…"]}]}
//
// answer (the gold answer, optional) may also be a number or a GSM8K
// answer ending in "#### x"; a blank answer counts as none. "solutions" is
// accepted in place of "candidates", so the labeling input format of
// `shepherd label` can be scored as it is.
type ScoreInput struct {
	ID         string
	Question   string
	Answer     *string
	Candidates []labeler.SolutionInput
	Options    ScoreOptions // not part of the JSON line
}

// UnmarshalJSON decodes a JSONL line, naming the field at fault. Unknown
// fields are ignored; Options is left as it is.
func (in *ScoreInput) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID         json.RawMessage `json:"id"`
		Question   json.RawMessage `json:"question"`
		Answer     json.RawMessage `json:"answer"`
		Candidates json.RawMessage `json:"candidates"`
		Solutions  json.RawMessage `json:"solutions"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	field := "candidates"
	if len(raw.Solutions) > 0 {
		if len(raw.Candidates) > 0 {
			return errors.New(`give either "candidates" or "solutions", not both`)
		}
		field, raw.Candidates = "solutions", raw.Solutions
	}
	var err error
	out := ScoreInput{Options: in.Options}
	if out.ID, _, err = scalarField("id", raw.ID, true); err != nil {
		return err
	}
	if out.Question, _, err = scalarField("question", raw.Question, false); err != nil {
		return err
	}
	if a, ok, err := scalarField("answer", raw.Answer, true); err != nil {
		return err
	} else if ok && strings.TrimSpace(a) != "" {
		out.Answer = &a
	}
	if c := bytes.TrimSpace(raw.Candidates); len(c) > 0 && !bytes.Equal(c, []byte("null")) {
		var items []json.RawMessage
		if err := json.Unmarshal(c, &items); err != nil {
			return fmt.Errorf(`field %q must be a list, got %.40s`, field, c)
		}
		out.Candidates = make([]labeler.SolutionInput, len(items))
		for i, it := range items {
			if err := json.Unmarshal(it, &out.Candidates[i]); err != nil {
				return fmt.Errorf("%s[%d]: %v", field, i, err)
			}
		}
	}
	*in = out
	return nil
}

// MarshalJSON writes the JSONL form (without Options).
func (in ScoreInput) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID         string                  `json:"id,omitempty"`
		Question   string                  `json:"question"`
		Answer     *string                 `json:"answer,omitempty"`
		Candidates []labeler.SolutionInput `json:"candidates"`
	}{in.ID, in.Question, in.Answer, in.Candidates})
}

// scalarField reads a string field, which may also be given as a number
// when numbers is set; ok is false when the field is absent or null.
func scalarField(name string, raw json.RawMessage, numbers bool) (s string, ok bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", false, nil
	}
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, fmt.Errorf("field %q: %v", name, err)
		}
		return s, true, nil
	}
	var n json.Number
	if numbers && json.Unmarshal(raw, &n) == nil {
		return n.String(), true, nil
	}
	return "", false, fmt.Errorf("field %q must be a string, got %.40s", name, raw)
}

// ScoreResult is the scores of one question's candidates and the
// best-of-N choices, one JSONL line of `shepherd score`. Per-candidate
// slices are in input order. NaN (no score: a step whose rollouts failed,
// or a candidate without any scored step) is written as null.
type ScoreResult struct {
	ID           string
	CandidateIDs []string
	StepScores   [][]float64 // per candidate, per step
	Scores       []float64   // StepScores aggregated
	Answers      []*string   // extracted final answers; nil where none was found
	// Correct says per candidate whether its answer is equivalent to the
	// gold answer; nil when the input had none.
	Correct []bool
	// Best is the index of the highest score, the first on a tie, -1 when
	// no candidate has a score.
	Best int
	// WeightedBestAnswer is the answer whose equivalent candidates have the
	// largest summed score; MajorityAnswer the answer of most candidates.
	// Candidates without an answer do not vote; ties go to the answer
	// first given. nil when no candidate has an answer.
	WeightedBestAnswer *string
	MajorityAnswer     *string
	// BestCorrect says whether the best candidate's answer is correct; nil
	// when the input had no gold answer.
	BestCorrect *bool
	// ReferenceAnswer is, in MC mode, the answer rollouts were graded
	// against: the gold answer, or without one the majority answer of
	// rollouts from the question alone. Empty in PRM mode.
	ReferenceAnswer string
	GraderVersion   string
	Stats           ScoreStats // not part of the JSON line
}

// ScoreStats counts the work one Score call did.
type ScoreStats struct {
	Candidates  int // candidates in the input
	Unique      int // distinct step lists among them, each scored once
	PRMRequests int // PRM mode: step lists the reward model scored (one pooling call, or one /tokenize and one /v1/completions call plus any label probes)
	Rollouts    int // MC mode: samples generated
	FailedTasks int // MC mode: rollout tasks that failed for good (their steps score NaN)
}

// MarshalJSON writes the JSONL form: {"id", "candidate_ids",
// "step_scores", "scores", "answers", "correct", "best",
// "weighted_best_answer", "majority_answer", "best_correct",
// "reference_answer", "grader_version"}; "correct" and "best_correct" only
// when there was a gold answer, "reference_answer" only in MC mode.
func (r ScoreResult) MarshalJSON() ([]byte, error) {
	steps := make([][]jsonFloat, len(r.StepScores))
	for i, ss := range r.StepScores {
		steps[i] = make([]jsonFloat, len(ss))
		for k, s := range ss {
			steps[i][k] = jsonFloat(s)
		}
	}
	scores := make([]jsonFloat, len(r.Scores))
	for i, s := range r.Scores {
		scores[i] = jsonFloat(s)
	}
	answers := r.Answers
	if answers == nil {
		answers = []*string{}
	}
	return json.Marshal(struct {
		ID                 string        `json:"id"`
		CandidateIDs       []string      `json:"candidate_ids"`
		StepScores         [][]jsonFloat `json:"step_scores"`
		Scores             []jsonFloat   `json:"scores"`
		Answers            []*string     `json:"answers"`
		Correct            []bool        `json:"correct,omitempty"`
		Best               int           `json:"best"`
		WeightedBestAnswer *string       `json:"weighted_best_answer"`
		MajorityAnswer     *string       `json:"majority_answer"`
		BestCorrect        *bool         `json:"best_correct,omitempty"`
		ReferenceAnswer    string        `json:"reference_answer,omitempty"`
		GraderVersion      string        `json:"grader_version"`
	}{r.ID, r.CandidateIDs, steps, scores, answers, r.Correct, r.Best, r.WeightedBestAnswer,
		r.MajorityAnswer, r.BestCorrect, r.ReferenceAnswer, r.GraderVersion})
}

// jsonFloat is a float64 written as null when it is not a finite number.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// InputError is a problem with a ScoreInput or its options (the request
// is at fault, not a server): a missing field, a limit exceeded, a
// candidate that does not split. The message names the field.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputErrorf(format string, a ...any) error {
	return &InputError{Err: fmt.Errorf(format, a...)}
}

// Scorer scores the candidate solutions of a question and picks the best.
// Set its fields before the first Score; it is then safe for concurrent
// use and must not be copied.
type Scorer struct {
	// PRM scores steps in ModePRM.
	PRM StepScorer
	// Generator samples rollouts in ModeMC (a *rollout.Pool or
	// *rollout.Client) on an in-process worker.
	Generator rollout.Generator
	// NewQueue, when set, runs ModeMC's rollouts as tasks on a queue that
	// workers elsewhere consume (shepherd serve's Redis queue, the
	// labeling jobs' fleet) instead of on Generator: each Score call takes
	// a queue and hands it back to release with the ids of the jobs it
	// ran, whose results are no longer needed.
	NewQueue func() (q rollout.Queue, release func(jobIDs []string))
	// Grader extracts and compares answers; nil means a default grader.
	Grader *grade.Grader
	// Concurrency bounds the PRM requests in flight across all concurrent
	// Score calls, and the rollout tasks in flight of each MC call;
	// 0 means DefaultConcurrency.
	Concurrency int
	// MaxCandidates bounds the candidates of one input; 0 means
	// DefaultMaxCandidates.
	MaxCandidates int

	once   sync.Once
	sem    chan struct{}
	grader *grade.Grader
}

func (s *Scorer) init() {
	s.once.Do(func() {
		s.sem = make(chan struct{}, s.concurrency())
		s.grader = s.Grader
		if s.grader == nil {
			s.grader = grade.New(grade.Options{})
		}
	})
}

func (s *Scorer) concurrency() int {
	if s.Concurrency > 0 {
		return s.Concurrency
	}
	return DefaultConcurrency
}

// candidate is a validated, split candidate.
type candidate struct {
	id     string
	answer string // "" when none
	unique int    // index of its step list among the distinct ones
}

// Score scores every candidate of in: splits them into steps, scores each
// distinct step list once (concurrently with a PRM, or with Monte-Carlo
// rollouts), aggregates step scores per candidate, and reranks. A bad
// input gives an *InputError naming the field; in PRM mode a candidate
// the reward model cannot score fails the whole call (an error naming the
// candidate); in MC mode a step whose rollouts failed scores NaN.
func (s *Scorer) Score(ctx context.Context, in ScoreInput) (ScoreResult, error) {
	s.init()
	opt, err := s.resolve(in.Options)
	if err != nil {
		return ScoreResult{}, err
	}
	cands, uniq, err := s.prepare(in, opt)
	if err != nil {
		return ScoreResult{}, err
	}
	g := s.grader
	gold, hasGold := "", in.Answer != nil
	if hasGold {
		gold = labeler.GoldAnswer(*in.Answer)
	}
	res := ScoreResult{
		ID:            strings.TrimSpace(in.ID),
		GraderVersion: g.Version(),
		Best:          -1,
		Stats:         ScoreStats{Candidates: len(cands), Unique: len(uniq)},
	}

	var stepScores [][]float64
	switch opt.Mode {
	case ModePRM:
		stepScores, err = s.scorePRM(ctx, opt.Layout, in.Question, cands, uniq, &res.Stats)
	case ModeMC:
		stepScores, res.ReferenceAnswer, err = s.scoreMC(ctx, in, gold, hasGold, opt.MC, uniq, &res.Stats)
	}
	if err != nil {
		return ScoreResult{}, err
	}

	n := len(cands)
	res.CandidateIDs = make([]string, n)
	res.StepScores = make([][]float64, n)
	res.Scores = make([]float64, n)
	res.Answers = make([]*string, n)
	answers := make([]string, n)
	for i, c := range cands {
		res.CandidateIDs[i] = c.id
		res.StepScores[i] = slices.Clone(stepScores[c.unique])
		res.Scores[i] = labeler.Aggregate(res.StepScores[i], opt.Aggregation)
		if c.answer != "" {
			res.Answers[i] = &c.answer
		}
		answers[i] = c.answer
	}
	rr := labeler.Rerank(res.Scores, answers, g.Equivalent)
	res.Best = rr.Best
	if a, ok := rr.WeightedAnswer(); ok {
		res.WeightedBestAnswer = &a
	}
	if a, ok := rr.MajorityAnswer(); ok {
		res.MajorityAnswer = &a
	}
	if hasGold {
		res.Correct = make([]bool, n)
		for i, a := range answers {
			res.Correct[i] = a != "" && g.Equivalent(gold, a)
		}
		bc := res.Best >= 0 && res.Correct[res.Best]
		res.BestCorrect = &bc
	}
	return res, nil
}

// resolve validates the options and fills in defaults.
func (s *Scorer) resolve(opt ScoreOptions) (ScoreOptions, error) {
	mode, err := ParseMode(string(opt.Mode))
	if err != nil {
		return opt, inputErrorf("mode: %v", err)
	}
	opt.Mode = mode
	if opt.Aggregation, err = labeler.ParseAggregation(string(opt.Aggregation)); err != nil {
		return opt, inputErrorf("aggregate: %v", err)
	}
	if _, err := labeler.ParseSplitMode(string(opt.Split.Mode)); err != nil {
		return opt, inputErrorf("split: %v", err)
	}
	switch mode {
	case ModePRM:
		if s.PRM == nil {
			return opt, errors.New("prm: PRM mode needs a reward model (Scorer.PRM is not set)")
		}
		opt.Layout = opt.Layout.orDefault()
		if err := opt.Layout.Validate(); err != nil {
			return opt, inputErrorf("layout: %v", err)
		}
	case ModeMC:
		if s.Generator == nil && s.NewQueue == nil {
			return opt, errors.New("prm: MC mode needs a rollout generator or a worker queue (Scorer.Generator and Scorer.NewQueue are not set)")
		}
		mc := &opt.MC
		if mc.N == 0 {
			mc.N = DefaultMCRollouts
		}
		if mc.Params.MaxTokens == 0 {
			mc.Params.MaxTokens = DefaultMCMaxTokens
		}
		if mc.Model == "" {
			mc.Model = "mc"
		}
		if mc.ReferenceN == 0 {
			mc.ReferenceN = min(max(mc.N, DefaultMCReferenceRollouts), MaxMCRollouts)
		}
		p := mc.Params
		switch {
		case mc.N < 1 || mc.N > MaxMCRollouts:
			return opt, inputErrorf("n: rollouts per step must be between 1 and %d, got %d", MaxMCRollouts, mc.N)
		case mc.ReferenceN < 1 || mc.ReferenceN > MaxMCRollouts:
			return opt, inputErrorf("reference rollouts must be between 1 and %d, got %d", MaxMCRollouts, mc.ReferenceN)
		case p.MaxTokens < 0:
			return opt, inputErrorf("max_tokens must be positive, got %d", p.MaxTokens)
		case p.Temperature < 0 || math.IsNaN(p.Temperature):
			return opt, inputErrorf("temperature must not be negative, got %v", p.Temperature)
		case p.TopP < 0 || p.TopP > 1 || math.IsNaN(p.TopP):
			return opt, inputErrorf("top_p must be in [0, 1], got %v", p.TopP)
		}
	}
	return opt, nil
}

// prepare validates the input, splits the candidates, extracts their
// answers and finds the distinct step lists.
func (s *Scorer) prepare(in ScoreInput, opt ScoreOptions) ([]candidate, []labeler.Solution, error) {
	maxCands := s.MaxCandidates
	if maxCands <= 0 {
		maxCands = DefaultMaxCandidates
	}
	id := strings.TrimSpace(in.ID)
	switch {
	case len(id) > MaxIDBytes:
		return nil, nil, inputErrorf(`field "id" is %d bytes, more than the limit of %d`, len(id), MaxIDBytes)
	case strings.TrimSpace(in.Question) == "":
		return nil, nil, inputErrorf(`field "question" is missing or empty`)
	case len(in.Candidates) == 0:
		return nil, nil, inputErrorf(`field "candidates" is missing or empty`)
	case len(in.Candidates) > maxCands:
		return nil, nil, inputErrorf(`field "candidates" has %d candidates, more than the limit of %d`, len(in.Candidates), maxCands)
	}
	cands := make([]candidate, len(in.Candidates))
	seen := map[string]bool{}
	byKey := map[string]int{}
	var uniq []labeler.Solution
	for i, c := range in.Candidates {
		cid := strings.TrimSpace(c.ID)
		if cid == "" {
			cid = strconv.Itoa(i)
		}
		if len(cid) > MaxIDBytes {
			return nil, nil, inputErrorf("candidates[%d]: id is %d bytes, more than the limit of %d", i, len(cid), MaxIDBytes)
		}
		if seen[cid] {
			return nil, nil, inputErrorf("candidates[%d]: duplicate candidate id %q", i, cid)
		}
		seen[cid] = true
		var sol labeler.Solution
		var err error
		switch {
		case len(c.Steps) > 0 && c.Text != "":
			err = errors.New(`give either "text" or "steps", not both`)
		case len(c.Steps) > 0:
			sol, err = labeler.FromSteps(c.Steps, "", opt.Split.MaxSteps)
		case strings.TrimSpace(c.Text) == "":
			err = errors.New("candidate is empty")
		default:
			sol, err = labeler.Split(c.Text, opt.Split)
		}
		if err != nil {
			return nil, nil, inputErrorf("candidates[%d] (%s): %v", i, cid, err)
		}
		answer, _ := grade.ExtractAnswer(sol.Text)
		key := strings.Join(sol.StepTexts(), "\x00")
		u, ok := byKey[key]
		if !ok {
			u = len(uniq)
			byKey[key] = u
			uniq = append(uniq, sol)
		}
		cands[i] = candidate{id: cid, answer: answer, unique: u}
	}
	return cands, uniq, nil
}

// scorePRM asks the reward model for the step scores of every distinct
// step list, at most Concurrency requests in flight across all calls. The
// first failure cancels the rest.
func (s *Scorer) scorePRM(ctx context.Context, layout Layout, question string, cands []candidate, uniq []labeler.Solution, st *ScoreStats) ([][]float64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make([][]float64, len(uniq))
	var (
		mu       sync.Mutex
		firstErr error
		failed   = -1
		requests int
	)
	fail := func(u int, err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr, failed = err, u
		}
		mu.Unlock()
		cancel()
	}
	var wg sync.WaitGroup
	for u := range uniq {
		wg.Go(func() {
			select {
			case s.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-s.sem }()
			if ctx.Err() != nil {
				return
			}
			steps := uniq[u].StepTexts()
			scores, err := s.PRM.ScoreSteps(ctx, layout, question, steps)
			if err == nil && len(scores) != len(steps) {
				err = fmt.Errorf("prm: expected %d step scores, got %d", len(steps), len(scores))
			}
			if err != nil {
				fail(u, err)
				return
			}
			mu.Lock()
			requests++
			mu.Unlock()
			out[u] = scores
		})
	}
	wg.Wait()
	st.PRMRequests = requests
	if firstErr != nil {
		for i, c := range cands {
			if c.unique == failed {
				return nil, fmt.Errorf("candidates[%d] (%s): %w", i, c.id, firstErr)
			}
		}
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("prm: %w", err)
	}
	return out, nil
}
