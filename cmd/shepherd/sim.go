package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/shepherd-prm/shepherd/internal/httpserve"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

func init() {
	register("sim", command{
		summary: "run a simulated OpenAI-compatible inference server, or generate problems for it (sim gen)",
		run:     runSim,
	})
}

func runSim(ctx context.Context, e env, args []string) error {
	if len(args) > 0 && args[0] == "gen" {
		return runSimGen(e, args[1:])
	}
	listen, o, err := parseSimFlags(e, args)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	s := sim.New(o)
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stderr, "shepherd sim: serving model %q at http://%s/v1 (step accuracy %g, %d phrasings)\n", s.ModelName(), ln.Addr(), o.StepAccuracy, o.Phrasings)
	// s.Close releases hung requests so that shutdown does not wait for them.
	if err := httpserve.Serve(ctx, srv, ln, 10*time.Second, s.Close); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "shepherd sim: stopped; %s\n", statsLine(s.Stats()))
	return nil
}

// parseSimFlags parses and checks the flags of sim: the address to serve
// on and the simulator's options.
func parseSimFlags(e env, args []string) (string, sim.Options, error) {
	fs := newFlagSet(e, "sim", "[flags] | shepherd sim gen [flags]")
	listen := fs.String("listen", "127.0.0.1:8000", "address to serve on (host:port; port 0 picks a free one)")
	var o sim.Options
	fs.StringVar(&o.Model, "model", "sim", "served model name; requests naming another model get 404 (empty accepts any)")
	fs.Float64Var(&o.StepAccuracy, "step-accuracy", 0.8, "probability q that a generated step is correct, in (0, 1]")
	fs.IntVar(&o.Phrasings, "phrasings", 4, fmt.Sprintf("number of textual forms a sampled step takes, in [1, %d] (1: the bare equation only)", sim.MaxPhrasings))
	fs.IntVar(&o.BlockSize, "block-size", 16, "prefix-cache block size in tokens")
	fs.IntVar(&o.CacheBlocks, "cache-blocks", 8192, "prefix-cache capacity in blocks")
	fs.DurationVar(&o.Latency, "latency", 0, "added to every generation request")
	fs.DurationVar(&o.TokenLatency, "token-latency", 0, "added per generated token of a response's longest sample")
	fs.DurationVar(&o.PrefillTokenLatency, "prefill-token-latency", 0, "added per prompt token not in the prefix cache")
	fs.IntVar(&o.MaxNumSeqs, "max-num-seqs", 0, "sequences generated at once, like vLLM's max_num_seqs (a request with n samples holds n; others queue); 0 for no bound")
	fs.Float64Var(&o.Rate500, "fault-500", 0, "share of generation requests answered 500")
	fs.Float64Var(&o.Rate429, "fault-429", 0, "share of generation requests answered 429 with Retry-After")
	fs.Float64Var(&o.RateTruncated, "fault-truncate", 0, "share of generation requests answered 200 with a body cut in half")
	fs.Float64Var(&o.RateHang, "fault-hang", 0, "share of generation requests held for --hang-for before the answer")
	fs.IntVar(&o.RetryAfter, "retry-after", 1, "Retry-After of a 429, in seconds")
	fs.DurationVar(&o.HangFor, "hang-for", time.Minute, "how long a hung request is held")
	fs.Int64Var(&o.FaultSeed, "fault-seed", 0, "seed of the fault draws")
	fs.IntVar(&o.MaxN, "max-n", 128, "largest n a request may ask for")
	fs.IntVar(&o.MaxModelLen, "max-model-len", 32768, "context length in tokens (prompt plus completion)")
	fs.IntVar(&o.FailFirst, "fail-first", 0, "fail the first k generation requests with --fail-status")
	fs.IntVar(&o.FailStatus, "fail-status", 500, "HTTP status of the --fail-first failures")
	flavour := fs.String("flavour", "vllm", "server imitated: vllm (GET /version, sample i seeded S+i) or sglang (GET /get_server_info; seeds only with --deterministic-inference, shared by a request's n samples)")
	fs.BoolVar(&o.DeterministicInference, "deterministic-inference", false, "--flavour sglang: imitate --enable-deterministic-inference")
	fs.StringVar(&o.APIKey, "api-key", "", "require this bearer token on /v1 requests, answering 401 otherwise (vLLM's --api-key)")
	if err := parseFlags(fs, args); err != nil {
		return "", sim.Options{}, err
	}
	if !(o.StepAccuracy > 0 && o.StepAccuracy <= 1) {
		return "", sim.Options{}, usageErrorf("--step-accuracy %v: must be in (0, 1]", o.StepAccuracy)
	}
	if o.Phrasings < 1 || o.Phrasings > sim.MaxPhrasings {
		return "", sim.Options{}, usageErrorf("--phrasings %d: must be in [1, %d]", o.Phrasings, sim.MaxPhrasings)
	}
	for _, c := range []struct {
		flag string
		v    int
	}{{"--block-size", o.BlockSize}, {"--cache-blocks", o.CacheBlocks}, {"--retry-after", o.RetryAfter}, {"--max-n", o.MaxN}, {"--max-model-len", o.MaxModelLen}} {
		if c.v < 1 {
			return "", sim.Options{}, usageErrorf("%s %d: must be at least 1", c.flag, c.v)
		}
	}
	if o.MaxNumSeqs < 0 {
		return "", sim.Options{}, usageErrorf("--max-num-seqs %d: must not be negative (0 for no bound)", o.MaxNumSeqs)
	}
	if o.HangFor <= 0 {
		return "", sim.Options{}, usageErrorf("--hang-for %v: must be positive", o.HangFor)
	}
	o.Flavour = sim.Flavour(*flavour)
	if err := o.Validate(); err != nil {
		return "", sim.Options{}, usageError{err.Error()}
	}
	return *listen, o, nil
}

