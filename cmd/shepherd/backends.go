package main

import (
	"context"
	"errors"
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
	serverKind     string
	promptStyle    string
	systemPrompt   string
	chatKwargs     string
	extraBody      string
	// onState, when set before open, hears backends leave and rejoin
	// rotation (see rollout.PoolOptions.OnBackendState).
	onState   func(backend, reason string)
	seqs      int
	loadBound float64

	// sims are the simulators open started, for their counters.
	sims []*sim.Server
}

func (b *backendFlags) register(fs *flag.FlagSet) {
	fs.Var(&b.backends, "backend", "inference server base URL ending in /v1 (repeatable), or 'sim' for the built-in simulator ('sim?count=16&max-num-seqs=64&latency=40ms&token-latency=5ms': 16 simulated GPUs; keys are 'shepherd sim' flags); NAME=URL names it in metrics (default host:port)")
	fs.StringVar(&b.model, "model", "", "served model name (default \"sim\" with --backend sim)")
	fs.StringVar(&b.api, "api", "completions", "inference API: "+orList(rollout.APINames()))
	fs.StringVar(&b.promptTemplate, "prompt-template", "", "file with a Go text/template for --api completions over {{.Question}}, {{.Prefix}} and {{.System}}")
	fs.StringVar(&b.promptStyle, "prompt-style", "plain", "built-in prompt for --api completions: plain (Question:/Answer:, for base models) or chatml (the ChatML chat format of Qwen-style instruct models)")
	fs.StringVar(&b.systemPrompt, "system-prompt", "", "system prompt: the system turn with --api chat, {{.System}} in the completions prompt (--prompt-style chatml or your template)")
	fs.StringVar(&b.chatKwargs, "chat-template-kwargs", "", `--api chat: JSON object sent as chat_template_kwargs, e.g. '{"enable_thinking": false}'`)
	fs.StringVar(&b.extraBody, "extra-body", "", `JSON object merged into every request body: sampling parameters the OpenAI schema lacks, e.g. '{"top_k": 20, "min_p": 0.05, "repetition_penalty": 1.05}'; keys shepherd sets (model, prompt, messages, n, seed, max_tokens, stop, temperature, top_p, …) are refused`)
	fs.StringVar(&b.apiKey, "api-key", "", "bearer token for the inference servers (default $OPENAI_API_KEY)")
	fs.DurationVar(&b.timeout, "timeout", rollout.DefaultTimeout, "per-request timeout")
	fs.IntVar(&b.maxRetries, "max-retries", rollout.DefaultMaxRetries, "retries of a failed request before the task is handed back; 0 fails fast (no retry, no redelivery)")
	fs.IntVar(&b.maxN, "max-n", 0, "largest n per request (1 for servers without n>1); 0 means no limit")
	fs.IntVar(&b.concurrency, "concurrency", 64, "rollout requests in flight per backend at most")
	fs.Float64Var(&b.loadBound, "load-bound", rollout.DefaultLoadBound, "a problem's requests stay on its backend until that backend is full and above this multiple of the average load, then spill to the problem's next backend (0 for no bound: pure cache affinity)")
	fs.IntVar(&b.seqs, "backend-seqs", rollout.DefaultBackendSeqs, "sequences each backend generates at once (its --max-num-seqs); jobs keep about 2.5x the fleet's total in flight (simulators with max-num-seqs report their own)")
	fs.StringVar(&b.serverKind, "server-kind", "auto", "how samples are requested: vllm (n samples, seeds S..S+n-1), sglang (one sample per request with seeds S..S+n-1 when its /get_server_info reports deterministic inference, else unseeded), generic (as vllm), or auto (detected from /get_server_info and /version)")
}

// backendNamer is implemented by the metrics observer: it labels a base
// URL's series with a name instead of its host:port.
type backendNamer interface{ NameBackend(baseURL, name string) }

// splitBackendName splits "NAME=URL" (NAME of letters, digits, '.', '_',
// '-'); a value without such a prefix is a URL (or sim) without a name.
func splitBackendName(v string) (name, target string, err error) {
	before, after, ok := strings.Cut(v, "=")
	if !ok || strings.ContainsAny(before, ":/?") {
		return "", v, nil
	}
	if before == "" || after == "" {
		return "", "", fmt.Errorf("%q: want NAME=URL, or a URL", v)
	}
	for _, r := range before {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return "", "", fmt.Errorf("%q: the name %q may hold letters, digits, '.', '_' and '-' only", v, before)
		}
	}
	return before, strings.TrimSpace(after), nil
}

