package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

// backendFlags are the inference-server options shared by every command
// that generates rollouts.
type backendFlags struct {
	backends       stringList
	model          string
	api            string
	promptTemplate string
	apiKey         string
	timeout        time.Duration
	maxRetries     int
	maxN           int
	concurrency    int
	seqs           int
	loadBound      float64

	// sims are the simulators open started, for their counters.
	sims []*sim.Server
}

func (b *backendFlags) register(fs *flag.FlagSet) {
	fs.Var(&b.backends, "backend", "inference server base URL ending in /v1 (repeatable), or 'sim' for the built-in simulator ('sim?count=16&max-num-seqs=64&latency=40ms&token-latency=5ms': 16 simulated GPUs; keys are 'shepherd sim' flags)")
	fs.StringVar(&b.model, "model", "", "served model name (default \"sim\" with --backend sim)")
	fs.StringVar(&b.api, "api", "completions", "inference API: completions or chat")
	fs.StringVar(&b.promptTemplate, "prompt-template", "", "file with a Go text/template for --api completions over {{.Question}} and {{.Prefix}}")
	fs.StringVar(&b.apiKey, "api-key", "", "bearer token for the inference servers (default $OPENAI_API_KEY)")
	fs.DurationVar(&b.timeout, "timeout", rollout.DefaultTimeout, "per-request timeout")
	fs.IntVar(&b.maxRetries, "max-retries", rollout.DefaultMaxRetries, "retries of a failed request before the task is handed back (-1 for none)")
	fs.IntVar(&b.maxN, "max-n", 0, "largest n per request (1 for servers without n>1); 0 means no limit")
	fs.IntVar(&b.concurrency, "concurrency", 64, "rollout requests in flight per backend at most")
	fs.Float64Var(&b.loadBound, "load-bound", rollout.DefaultLoadBound, "a problem's requests stay on its backend until that backend is full and above this multiple of the average load, then spill to the problem's next backend (0 for no bound: pure cache affinity)")
	fs.IntVar(&b.seqs, "backend-seqs", rollout.DefaultBackendSeqs, "sequences each backend generates at once (its --max-num-seqs); jobs keep about 1.5x the fleet's total in flight (simulators with max-num-seqs report their own)")
}

// open builds the backend pool, starting the built-in simulator for 'sim'.
// obs, when not nil, sees every inference request (for metrics). The
// returned stop function shuts down what open started.
func (b *backendFlags) open(obs rollout.Observer) (*rollout.Pool, func(), error) {
	if len(b.backends) == 0 {
		return nil, nil, usageErrorf("--backend is required (a base URL ending in /v1, or sim)")
	}
	var stops []func()
	stop := func() {
		for _, s := range stops {
			s()
		}
	}
	model := b.model
	key := b.apiKey
	if key == "" {
		key = os.Getenv("OPENAI_API_KEY")
	}
	tmpl := ""
	if b.promptTemplate != "" {
		data, err := os.ReadFile(b.promptTemplate)
		if err != nil {
			return nil, nil, fmt.Errorf("--prompt-template: %w", err)
		}
		tmpl = string(data)
	}
	api, err := rollout.ParseAPI(b.api)
	if err != nil {
		return nil, nil, usageErrorf("--api: %v", err)
	}
	if b.loadBound != 0 && b.loadBound < 1 {
		return nil, nil, usageErrorf("--load-bound %g: must be at least 1 (0 for no bound)", b.loadBound)
	}
	loadBound := b.loadBound
	if loadBound == 0 {
		loadBound = -1 // PoolOptions: below 1 turns it off
	}
	if b.seqs < 1 {
		return nil, nil, usageErrorf("--backend-seqs %d: must be at least 1", b.seqs)
	}
	var clients []*rollout.Client
	var seqs []int
	for _, u := range b.backends {
		for _, one := range strings.Split(u, ",") {
			one = strings.TrimSpace(one)
			if one == "" {
				continue
			}
			urls, seq := []string{one}, b.seqs
			if one == "sim" || strings.HasPrefix(one, "sim?") {
				opt, count, err := sim.ParseSpec(one)
				if err != nil {
					stop()
					return nil, nil, usageErrorf("--backend: %v", err)
				}
				if model == "" {
					model = "sim"
				}
				if opt.Model == "" {
					opt.Model = model
				}
				fleet, err := sim.StartFleet(count, opt)
				if err != nil {
					stop()
					return nil, nil, fmt.Errorf("starting the simulator: %w", err)
				}
				stops = append(stops, fleet.Stop)
				b.sims = append(b.sims, fleet.Servers...)
				urls = fleet.URLs
				if opt.MaxNumSeqs > 0 {
					seq = opt.MaxNumSeqs
				}
			}
			if model == "" {
				stop()
				return nil, nil, usageErrorf("--model is required with a real backend")
			}
			for _, one := range urls {
				c, err := rollout.NewClient(rollout.ClientOptions{
					BaseURL: one, Model: model, API: api, PromptTemplate: tmpl, APIKey: key,
					Timeout: b.timeout, MaxRetries: b.maxRetries, MaxN: b.maxN,
				})
				if err != nil {
					stop()
					return nil, nil, fmt.Errorf("--backend %s: %w", one, err)
				}
				clients, seqs = append(clients, c), append(seqs, seq)
			}
		}
	}
	if len(clients) == 0 {
		return nil, nil, usageErrorf("--backend is required (a base URL ending in /v1, or sim)")
	}
	b.model = model
	pool, err := rollout.NewPool(clients, rollout.PoolOptions{MaxConcurrency: b.concurrency, Observer: obs, BackendSeqs: seqs, LoadBound: loadBound})
	if err != nil {
		stop()
		return nil, nil, err
	}
	return pool, stop, nil
}

// simBusy reports the simulated fleet's utilization over wall: the
// sequence-seconds its servers generated against their slots, when every
// backend is a simulator with a slot bound (ok false otherwise).
func (b *backendFlags) simBusy(wall time.Duration) (busy float64, slots int, ok bool) {
	if len(b.sims) == 0 {
		return 0, 0, false
	}
	seqSeconds := 0.0
	for _, s := range b.sims {
		if s.Options().MaxNumSeqs == 0 {
			return 0, 0, false
		}
		slots += s.Options().MaxNumSeqs
		seqSeconds += s.Stats().SeqSeconds
	}
	return seqSeconds / (float64(slots) * wall.Seconds()), slots, true
}
