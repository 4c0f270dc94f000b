package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/prm"
	"github.com/shepherd-prm/shepherd/rollout/prm/prmsim"
)

func init() {
	register("score", command{summary: "score candidate solutions step by step with a process reward model or rollouts, and pick the best", run: runScore})
}

// maxScoreLinesInFlight bounds the questions scored at once; the requests
// they make are bounded by --concurrency.
const maxScoreLinesInFlight = 256

type scoreFlags struct {
	in, out       string
	prmURL        string
	backend       backendFlags
	layout        string
	stepTag       string
	positiveIndex int
	prmAPI        string
	tagTokenID    int
	goodTokenID   int
	badTokenID    int
	topLogprobs   int
	aggregate     string
	mode          string
	split         splitFlags
	maxCandidates int
	sampling      samplingFlags // mc mode
	remote        serverFlags

	opts prm.ScoreOptions // parsed from the flags above
}

func runScore(ctx context.Context, e env, args []string) error {
	f, err := parseScoreFlags(e, args)
	if err != nil {
		return err
	}
	grader := grade.New(grade.Options{})
	qs, stop, err := f.openScorer(ctx, e, grader)
	if err != nil {
		return err
	}
	defer stop()
	in, closeIn, err := openInput(e, f.in)
	if err != nil {
		return err
	}
	defer closeIn()
	w, commit, abort, err := createBufferedOutput(e, f.out)
	if err != nil {
		return err
	}
	defer abort()
	start := time.Now()
	st, err := scoreStream(ctx, in, w, qs, grader, f.opts, f.backend.concurrency)
	if err == nil {
		err = commit()
	}
	if err != nil {
		return err
	}
	return st.report(e, f.out, f.opts.Mode, time.Since(start))
}

// parseScoreFlags parses and checks score's flags.
func parseScoreFlags(e env, args []string) (*scoreFlags, error) {
	f := &scoreFlags{}
	fs := newFlagSet(e, "score", "--in FILE (--prm URL|sim [--model NAME] | --mode mc --backend URL|sim) [flags]")
	fs.StringVar(&f.in, "in", "-", `input JSONL, one {"id", "question", "answer" (optional), "candidates": [text | {"id", "text"} | {"id", "steps"}]} per line ('-' is stdin)`)
	fs.StringVar(&f.out, "out", "-", "output JSONL, one result per input line, in order ('-' is stdout)")
	f.registerPRM(fs)
	// --model, --concurrency, --api-key, --timeout and --max-retries serve
	// both modes: the reward model and its requests in prm mode, the
	// policy model and its rollouts in mc mode.
	f.backend.register(fs)
	fs.Lookup("model").Usage = `served model name: the reward model in prm mode (default "` + prmsim.DefaultModel + `" with --prm sim), the policy model in mc mode (default "sim" with --backend sim)`
	fs.Lookup("concurrency").Usage = "requests in flight at most: PRM requests in prm mode, rollout requests per backend in mc mode"
	fs.Lookup("api-key").Usage = "bearer token for the reward model or inference servers (default $OPENAI_API_KEY)"
	for _, name := range []string{"backend", "api", "prompt-template", "max-n"} {
		fs.Lookup(name).Usage = "mc mode: " + fs.Lookup(name).Usage
	}
	fs.StringVar(&f.aggregate, "aggregate", "min", "how step scores become a candidate's score: min, prod, last or mean")
	fs.StringVar(&f.mode, "mode", "prm", "where step scores come from: prm (a reward model) or mc (Monte-Carlo rollouts on --backend)")
	f.split.register(fs, "candidate")
	fs.IntVar(&f.maxCandidates, "max-candidates", prm.DefaultMaxCandidates, "candidates per question at most")
	f.sampling.register(fs, "mc mode: ", "candidate", prm.DefaultMCRollouts, prm.DefaultMCMaxTokens)
	f.remote.registerFor(fs, "score through the shepherd server at host:port (its Score RPC) instead of in-process; --model names the model it serves")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	var err error
	if f.opts, err = f.options(); err != nil {
		return nil, err
	}
	if f.backend.concurrency < 1 {
		return nil, usageErrorf("--concurrency must be at least 1, got %d", f.backend.concurrency)
	}
	if f.maxCandidates < 1 {
		return nil, usageErrorf("--max-candidates must be at least 1, got %d", f.maxCandidates)
	}
	return f, nil
}

