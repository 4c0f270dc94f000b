package rollout

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/shepherd-prm/shepherd/internal/httpretry"
)

// SamplingParams are the per-job sampling settings. Temperature is always
// sent (0 means greedy); TopP and MaxTokens are sent only when positive, so
// zero leaves the server's default. Note that vLLM's default max_tokens on
// /v1/completions is 16: set MaxTokens.
type SamplingParams struct {
	Temperature float64
	TopP        float64
	MaxTokens   int
	Stop        []string
}

// GenerateRequest asks for N continuations of one step prefix.
type GenerateRequest struct {
	Question string // the problem text
	Prefix   string // the solution text so far (byte-exact step prefix; may be "")
	N        int
	// Seed: sample i uses seed Seed+i (vLLM semantics: a request with n and
	// seed S draws the same samples as n requests with seeds S..S+n-1).
	Seed     int64
	Params   SamplingParams
	RouteKey string // requests with the same key go to the same backend (prefix-cache affinity); "" = any
}

// Sample is one generated continuation.
type Sample struct {
	Text         string
	FinishReason string // "stop", "length", … as reported by the server
}

// GenerateResult holds the N samples of one request.
type GenerateResult struct {
	Samples          []Sample // len == N, in seed order
	PromptTokens     int
	CompletionTokens int
	CachedTokens     int    // prompt tokens served from the prefix cache, when the server reports it
	Backend          string // base URL of the backend that answered
}

// Generator produces continuations; *Client and *Pool implement it.
type Generator interface {
	Generate(ctx context.Context, req GenerateRequest) (GenerateResult, error)
}

// API names an inference server API: one of wires (wire.go), each
// implemented in its own wire_*.go file.
type API string

// ClientOptions configure one inference backend.
type ClientOptions struct {
	BaseURL        string        // the OpenAI-compatible root, ending in /v1, e.g. http://127.0.0.1:8000/v1
	Model          string        // the served model name
	API            API           // default APICompletions
	PromptTemplate string        // completions only; "" = DefaultPromptTemplate
	APIKey         string        // sent as Authorization: Bearer
	Timeout        time.Duration // per HTTP attempt, including reading the body; default 120s
	MaxRetries     int           // retries after the first attempt; default 5, negative = none
	BackoffBase    time.Duration // default 200ms
	BackoffMax     time.Duration // default 10s
	// MaxN is the largest n the server accepts in one request; 0 means no
	// limit. Set 1 for servers without n>1 (llama.cpp server, TGI): a
	// request for N samples is then sent as ceil(N/MaxN) concurrent requests
	// with seeds Seed, Seed+MaxN, …, which draws the same samples on servers
	// with vLLM's seed semantics.
	MaxN       int
	HTTPClient *http.Client // nil = a tuned default (keep-alives, many idle connections per host)
	// Observer sees every attempt of Client.Generate (nil: none). A Pool
	// reports its attempts to PoolOptions.Observer instead.
	Observer Observer
	// Server is the server's kind and seed semantics (DetectServer); the
	// zero value is asked as vLLM is. See serverkind.go.
	Server ServerInfo
	// Extras are added to every request: a system prompt, chat template
	// arguments, extra body fields (see extras.go).
	Extras RequestExtras
}

// Defaults of ClientOptions.
const (
	DefaultTimeout     = 120 * time.Second
	DefaultMaxRetries  = httpretry.DefaultMaxRetries
	DefaultBackoffBase = httpretry.DefaultBackoffBase
	DefaultBackoffMax  = httpretry.DefaultBackoffMax
)

// Client talks to one OpenAI-compatible inference server. It is safe for
// concurrent use.
type Client struct {
	base       string
	model      string
	api        API
	wire       Wire
	apiKey     string
	timeout    time.Duration
	maxN       int
	hc         *http.Client
	retry      retryPolicy
	endpoint   string // base + the wire's path
	authHeader string
	obs        Observer
	unseeded   bool // the server ignores seeds: send none
	extras     RequestExtras
}

