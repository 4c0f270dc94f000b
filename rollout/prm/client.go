package prm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shepherd-prm/shepherd/internal/httpretry"
)

// ClientOptions configure a Client.
type ClientOptions struct {
	// BaseURL is the server's root, e.g. http://127.0.0.1:8000. vLLM serves
	// the pooling API at /pooling, outside /v1, so a trailing /v1 (the form
	// the generation backends are given in) is dropped: both
	// http://h:8000 and http://h:8000/v1 post to http://h:8000/pooling.
	BaseURL     string
	Model       string        // the served reward model's name; required
	APIKey      string        // sent as Authorization: Bearer
	Timeout     time.Duration // per HTTP attempt, including reading the body; default DefaultTimeout
	MaxRetries  int           // retries after the first attempt; default rollout.DefaultMaxRetries, negative = none
	BackoffBase time.Duration // default rollout.DefaultBackoffBase
	BackoffMax  time.Duration // default rollout.DefaultBackoffMax
	// HTTPClient nil means a client with keep-alives and many idle
	// connections per host.
	HTTPClient *http.Client
	// PromptLogprobs is how many top tokens a layout scored through
	// /v1/completions asks for at every prompt position; 0 means
	// DefaultPromptLogprobs. A good or bad token missing from a tag's top
	// list is then asked for on its own (see the package documentation).
	PromptLogprobs int
}

// DefaultPromptLogprobs is the top tokens asked for at every prompt
// position. A trained PRM puts its two labels at the top after a tag;
// every position costs this many entries in the response (about 80 bytes
// each), and vLLM's default --max-logprobs caps it at 20.
const DefaultPromptLogprobs = 5

// DefaultTimeout bounds one pooling request. A forward pass over a few
// thousand tokens takes well under a second on a GPU; a long queue on the
// server is what this waits for.
const DefaultTimeout = 60 * time.Second

// probabilitySlack is how far outside [0, 1] a probability may stray by
// rounding (half-precision softmax outputs) before it is rejected.
const probabilitySlack = 1e-3

// Client scores solutions with a process reward model served by vLLM's
// pooling API. It is safe for concurrent use.
type Client struct {
	base       string
	endpoint   string
	topK       int
	model      string
	authHeader string
	timeout    time.Duration
	retry      httpretry.Policy
	hc         *http.Client
}

// NewClient validates opt and returns a client.
func NewClient(opt ClientOptions) (*Client, error) {
	base, err := httpretry.Target("prm", "prm: ClientOptions.BaseURL is required (the server root, e.g. http://127.0.0.1:8000)",
		"prm: ClientOptions.Model is required (the served reward model)", opt.BaseURL, opt.Model)
	if err != nil {
		return nil, err
	}
	base = serverRoot(base)
	c := &Client{base: base, endpoint: base + "/pooling", model: opt.Model, authHeader: httpretry.BearerHeader(opt.APIKey), hc: opt.HTTPClient}
	if c.timeout, err = httpretry.OrDefault("prm", "Timeout", opt.Timeout, DefaultTimeout); err != nil {
		return nil, err
	}
	if c.topK, err = httpretry.OrDefault("prm", "PromptLogprobs", opt.PromptLogprobs, DefaultPromptLogprobs); err != nil {
		return nil, err
	}
	if c.retry, err = httpretry.NewPolicy("prm", opt.MaxRetries, opt.BackoffBase, opt.BackoffMax); err != nil {
		return nil, err
	}
	if c.hc == nil {
		c.hc = httpretry.NewHTTPClient(256)
	}
	return c, nil
}

// serverRoot is a base URL without the /v1 a user may give out of habit:
// the PRM endpoints (/pooling, /tokenize) sit at the server root.
func serverRoot(base string) string {
	return strings.TrimRight(strings.TrimSuffix(base, "/v1"), "/")
}

// BaseURL returns the server root requests go to (no trailing slash).
func (c *Client) BaseURL() string { return c.base }

// Model returns the reward model's name.
func (c *Client) Model() string { return c.model }

// APIError is a permanent error, or the last error once retries are
// exhausted, from a reward model server: rollout.APIError, the same type.
// Permanent means retrying the same request cannot succeed: a 4xx other
// than 408/429, an invalid request, or an answer that does not fit the
// layout. A reward model server has no other server to fail over to, so
// BackendFault is never set.
type APIError = httpretry.APIError