// open builds the backend pool, starting the built-in simulator for 'sim'.
// obs, when not nil, sees every inference request (for metrics). The
// returned stop function shuts down what open started.
func (b *backendFlags) open(e env, obs rollout.Observer) (*rollout.Pool, func(), error) {
	if len(b.backends) == 0 {
		return nil, nil, usageErrorf("--backend is required (a base URL ending in /v1, or sim)")
	}
	pb, err := b.newPoolBuilder(e, obs)
	if err != nil {
		return nil, nil, err
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
	if err := pb.addAll(); err != nil {
		pb.stop()
		return nil, nil, err
	}
	if len(pb.clients) == 0 {
		return nil, nil, usageErrorf("--backend is required (a base URL ending in /v1, or sim)")
	}
	b.model = pb.model
	pool, err := rollout.NewPool(pb.clients, rollout.PoolOptions{MaxConcurrency: b.concurrency, Observer: obs, OnBackendState: b.onState, BackendSeqs: pb.seqs, LoadBound: loadBound})
	if err != nil {
		pb.stop()
		return nil, nil, err
	}
	return pool, pb.stop, nil
}

// poolBuilder gathers the pool's clients, one per backend URL, as open
// reads --backend: what every client shares, and what was built so far.
type poolBuilder struct {
	b      *backendFlags
	e      env
	obs    rollout.Observer
	model  string // --model, or "sim" once a simulator starts without one
	key    string
	tmpl   string
	api    rollout.API
	kind   rollout.ServerKind
	extras rollout.RequestExtras

	named   map[string]int // labels given so far, to keep them distinct
	clients []*rollout.Client
	seqs    []int // each client's sequences at once
	stops   []func()
}

// newPoolBuilder checks the flags every client shares.
func (b *backendFlags) newPoolBuilder(e env, obs rollout.Observer) (*poolBuilder, error) {
	pb := &poolBuilder{b: b, e: e, obs: obs, model: b.model, key: b.apiKey, named: map[string]int{}}
	if pb.key == "" {
		pb.key = os.Getenv("OPENAI_API_KEY")
	}
	if b.promptTemplate != "" {
		data, err := os.ReadFile(b.promptTemplate)
		if err != nil {
			return nil, fmt.Errorf("--prompt-template: %w", err)
		}
		pb.tmpl = string(data)
	}
	var err error
	if pb.api, err = rollout.ParseAPI(b.api); err != nil {
		return nil, usageErrorf("--api: %v", err)
	}
	if pb.kind, err = rollout.ParseServerKind(b.serverKind); err != nil {
		return nil, usageErrorf("--server-kind: %v", err)
	}
	if pb.extras, pb.tmpl, err = b.extras(pb.api, pb.tmpl); err != nil {
		return nil, err
	}
	return pb, nil
}

// stop shuts down the simulators the builder started.
func (pb *poolBuilder) stop() {
	for _, s := range pb.stops {
		s()
	}
}

// addAll adds every backend of every --backend (each a comma-separated
// list).
func (pb *poolBuilder) addAll() error {
	for _, u := range pb.b.backends {
		for _, one := range strings.Split(u, ",") {
			one = strings.TrimSpace(one)
			if one == "" {
				continue
			}
			name, one, err := splitBackendName(one)
			if err != nil {
				return usageErrorf("--backend: %v", err)
			}
			if err := pb.add(name, one); err != nil {
				return err
			}
		}
	}
	return nil
}

// add adds one backend: a URL, or a simulator fleet it starts.
func (pb *poolBuilder) add(name, target string) error {
	urls, seq := []string{target}, pb.b.seqs
	if target == "sim" || strings.HasPrefix(target, "sim?") {
		if name == "" {
			name = "sim" // not its ephemeral port
		}
		var err error
		if urls, seq, err = pb.startSim(target); err != nil {
			return err
		}
	}
	if pb.model == "" {
		return usageErrorf("--model is required with a real backend")
	}
	for _, one := range urls {
		if err := pb.addClient(name, one, seq); err != nil {
			return err
		}
	}
	return nil
}

// startSim starts the simulators a "sim?…" backend describes and returns
// their URLs and the sequences each runs at once.
func (pb *poolBuilder) startSim(spec string) ([]string, int, error) {
	opt, count, err := sim.ParseSpec(spec)
	if err != nil {
		return nil, 0, usageErrorf("--backend: %v", err)
	}
	if pb.model == "" {
		pb.model = "sim"
	}
	if opt.Model == "" {
		opt.Model = pb.model
	}
	fleet, err := sim.StartFleet(count, opt)
	if err != nil {
		return nil, 0, fmt.Errorf("starting the simulator: %w", err)
	}
	pb.stops = append(pb.stops, fleet.Stop)
	pb.b.sims = append(pb.b.sims, fleet.Servers...)
	seq := pb.b.seqs
	if opt.MaxNumSeqs > 0 {
		seq = opt.MaxNumSeqs
	}
	return fleet.URLs, seq, nil
}

// addClient adds the client of one backend URL, named name in metrics
// when the observer names backends.
func (pb *poolBuilder) addClient(name, one string, seq int) error {
	b := pb.b
	info := rollout.ServerInfo{Kind: pb.kind}
	if pb.kind == "" || pb.kind == rollout.ServerSGLang {
		// An SGLang server says whether it runs with
		// deterministic inference, which decides how to seed.
		if d := rollout.DetectServer(context.Background(), nil, one, pb.key); pb.kind == "" || d.Kind == pb.kind {
			info = d
		}
	}
	if !info.Seeded() {
		fmt.Fprintf(pb.e.stderr, "warning: --backend %s: %s\n", one, info.Describe())
	}
	retries := b.maxRetries
	if retries == 0 {
		retries = -1 // ClientOptions: 0 is the default, negative none
	}
	c, err := rollout.NewClient(rollout.ClientOptions{
		BaseURL: one, Model: pb.model, API: pb.api, PromptTemplate: pb.tmpl, APIKey: pb.key,
		Timeout: b.timeout, MaxRetries: retries, MaxN: b.maxN, Server: info, Extras: pb.extras,
	})
	if err != nil {
		return fmt.Errorf("--backend %s: %w", one, err)
	}
	if n, ok := pb.obs.(backendNamer); ok && name != "" {
		label := name
		if pb.named[name]++; pb.named[name] > 1 {
			label = fmt.Sprintf("%s-%d", name, pb.named[name]) // a second sim: sim-2
		}
		n.NameBackend(one, label)
	}
	pb.clients, pb.seqs = append(pb.clients, c), append(pb.seqs, seq)
	return nil
}

// extras checks --prompt-style, --system-prompt, --chat-template-kwargs and
// --extra-body, naming the flag at fault, and returns the request extras
// and the prompt template text.
func (b *backendFlags) extras(api rollout.API, tmpl string) (rollout.RequestExtras, string, error) {
	var x rollout.RequestExtras
	switch b.promptStyle {
	case "", "plain":
	case "chatml":
		if tmpl != "" {
			return x, "", usageErrorf("--prompt-style chatml and --prompt-template are alternatives; give one")
		}
		if api != rollout.APICompletions {
			return x, "", usageErrorf("--prompt-style applies to --api completions; the chat API uses the model's own chat template")
		}
		tmpl = rollout.ChatMLPromptTemplate
	default:
		return x, "", usageErrorf("--prompt-style: unknown style %q (want plain or chatml)", b.promptStyle)
	}
	var err error
	if x.ChatTemplateKwargs, err = rollout.ParseJSONObject("--chat-template-kwargs", b.chatKwargs); err != nil {
		return x, "", usageErrorf("%v", err)
	}
	if len(x.ChatTemplateKwargs) > 0 && api != rollout.APIChat {
		return x, "", usageErrorf("--chat-template-kwargs applies to --api chat; with --api completions the prompt template is the chat format")
	}
	if x.ExtraBody, err = rollout.ParseJSONObject("--extra-body", b.extraBody); err != nil {
		return x, "", usageErrorf("%v", err)
	}
	if err := x.Validate(api); err != nil {
		return x, "", usageErrorf("--extra-body: %v", err)
	}
	x.SystemPrompt = b.systemPrompt
	if x.SystemPrompt != "" && api == rollout.APICompletions {
		pt, err := rollout.ParsePromptTemplate(tmpl)
		if err == nil {
			_, err = pt.WithSystem(x.SystemPrompt)
		}
		if err != nil {
			return x, "", usageErrorf("--system-prompt: %v", err)
		}
	}
	return x, tmpl, nil
}

// probe checks every backend with GET /v1/models before any work starts
// (rollout.Pool.Probe). With all, any failing backend fails the command;
// otherwise only when none is left, and warn hears about the others.
func (b *backendFlags) probe(ctx context.Context, pool *rollout.Pool, all bool, warn func(error)) error {
	errs := pool.Probe(ctx)
	switch {
	case len(errs) == 0:
		return nil
	case all || !pool.Usable():
		return fmt.Errorf("%w: %w", rollout.ErrNoUsableBackend, errors.Join(errs...))
	}
	for _, err := range errs {
		warn(err)
	}
	return nil
}

// openProbed opens the backends and probes them all: any that fails the
// probe fails the command (label, score --mode mc). The returned stop
// function shuts down what open started.
func (b *backendFlags) openProbed(ctx context.Context, e env) (*rollout.Pool, func(), error) {
	pool, stop, err := b.open(e, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := b.probe(ctx, pool, true, nil); err != nil {
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