// NewClient validates opt and returns a client.
func NewClient(opt ClientOptions) (*Client, error) {
	base, err := httpretry.Target("rollout", "rollout: ClientOptions.BaseURL is required (e.g. http://127.0.0.1:8000/v1)",
		"rollout: ClientOptions.Model is required", opt.BaseURL, opt.Model)
	if err != nil {
		return nil, err
	}
	w, api, err := lookupWire(string(opt.API))
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:   base,
		model:  opt.Model,
		api:    api,
		apiKey: opt.APIKey,
		maxN:   opt.Server.maxN(opt.MaxN),
		hc:     opt.HTTPClient,
		obs:    observerOr(opt.Observer),
	}
	if c.wire, err = w.build(opt); err != nil {
		return nil, err
	}
	c.endpoint = base + c.wire.Path()
	if c.timeout, err = httpretry.OrDefault("rollout", "Timeout", opt.Timeout, DefaultTimeout); err != nil {
		return nil, err
	}
	if c.maxN < 0 {
		return nil, fmt.Errorf("rollout: ClientOptions.MaxN must be >= 0, got %d", opt.MaxN)
	}
	c.unseeded = !opt.Server.Seeded()
	if err := opt.Extras.Validate(api); err != nil {
		return nil, fmt.Errorf("rollout: %w", err)
	}
	c.extras = opt.Extras
	if c.retry.Policy, err = httpretry.NewPolicy("rollout", opt.MaxRetries, opt.BackoffBase, opt.BackoffMax); err != nil {
		return nil, err
	}
	if c.hc == nil {
		// A worker runs up to PoolOptions.MaxConcurrency requests against
		// each backend.
		c.hc = httpretry.NewHTTPClient(512)
	}
	c.authHeader = httpretry.BearerHeader(c.apiKey)
	return c, nil
}

// BaseURL returns the normalised base URL (no trailing slash).
func (c *Client) BaseURL() string { return c.base }

// retryPolicy is the client's retry budget and backoff.
func (c *Client) retryPolicy() retryPolicy { return c.retry }

// Model returns the served model name requests ask for.
func (c *Client) Model() string { return c.model }

// Generate asks the server for req.N continuations of req.Prefix, retrying
// transient failures (see APIError for what is permanent). Every attempt
// sends the same seeds, so a retry asks for the same samples.
func (c *Client) Generate(ctx context.Context, req GenerateRequest) (GenerateResult, error) {
	if err := validateRequest(req); err != nil {
		return GenerateResult{}, invalidRequest(c.base, err)
	}
	return c.retry.run(ctx, func(ctx context.Context, _ int) (GenerateResult, attemptOutcome, bool) {
		start := time.Now()
		res, o := c.attempt(ctx, req)
		observeAttempt(c.obs, o, res, time.Since(start))
		return res, o, false
	})
}

// invalidRequest is the permanent error of a request refused before it
// was sent; backend is "" when no backend was chosen yet (a Pool).
func invalidRequest(backend string, err error) error {
	return httpretry.Invalid("rollout", backend, err)
}

func validateRequest(req GenerateRequest) error {
	switch {
	case req.N < 1:
		return fmt.Errorf("rollout: GenerateRequest.N must be >= 1, got %d", req.N)
	case req.Params.MaxTokens < 0:
		return fmt.Errorf("rollout: SamplingParams.MaxTokens must be >= 0, got %d", req.Params.MaxTokens)
	case req.Params.Temperature < 0 || req.Params.Temperature != req.Params.Temperature:
		return fmt.Errorf("rollout: SamplingParams.Temperature must be >= 0, got %v", req.Params.Temperature)
	case req.Params.TopP < 0 || req.Params.TopP > 1 || req.Params.TopP != req.Params.TopP:
		return fmt.Errorf("rollout: SamplingParams.TopP must be in [0, 1], got %v", req.Params.TopP)
	}
	return nil
}

// APIError is a permanent error, or the last error once retries are
// exhausted, from an inference backend: Permanent blames the request,
// BackendFault the backend, neither means the retries ran out. The PRM
// client returns the same type (prm.APIError).
type APIError = httpretry.APIError

// IsPermanent reports whether err is (or wraps) an APIError that retrying
// cannot fix: the task should be dead-lettered rather than redelivered.
func IsPermanent(err error) bool { return httpretry.IsPermanent(err) }

// IsBackendFault reports whether err is (or wraps) an APIError blaming the
// backend rather than the request: the task should be handed back for
// another worker without counting against it.
func IsBackendFault(err error) bool { return httpretry.IsBackendFault(err) }