// IsPermanent reports whether err is (or wraps) an APIError that retrying
// cannot fix.
func IsPermanent(err error) bool { return httpretry.IsPermanent(err) }

func (c *Client) invalid(format string, a ...any) error {
	return httpretry.Invalid("prm", c.base, fmt.Errorf(format, a...))
}

// ScoreSteps scores the steps of one solution: it renders question and
// steps in layout, posts them, and returns the probability of the
// layout's positive class at each step tag, in step order. A response with
// another number of rows than steps is a permanent error that says how
// many it expected and got (the model is not served with step pooling for
// this layout's tag, or it tokenizes the tag differently).
func (c *Client) ScoreSteps(ctx context.Context, layout Layout, question string, steps []string) ([]float64, error) {
	layout = layout.orDefault()
	input, err := layout.Render(question, steps)
	if err != nil {
		return nil, c.invalid("prm: %v", err)
	}
	if layout.API() == APICompletions {
		return c.logprobScores(ctx, layout, input, len(steps))
	}
	rows, err := c.Pool(ctx, []string{input})
	if err != nil {
		return nil, err
	}
	return c.stepProbabilities(rows[0], len(steps), layout.PositiveIndex)
}

func (c *Client) stepProbabilities(rows [][]float64, steps, positive int) ([]float64, error) {
	if len(rows) != steps {
		return nil, c.permanent(http.StatusOK, fmt.Sprintf("expected %d step scores (one per step tag), got %d: is the model served with step pooling for this layout's step tag?", steps, len(rows)))
	}
	out := make([]float64, steps)
	for k, row := range rows {
		if positive >= len(row) {
			return nil, c.permanent(http.StatusOK, fmt.Sprintf("step %d: the model returned %d classes, the positive class index is %d", k, len(row), positive))
		}
		p := row[positive]
		if math.IsNaN(p) || p < -probabilitySlack || p > 1+probabilitySlack {
			return nil, c.permanent(http.StatusOK, fmt.Sprintf("step %d: %v is not a probability (does the server apply softmax to the reward head?)", k, p))
		}
		out[k] = min(1, max(0, p))
	}
	return out, nil
}

func (c *Client) permanent(status int, msg string) error {
	return &APIError{Prefix: "prm", Backend: c.base, Status: status, Message: msg, Permanent: true, Attempts: 1, Err: errors.New(msg)}
}

// Pool posts inputs to /pooling and returns each input's rows, in input
// order. Transient failures (429 and 503 honouring Retry-After, other 5xx,
// 408, timeouts, connection errors, truncated or invalid JSON, a response
// that does not answer every input) are retried with capped, jittered
// exponential backoff; other 4xx are permanent and carry the server's
// message.
func (c *Client) Pool(ctx context.Context, inputs []string) ([][][]float64, error) {
	if len(inputs) == 0 {
		return nil, c.invalid("prm: no input")
	}
	var rows [][][]float64
	err := c.post(ctx, "pooling", c.endpoint, PoolingRequest{Model: c.model, Input: inputs}, func(data []byte) error {
		var r PoolingResponse
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("invalid JSON response: %w", err)
		}
		var err error
		rows, err = decodeRows(r, len(inputs))
		return err
	})
	return rows, err
}

// post sends req as JSON to endpoint and hands a 2xx body to decode,
// retrying transient failures (see Pool). decode's error is retried
// unless it is a permanentError.
func (c *Client) post(ctx context.Context, what, endpoint string, req any, decode func([]byte) error) error {
	body, err := json.Marshal(req)
	if err != nil {
		return c.invalid("prm: encoding request: %v", err)
	}
	var o outcome
	st := c.retry.Run(ctx, func(ctx context.Context, _ int) (httpretry.Verdict, time.Duration, bool) {
		o = c.attempt(ctx, endpoint, body, decode)
		return o.kind, o.retryAfter, false
	})
	switch {
	case st.Err != nil:
		return fmt.Errorf("prm: %s on %s: %w", what, c.base, st.Err)
	case st.Verdict == httpretry.Success:
		return nil
	case st.Verdict == httpretry.Canceled:
		return fmt.Errorf("prm: %s on %s: %w", what, c.base, ctx.Err())
	}
	return st.APIError("prm", c.base, o.status, o.message, o.err)
}