func statsLine(st sim.Stats) string {
	codes := make([]int, 0, len(st.ByStatus))
	for c := range st.ByStatus {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprintf("%d: %d", c, st.ByStatus[c])
	}
	return fmt.Sprintf("%d requests (%s), %d samples, %d prompt tokens (%d cached), %d completion tokens, %.1f sequence-seconds generating",
		st.Requests, strings.Join(parts, ", "), st.Choices, st.PromptTokens, st.CachedTokens, st.CompletionTokens, st.SeqSeconds)
}

func runSimGen(e env, args []string) error {
	fs := newFlagSet(e, "sim gen", "[flags]")
	var opt sim.DatasetOptions
	fs.IntVar(&opt.Problems, "problems", 40, "number of problems")
	fs.IntVar(&opt.SolutionsPerProblem, "solutions", 4, "solutions per problem")
	fs.Int64Var(&opt.Seed, "seed", 1, "seed; the same flags give the same file")
	fs.IntVar(&opt.MinOps, "min-ops", 3, "fewest operations in a question")
	fs.IntVar(&opt.MaxOps, "max-ops", 6, "most operations in a question")
	fs.Float64Var(&opt.ErrorRate, "error-rate", 0.5, "share of solutions with an injected error, in [0, 1]")
	fs.IntVar(&opt.Phrasings, "phrasings", 4, fmt.Sprintf("number of textual forms a step line takes, in [1, %d] (1: the bare equation only)", sim.MaxPhrasings))
	out := fs.String("out", "-", "output JSONL file (- for standard output)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case opt.Problems < 1 || opt.Problems > 1_000_000:
		return usageErrorf("--problems %d: must be in [1, 1000000]", opt.Problems)
	case opt.SolutionsPerProblem < 1 || opt.SolutionsPerProblem > 1000:
		return usageErrorf("--solutions %d: must be in [1, 1000]", opt.SolutionsPerProblem)
	case opt.MinOps < 1 || opt.MinOps > 50:
		return usageErrorf("--min-ops %d: must be in [1, 50]", opt.MinOps)
	case opt.MaxOps < opt.MinOps || opt.MaxOps > 50:
		return usageErrorf("--max-ops %d: must be in [--min-ops (%d), 50]", opt.MaxOps, opt.MinOps)
	case !(opt.ErrorRate >= 0 && opt.ErrorRate <= 1):
		return usageErrorf("--error-rate %v: must be in [0, 1]", opt.ErrorRate)
	case opt.Phrasings < 1 || opt.Phrasings > sim.MaxPhrasings:
		return usageErrorf("--phrasings %d: must be in [1, %d]", opt.Phrasings, sim.MaxPhrasings)
	}
	problems := sim.GenerateDataset(opt)
	write := func(w io.Writer) error { return writeProblems(w, problems) }
	if *out == "-" {
		return write(e.stdout)
	}
	f, err := createAtomic(*out, 0o644)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Commit(); err != nil {
		return err
	}
	withErr := 0
	for _, p := range problems {
		for _, s := range p.Solutions {
			if s.FirstError >= 0 {
				withErr++
			}
		}
	}
	fmt.Fprintf(e.stderr, "shepherd sim gen: wrote %d problems, %d solutions (%d with an error) to %s\n",
		len(problems), len(problems)*opt.SolutionsPerProblem, withErr, *out)
	return nil
}

// writeProblems writes a simulator data set as labeling input, one
// problem per line.
func writeProblems(w io.Writer, problems []sim.Problem) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, p := range problems {
		if err := enc.Encode(p); err != nil {
			return err
		}
	}
	return bw.Flush()
}