// outcomeKind classifies one HTTP attempt.
type outcomeKind int

const (
	outcomeOK            outcomeKind = iota
	outcomeThrottled                 // 429 or 503: the server is alive but overloaded
	outcomeServerError               // other 5xx, 408
	outcomeTimeout                   // the per-attempt deadline passed
	outcomeUnreachable               // connection refused, unknown host
	outcomeConnError                 // connection reset, closed mid-response
	outcomeBadResponse               // 2xx with an unreadable body or the wrong number of choices
	outcomePermanent                 // other 4xx
	outcomeMisconfigured             // 401, 403, 404: the backend cannot serve this model (wrong model, key or URL)
	outcomeCanceled                  // the caller's context ended
)

// unhealthy reports whether the outcome counts against the backend's health.
func (k outcomeKind) unhealthy() bool {
	switch k {
	case outcomeServerError, outcomeTimeout, outcomeUnreachable, outcomeConnError, outcomeBadResponse, outcomeMisconfigured:
		return true
	}
	return false
}

// attemptOutcome is what one attempt against one backend produced; the pool
// feeds it to the backend's health and concurrency bookkeeping.
type attemptOutcome struct {
	kind       outcomeKind
	backend    string
	status     int           // HTTP status, 0 if no response
	retryAfter time.Duration // from Retry-After, 0 if absent
	message    string        // server message or failure description
	err        error         // nil iff kind == outcomeOK
}

// label names the outcome for per-backend counts: the HTTP status code, or
// the kind of transport failure. The set of values is bounded.
func (o attemptOutcome) label() string {
	switch o.kind {
	case outcomeTimeout:
		return "timeout"
	case outcomeUnreachable:
		return "unreachable"
	case outcomeConnError:
		return "conn_error"
	case outcomeCanceled:
		return "canceled"
	case outcomeBadResponse:
		if o.status == 0 || o.status/100 == 2 {
			return "bad_response"
		}
	}
	if o.status == 0 {
		return "error"
	}
	return strconv.Itoa(o.status)
}

// severity orders failures when the sub-requests of one attempt disagree.
func (k outcomeKind) severity() int {
	switch k {
	case outcomeOK:
		return 0
	case outcomeCanceled:
		return 10
	case outcomeMisconfigured:
		return 9
	case outcomePermanent:
		return 8
	case outcomeUnreachable:
		return 7
	case outcomeThrottled:
		return 6
	}
	return 5
}

// attempt makes one attempt: one HTTP request, or ceil(N/MaxN) concurrent
// ones when the server caps n. It never retries.
func (c *Client) attempt(ctx context.Context, req GenerateRequest) (GenerateResult, attemptOutcome) {
	chunk := req.N
	if c.maxN > 0 && c.maxN < chunk {
		chunk = c.maxN
	}
	type part struct {
		off, n int
		res    GenerateResult
		o      attemptOutcome
	}
	parts := make([]part, 0, (req.N+chunk-1)/chunk)
	for off := 0; off < req.N; off += chunk {
		parts = append(parts, part{off: off, n: min(chunk, req.N-off)})
	}
	run := func(p *part) {
		body, err := c.requestBody(req, p.n, req.Seed+int64(p.off))
		if err != nil {
			p.o = attemptOutcome{kind: outcomePermanent, backend: c.base, message: err.Error(), err: err}
			return
		}
		p.res, p.o = c.post(ctx, body, p.n)
	}
	if len(parts) == 1 {
		run(&parts[0])
	} else {
		var wg sync.WaitGroup
		for i := range parts {
			wg.Go(func() { run(&parts[i]) })
		}
		wg.Wait()
	}

	res := GenerateResult{Samples: make([]Sample, 0, req.N), Backend: c.base}
	worst := attemptOutcome{kind: outcomeOK, backend: c.base, status: http.StatusOK}
	for i := range parts {
		p := &parts[i]
		if p.o.kind != outcomeOK {
			if p.o.kind.severity() > worst.kind.severity() {
				worst = p.o
			}
			continue
		}
		res.Samples = append(res.Samples, p.res.Samples...)
		res.PromptTokens += p.res.PromptTokens
		res.CompletionTokens += p.res.CompletionTokens
		res.CachedTokens += p.res.CachedTokens
	}
	if worst.kind != outcomeOK {
		return GenerateResult{}, worst
	}
	return res, worst
}