// registerPRM adds the flags of prm mode: the reward model and how it
// reads steps.
func (f *scoreFlags) registerPRM(fs *flag.FlagSet) {
	fs.StringVar(&f.prmURL, "prm", "", "prm mode: root URL of the vLLM server of the reward model (a trailing /v1 is fine), or 'sim' for the built-in simulated PRM")
	fs.StringVar(&f.layout, "layout", string(prm.LayoutMathShepherd), "prm mode: how the reward model reads steps: math-shepherd, qwen-prm or custom")
	fs.StringVar(&f.stepTag, "step-tag", "", "--layout custom: the text after every step, where the model scores it")
	fs.IntVar(&f.positiveIndex, "positive-index", -1, `--layout custom, a reward head scored through /pooling: index of the "step is good" class in the model's per-step output`)
	fs.IntVar(&f.tagTokenID, "step-tag-id", 0, "--layout custom, a causal LM scored through /v1/completions: the step tag's token id")
	fs.IntVar(&f.goodTokenID, "good-token-id", 0, `--layout custom, a causal LM: the token id of the "step is good" label (e.g. "+")`)
	fs.IntVar(&f.badTokenID, "bad-token-id", 0, `--layout custom, a causal LM: the token id of the "step is bad" label (e.g. "-")`)
	fs.StringVar(&f.prmAPI, "prm-api", "auto", "prm mode: the endpoint that computes the layout's scores: auto (completions for math-shepherd and custom with token ids, pooling for qwen-prm and custom with --positive-index), completions or pooling; a combination known to give meaningless numbers is refused")
	fs.IntVar(&f.topLogprobs, "prompt-logprobs", prm.DefaultPromptLogprobs, "prm mode through /v1/completions: top tokens asked for at every prompt position (at most the server's --max-logprobs); a label outside them costs one more request")
}

// openScorer opens what scores the questions: the server with --server,
// else the reward model (prm mode) or the backends (mc mode), probed.
// The returned stop function closes it.
func (f *scoreFlags) openScorer(ctx context.Context, e env, grader *grade.Grader) (questionScorer, func(), error) {
	scorer := &prm.Scorer{Grader: grader, Concurrency: f.backend.concurrency, MaxCandidates: f.maxCandidates}
	switch {
	case f.remote.addr != "":
		api, stop, err := f.remote.dial(ctx, e, "score")
		if err != nil {
			return nil, nil, err
		}
		return &remoteScorer{api: api, model: f.backend.model}, stop, nil
	case f.opts.Mode == prm.ModePRM:
		client, stop, err := f.openPRM(f.opts.Layout)
		if err != nil {
			return nil, nil, err
		}
		if err := f.probePRM(ctx, client); err != nil {
			stop()
			return nil, nil, err
		}
		scorer.PRM = client
		return scorer, stop, nil
	default:
		pool, stop, err := f.backend.openProbed(ctx, e)
		if err != nil {
			return nil, nil, err
		}
		scorer.Generator = pool
		f.opts.MC.Model = f.backend.model
		return scorer, stop, nil
	}
}

// report prints the summary line on stderr and returns a partialError
// when rollout tasks failed.
func (st *scoreStats) report(e env, out string, mode prm.Mode, elapsed time.Duration) error {
	work := fmt.Sprintf("%d PRM requests", st.prmRequests)
	if mode == prm.ModeMC {
		work = fmt.Sprintf("%d rollouts, %d failed tasks", st.rollouts, st.failedTasks)
	}
	acc := ""
	if st.withGold > 0 {
		acc = fmt.Sprintf("; of %d with a gold answer, correct: best-of-N %d, weighted %d, majority %d", st.withGold, st.bestCorrect, st.weightedCorrect, st.majorityCorrect)
	}
	fmt.Fprintf(e.stderr, "scored %d questions (%d candidates, %d distinct; %s) in %.1fs%s; scores in %s\n",
		st.questions, st.candidates, st.unique, work, elapsed.Seconds(), acc, outputName(out))
	if st.failedTasks > 0 {
		return partialError{fmt.Sprintf("partial result: %d rollout tasks failed (their steps have no score)", st.failedTasks)}
	}
	return nil
}

