package main

import (
	"flag"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/server"
)

// samplingFlags are the rollout flags of a labeling job, shared by label
// and score --mode mc. Their defaults are the server's job defaults, so a
// job reads the same in process and through --server.
type samplingFlags struct {
	n          int
	seed       int64
	temp, topP float64
	maxTokens  int
	reuse      bool
}

// register adds the flags; mode prefixes their usage ("mc mode: ") and
// what names the texts rolled out from ("solution", "candidate").
func (s *samplingFlags) register(fs *flag.FlagSet, mode, what string, defN, defMaxTokens int) {
	fs.IntVar(&s.n, "n", defN, mode+"rollouts per step prefix")
	fs.Int64Var(&s.seed, "seed", 0, mode+"job seed; every rollout's seed derives from it")
	fs.Float64Var(&s.temp, "temperature", server.DefaultJobTemperature, mode+"sampling temperature")
	fs.Float64Var(&s.topP, "top-p", server.DefaultJobTopP, mode+"nucleus sampling top_p")
	fs.IntVar(&s.maxTokens, "max-tokens", defMaxTokens, mode+"tokens per rollout: the max_tokens value sent with every rollout request (serve --max-tokens is instead a cap on what a job may ask for); a rollout cut off here counts as incorrect")
	fs.BoolVar(&s.reuse, "reuse", true, mode+"count a rollout that reproduces a "+what+"'s next steps as a rollout from those prefixes too")
}

// check reports the first flag out of range, maxN bounding --n.
func (s *samplingFlags) check(maxN int) error {
	switch {
	case s.n < 1 || s.n > maxN:
		return usageErrorf("--n must be between 1 and %d, got %d", maxN, s.n)
	case s.maxTokens < 1:
		return usageErrorf("--max-tokens must be at least 1, got %d", s.maxTokens)
	case s.temp < 0:
		return usageErrorf("--temperature must not be negative, got %g", s.temp)
	case s.topP <= 0 || s.topP > 1:
		return usageErrorf("--top-p must be in (0, 1], got %g", s.topP)
	}
	return nil
}

func (s *samplingFlags) params(stop []string) rollout.SamplingParams {
	return rollout.SamplingParams{Temperature: s.temp, TopP: s.topP, MaxTokens: s.maxTokens, Stop: stop}
}

// splitFlags say how texts are split into steps (label and score).
type splitFlags struct {
	mode, tag string
	maxSteps  int
}

// register adds the flags; what names the texts split ("solution",
// "candidate").
func (s *splitFlags) register(fs *flag.FlagSet, what string) {
	fs.StringVar(&s.mode, "split", "auto", "step splitting of "+what+" texts: auto, line, paragraph, step or tag")
	fs.StringVar(&s.tag, "split-tag", "", "step tag for --split tag (default ки)")
	fs.IntVar(&s.maxSteps, "max-steps", labeler.DefaultMaxSteps, "steps per "+what+" at most")
}

func (s *splitFlags) options() (labeler.SplitOptions, error) {
	mode, err := labeler.ParseSplitMode(s.mode)
	if err != nil {
		return labeler.SplitOptions{}, usageErrorf("--split: %v", err)
	}
	return labeler.SplitOptions{Mode: mode, Tag: s.tag, MaxSteps: s.maxSteps}, nil
}