// The PRM client's outcomes are the retry loop's verdicts: a reward model
// server has no backend fault of its own (there is no other server to
// fail over to).
const (
	ok        = httpretry.Success
	transient = httpretry.Transient
	permanent = httpretry.Permanent
	canceled  = httpretry.Canceled
)

type outcome struct {
	kind       httpretry.Verdict
	status     int
	retryAfter time.Duration
	message    string
	err        error
}

// attempt posts body once and maps the exchange to a verdict: a
// retryable status or a transport failure is transient, another status
// permanent; a 2xx body goes to decode, whose error is transient unless it
// is a permanentError.
func (c *Client) attempt(ctx context.Context, endpoint string, body []byte, decode func([]byte) error) outcome {
	x := httpretry.Post(ctx, c.hc, c.timeout, endpoint, c.authHeader, body)
	o := outcome{kind: transient, status: x.Status, retryAfter: x.RetryAfter, message: x.Message, err: x.Err}
	switch x.Outcome {
	case httpretry.OutcomeCanceled:
		o.kind = canceled
	case httpretry.OutcomeBadRequest:
		o.kind = permanent
	case httpretry.OutcomeStatus:
		if hint := endpointHint(endpoint, x.Status); hint != "" && !strings.Contains(o.message, "model") {
			o.message += hint
			o.err = httpretry.StatusError(x.Status, o.message)
		}
		if !httpretry.ClassifyStatus(x.Status).Retryable() {
			o.kind = permanent
		}
	case httpretry.OutcomeOK:
		o.kind = ok
		if err := decode(x.Body); err != nil {
			o.kind, o.message, o.err = transient, err.Error(), err
			var pe permanentError
			if errors.As(err, &pe) {
				o.kind = permanent
			}
		}
	}
	return o
}

// endpointHint explains a 404 or 405 from an endpoint the server does not
// serve: the usual cause is a model served with the wrong runner.
func endpointHint(endpoint string, status int) string {
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		return ""
	}
	switch {
	case strings.HasSuffix(endpoint, "/pooling"):
		return " (the server does not serve /pooling: serve the reward model with vllm serve <model> --runner pooling)"
	case strings.HasSuffix(endpoint, "/tokenize"), strings.HasSuffix(endpoint, "/v1/completions"):
		return " (the server does not serve " + endpoint[strings.LastIndex(endpoint, "/"):] +
			": serve the PRM as a generative model, vllm serve <model> without --runner pooling or --task reward)"
	}
	return ""
}

// permanentError marks a response that is well-formed but can never fit:
// asking again gets the same answer.
type permanentError struct{ error }

// decodeRows checks that the response answers inputs 0..n-1 exactly once
// and decodes each answer's rows.
func decodeRows(r PoolingResponse, n int) ([][][]float64, error) {
	if len(r.Data) != n {
		return nil, fmt.Errorf("response has %d outputs for %d inputs", len(r.Data), n)
	}
	items := slices.Clone(r.Data)
	slices.SortStableFunc(items, func(a, b PoolingData) int { return a.Index - b.Index })
	out := make([][][]float64, n)
	for i, it := range items {
		if it.Index != i {
			return nil, fmt.Errorf("response output indices are not 0..%d (found index %d at position %d)", n-1, it.Index, i)
		}
		raw := bytes.TrimSpace(it.Data)
		switch {
		case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
			return nil, fmt.Errorf("data[%d] has no \"data\"", i)
		case raw[0] == '"':
			return nil, permanentError{fmt.Errorf("data[%d] is base64-encoded; the client asks for floats", i)}
		}
		var rows [][]float64
		if err := json.Unmarshal(raw, &rows); err != nil {
			var flat []float64
			if json.Unmarshal(raw, &flat) == nil {
				return nil, permanentError{fmt.Errorf("data[%d] is a flat vector of %d numbers, not one row of class probabilities per step tag: serve the reward model with step pooling (see the package documentation)", i, len(flat))}
			}
			return nil, fmt.Errorf("data[%d]: %v", i, err)
		}
		out[i] = rows
	}
	return out, nil
}