// probePRM checks, before any scoring, that the reward model's server
// answers GET /v1/models with the key and lists the model (vLLM serves it
// next to /pooling).
func (f *scoreFlags) probePRM(ctx context.Context, c *prm.Client) error {
	key := f.backend.apiKey
	if key == "" {
		key = os.Getenv("OPENAI_API_KEY")
	}
	rc, err := rollout.NewClient(rollout.ClientOptions{BaseURL: c.BaseURL() + "/v1", Model: c.Model(), APIKey: key, Timeout: f.backend.timeout})
	if err != nil {
		return fmt.Errorf("--prm %s: %w", c.BaseURL(), err)
	}
	if err := rc.Probe(ctx); err != nil {
		return fmt.Errorf("--prm: %w: %w", rollout.ErrNoUsableBackend, err)
	}
	return nil
}

// options turns the flags into scoring options, checking that the flags
// of one mode are not given in the other.
func (f *scoreFlags) options() (prm.ScoreOptions, error) {
	var o prm.ScoreOptions
	mode, err := prm.ParseMode(f.mode)
	if err != nil {
		return o, usageErrorf("--mode: %v", err)
	}
	o.Mode = mode
	if o.Aggregation, err = labeler.ParseAggregation(f.aggregate); err != nil {
		return o, usageErrorf("--aggregate: %v", err)
	}
	if o.Split, err = f.split.options(); err != nil {
		return o, err
	}
	switch mode {
	case prm.ModePRM:
		if len(f.backend.backends) > 0 {
			return o, usageErrorf("--backend applies to --mode mc; a reward model is given with --prm")
		}
		if f.remote.addr != "" {
			if f.prmURL != "" {
				return o, usageErrorf("--prm does not go with --server: the server has its reward models")
			}
			if f.backend.model == "" {
				return o, usageErrorf("--model is required with --server (a reward model the server serves)")
			}
		} else if f.prmURL == "" {
			return o, usageErrorf("--prm is required in prm mode (the reward model server's URL, or sim)")
		}
		if o.Layout, err = prm.ParseLayoutSpec(prm.LayoutSpec{Name: f.layout, Tag: f.stepTag, Positive: f.positiveIndex,
			TagTokenID: f.tagTokenID, GoodTokenID: f.goodTokenID, BadTokenID: f.badTokenID}); err != nil {
			return o, usageErrorf("--layout: %v", err)
		}
		if err := prm.CheckAPI(o.Layout, f.prmAPI); err != nil {
			return o, usageErrorf("--prm-api: %v", err)
		}
		if f.remote.addr != "" && o.Layout.Name == prm.LayoutCustom && o.Layout.API() == prm.APICompletions {
			return o, usageErrorf("--server: the Score RPC takes custom layouts with --positive-index only; score a custom layout with token ids in process (--prm URL)")
		}
		if f.topLogprobs < 0 || f.topLogprobs > 1<<16 {
			return o, usageErrorf("--prompt-logprobs must be between 0 and %d, got %d", 1<<16, f.topLogprobs)
		}
	case prm.ModeMC:
		if f.prmURL != "" {
			return o, usageErrorf("--prm applies to --mode prm; rollouts run on --backend")
		}
		if f.remote.addr != "" {
			if len(f.backend.backends) > 0 {
				return o, usageErrorf("--backend does not go with --server: the server's workers run the rollouts")
			}
			if f.backend.model == "" {
				return o, usageErrorf("--model is required with --server --mode mc (the policy model the workers serve)")
			}
		}
		if err := f.sampling.check(prm.MaxMCRollouts); err != nil {
			return o, err
		}
		o.MC = prm.MCOptions{N: f.sampling.n, Seed: f.sampling.seed, Reuse: f.sampling.reuse, Params: f.sampling.params(nil)}
	}
	return o, nil
}