// requestBody renders the JSON body asking for n samples starting at seed,
// extras merged in.
func (c *Client) requestBody(req GenerateRequest, n int, seedValue int64) ([]byte, error) {
	seed := &seedValue
	if c.unseeded {
		seed = nil
	}
	body, err := c.wire.Encode(req, n, seed)
	if err != nil {
		return nil, err
	}
	return c.extras.merge(body)
}

// post sends one HTTP request under the per-attempt deadline and maps the
// exchange to an outcome.
func (c *Client) post(ctx context.Context, body []byte, n int) (GenerateResult, attemptOutcome) {
	x := httpretry.Post(ctx, c.hc, c.timeout, c.endpoint, c.authHeader, body)
	o := attemptOutcome{kind: kindOf(x), backend: c.base, status: x.Status, retryAfter: x.RetryAfter, message: x.Message, err: x.Err}
	if o.kind != outcomeOK {
		return GenerateResult{}, o
	}
	res, err := c.wire.Decode(x.Body, n)
	if err != nil {
		o.kind, o.message, o.err = outcomeBadResponse, err.Error(), err
		return GenerateResult{}, o
	}
	return res, o
}

// kindOf maps an exchange to the outcome a backend's health counts.
func kindOf(x httpretry.Exchange) outcomeKind {
	switch x.Outcome {
	case httpretry.OutcomeOK:
		return outcomeOK
	case httpretry.OutcomeCanceled:
		return outcomeCanceled
	case httpretry.OutcomeTimeout:
		return outcomeTimeout
	case httpretry.OutcomeUnreachable:
		return outcomeUnreachable
	case httpretry.OutcomeConnError:
		return outcomeConnError
	case httpretry.OutcomeTooLarge:
		return outcomeBadResponse
	case httpretry.OutcomeStatus:
		switch httpretry.ClassifyStatus(x.Status) {
		case httpretry.StatusThrottled:
			return outcomeThrottled
		case httpretry.StatusServerError:
			return outcomeServerError
		case httpretry.StatusMisconfigured:
			return outcomeMisconfigured
		}
	}
	return outcomePermanent
}

// retryPolicy runs attempts with capped, jittered exponential backoff.
type retryPolicy struct{ httpretry.Policy }

// attemptFunc makes attempt number i (0-based). skipDelay asks for the next
// attempt to start at once (the pool sets it when it fails over to another
// backend).
type attemptFunc func(ctx context.Context, i int) (res GenerateResult, o attemptOutcome, skipDelay bool)

func (p retryPolicy) run(ctx context.Context, try attemptFunc) (GenerateResult, error) {
	var res GenerateResult
	var o attemptOutcome
	st := p.Run(ctx, func(ctx context.Context, i int) (httpretry.Verdict, time.Duration, bool) {
		var skip bool
		res, o, skip = try(ctx, i)
		return o.kind.verdict(skip), o.retryAfter, skip
	})
	switch {
	case st.Err != nil && !st.Waiting:
		return GenerateResult{}, fmt.Errorf("rollout: generate: %w", st.Err)
	case st.Err != nil:
		return GenerateResult{}, fmt.Errorf("rollout: generate on %s: %w", o.backend, st.Err)
	}
	switch st.Verdict {
	case httpretry.Success:
		return res, nil
	case httpretry.Canceled:
		return GenerateResult{}, fmt.Errorf("rollout: generate on %s: %w", o.backend, ctx.Err())
	}
	return GenerateResult{}, st.APIError("rollout", o.backend, o.status, o.message, o.err)
}

// verdict maps an outcome to the retry loop's verdict. A misconfigured
// backend is not retried unless the pool fails over to another one
// (skipDelay): retrying cannot fix the backend.
func (k outcomeKind) verdict(skipDelay bool) httpretry.Verdict {
	switch k {
	case outcomeOK:
		return httpretry.Success
	case outcomeCanceled:
		return httpretry.Canceled
	case outcomePermanent:
		return httpretry.Permanent
	case outcomeMisconfigured:
		if !skipDelay {
			return httpretry.BackendFault
		}
	}
	return httpretry.Transient
}