// openPRM builds the reward model client, starting the simulated PRM for
// 'sim'. The returned stop function shuts down what it started.
func (f *scoreFlags) openPRM(layout prm.Layout) (*prm.Client, func(), error) {
	url, model, stop := f.prmURL, f.backend.model, func() {}
	if url == "sim" {
		if model == "" {
			model = prmsim.DefaultModel
		}
		u, s, err := prmsim.Start(prmsim.Options{Model: model, Layout: layout})
		if err != nil {
			return nil, nil, fmt.Errorf("starting the simulated PRM: %w", err)
		}
		url, stop = u, s
	} else if model == "" {
		return nil, nil, usageErrorf("--model is required with a real --prm (the served reward model's name)")
	}
	key := f.backend.apiKey
	if key == "" {
		key = os.Getenv("OPENAI_API_KEY")
	}
	retries := f.backend.maxRetries
	if retries == 0 {
		retries = -1 // --max-retries 0 fails fast; ClientOptions reads 0 as the default
	}
	c, err := prm.NewClient(prm.ClientOptions{BaseURL: url, Model: model, APIKey: key, Timeout: f.backend.timeout, MaxRetries: retries, PromptLogprobs: f.topLogprobs})
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("--prm %s: %w", url, err)
	}
	return c, stop, nil
}

type scoreStats struct {
	questions, candidates, unique      int
	prmRequests, rollouts, failedTasks int
	withGold, bestCorrect              int
	weightedCorrect, majorityCorrect   int
}

// scoreItem is one input line: its number and the question.
type scoreItem struct {
	line int
	in   prm.ScoreInput
}

type scoreOutcome struct {
	res prm.ScoreResult
	err error
}

// scoreStream scores every line of r and writes the results to w in input
// order. Lines are parsed in order; up to inflight questions are scored at
// once (their requests bounded by the scorer's concurrency). The first
// bad line or failed question stops the run with an error naming the line.
func scoreStream(ctx context.Context, r io.Reader, w io.Writer, sc questionScorer, g *grade.Grader, opts prm.ScoreOptions, inflight int) (scoreStats, error) {
	var st scoreStats
	inflight = min(max(inflight, 1), maxScoreLinesInFlight)
	lr := newLineReader(r)
	next := func() (scoreItem, error) {
		line, n, err := lr.next()
		if err != nil {
			return scoreItem{}, err
		}
		it := scoreItem{line: n, in: prm.ScoreInput{Options: opts}}
		if err := json.Unmarshal(line, &it.in); err != nil {
			return it, fmt.Errorf("input line %d: %v", n, err)
		}
		if strings.TrimSpace(it.in.ID) == "" {
			it.in.ID = "line" + strconv.Itoa(n)
		}
		return it, nil
	}
	score := func(ctx context.Context, it scoreItem) scoreOutcome {
		res, err := sc.Score(ctx, it.in)
		return scoreOutcome{res, err}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	err := inOrder(ctx, inflight, inflight, next, score, func(it scoreItem, out scoreOutcome) error {
		if out.err != nil {
			return fmt.Errorf("input line %d (%s): %w", it.line, it.in.ID, out.err)
		}
		if err := enc.Encode(out.res); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
		st.add(out.res, it.in.Answer, g)
		return nil
	})
	return st, err
}

func (st *scoreStats) add(res prm.ScoreResult, gold *string, g *grade.Grader) {
	st.questions++
	st.candidates += res.Stats.Candidates
	st.unique += res.Stats.Unique
	st.prmRequests += res.Stats.PRMRequests
	st.rollouts += res.Stats.Rollouts
	st.failedTasks += res.Stats.FailedTasks
	if gold == nil {
		return
	}
	st.withGold++
	ga := labeler.GoldAnswer(*gold)
	if res.BestCorrect != nil && *res.BestCorrect {
		st.bestCorrect++
	}
	if a := res.WeightedBestAnswer; a != nil && g.Equivalent(ga, *a) {
		st.weightedCorrect++
	}
	if a := res.MajorityAnswer; a != nil && g.Equivalent(ga, *a) {
		st.majorityCorrect++
	}
}
