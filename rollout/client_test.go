package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/internal/testkit"
)

// fakeServer is an OpenAI-compatible server answering like vLLM. Each
// request is passed to handle with its 0-based arrival number; handle may
// write the response itself (and return true) or leave it to the default
// success answer.
type fakeServer struct{ *testkit.HTTPRecorder }

func newFakeServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, i int) bool) *fakeServer {
	t.Helper()
	return &fakeServer{testkit.NewHTTPRecorder(t, func(w http.ResponseWriter, r *http.Request, raw []byte, i int) {
		if handle != nil && handle(w, r, i) {
			return
		}
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		writeVLLMResponse(w, r.URL.Path, body)
	})}
}

// body decodes the body of request i.
func (fs *fakeServer) body(i int) map[string]any {
	var body map[string]any
	_ = json.Unmarshal(fs.Body(i), &body)
	return body
}

func (fs *fakeServer) url() string { return fs.URL + "/v1" }

// failFirst is a fake server whose first request is answered by first and
// every later one succeeds.
func failFirst(t *testing.T, first func(w http.ResponseWriter, r *http.Request)) *fakeServer {
	t.Helper()
	return newFakeServer(t, func(w http.ResponseWriter, r *http.Request, i int) bool {
		if i == 0 {
			first(w, r)
			return true
		}
		return false
	})
}

// wantAttempts checks how many requests reached the server.
func (fs *fakeServer) wantAttempts(t *testing.T, want int32) {
	t.Helper()
	if n := fs.Attempts.Load(); n != want {
		t.Errorf("attempts = %d, want %d", n, want)
	}
}

// mustGenerate runs testRequest through c and fails the test on an error.
func mustGenerate(t *testing.T, c *Client) GenerateResult {
	t.Helper()
	res, err := c.Generate(context.Background(), testRequest())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// writeVLLMResponse answers a decoded request the way vLLM's OpenAI server
// does: every field vLLM emits, nulls included, choices listed in reverse
// index order (clients must sort), sample i's text naming its seed.
func writeVLLMResponse(w http.ResponseWriter, path string, req map[string]any) {
	n := 1
	if v, ok := req["n"].(float64); ok {
		n = int(v)
	}
	seed := int64(0)
	if v, ok := req["seed"].(float64); ok {
		seed = int64(v)
	}
	chat := strings.HasSuffix(path, "/chat/completions")
	choices := make([]map[string]any, 0, n)
	for i := n - 1; i >= 0; i-- {
		text := fmt.Sprintf(" sample seed=%d", seed+int64(i))
		finish := "stop"
		if i%2 == 1 {
			finish = "length"
		}
		c := map[string]any{"index": i, "logprobs": nil, "finish_reason": finish, "stop_reason": nil}
		if chat {
			c["message"] = map[string]any{"role": "assistant", "reasoning_content": nil, "content": text, "tool_calls": []any{}}
		} else {
			c["text"] = text
			c["prompt_logprobs"] = nil
		}
		choices = append(choices, c)
	}
	resp := map[string]any{
		"id":      "cmpl-3ff3ee11eec0498ba55719e479b6d6bc",
		"object":  "text_completion",
		"created": 1746534178,
		"model":   req["model"],
		"choices": choices,
		"usage": map[string]any{
			"prompt_tokens":         48,
			"total_tokens":          48 + 10*n,
			"completion_tokens":     10 * n,
			"prompt_tokens_details": map[string]any{"cached_tokens": 32},
		},
		"kv_transfer_params": nil,
	}
	if chat {
		resp["id"] = "chatcmpl-9a1c0e5f5b0c4b1e8f7d6c5b4a392817"
		resp["object"] = "chat.completion"
		resp["service_tier"] = nil
		resp["system_fingerprint"] = nil
		resp["prompt_logprobs"] = nil
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// writeVLLMError writes vLLM's error body. vLLM used the flat form
// {"object":"error","message":…} before moving to the nested
// {"error":{…}} form; both are in the wild.
func writeVLLMError(w http.ResponseWriter, status int, typ, msg string, nested bool) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if nested {
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": status}})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "error", "message": msg, "type": typ, "param": nil, "code": status})
}

// fastOpts are client options with test-sized timings.
func fastOpts(base string) ClientOptions {
	return ClientOptions{
		BaseURL:     base,
		Model:       "Qwen/Qwen2.5-Math-7B",
		Timeout:     2 * time.Second,
		MaxRetries:  3,
		BackoffBase: time.Millisecond,
		BackoffMax:  5 * time.Millisecond,
	}
}

func mustClient(t *testing.T, opt ClientOptions) *Client {
	t.Helper()
	c, err := NewClient(opt)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func testRequest() GenerateRequest {
	return GenerateRequest{
		Question: "What is 2+3?",
		Prefix:   "Step 1: 2+3 = 5.\n\n",
		N:        4,
		Seed:     1000,
		Params:   SamplingParams{Temperature: 0.7, TopP: 0.95, MaxTokens: 512, Stop: []string{"\n\n\n"}},
		RouteKey: "job1/sol1",
	}
}

func checkSamples(t *testing.T, res GenerateResult, n int, seed int64) {
	t.Helper()
	if len(res.Samples) != n {
		t.Fatalf("got %d samples, want %d", len(res.Samples), n)
	}
	for i, s := range res.Samples {
		if want := fmt.Sprintf(" sample seed=%d", seed+int64(i)); s.Text != want {
			t.Errorf("sample %d = %q, want %q", i, s.Text, want)
		}
		want := "stop"
		if i%2 == 1 {
			want = "length"
		}
		if s.FinishReason != want {
			t.Errorf("sample %d finish = %q, want %q", i, s.FinishReason, want)
		}
	}
}

func TestClientCompletionsRequest(t *testing.T) {
	fs := newFakeServer(t, nil)
	opt := fastOpts(fs.url() + "/") // trailing slash is normalised
	opt.APIKey = "sk-test"
	c := mustClient(t, opt)
	if c.BaseURL() != fs.url() {
		t.Fatalf("BaseURL = %q, want %q", c.BaseURL(), fs.url())
	}
	req := testRequest()
	res, err := c.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	checkSamples(t, res, 4, 1000)
	if res.PromptTokens != 48 || res.CompletionTokens != 40 || res.CachedTokens != 32 {
		t.Errorf("usage = %d/%d/%d, want 48/40/32", res.PromptTokens, res.CompletionTokens, res.CachedTokens)
	}
	if res.Backend != fs.url() {
		t.Errorf("Backend = %q", res.Backend)
	}
	if fs.Path(0) != "/v1/completions" {
		t.Errorf("path = %q", fs.Path(0))
	}
	if got := fs.Header(0).Get("Authorization"); got != "Bearer sk-test" {
		t.Errorf("Authorization = %q", got)
	}
	if got := fs.Header(0).Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q", got)
	}
	b := fs.body(0)
	wantPrompt := "Question: What is 2+3?\nPlease reason step by step, and put your final answer within \\boxed{}.\n\nAnswer: Step 1: 2+3 = 5.\n\n"
	if b["prompt"] != wantPrompt {
		t.Errorf("prompt = %q, want %q", b["prompt"], wantPrompt)
	}
	for k, want := range map[string]any{
		"model": "Qwen/Qwen2.5-Math-7B", "n": 4.0, "seed": 1000.0, "temperature": 0.7, "top_p": 0.95, "max_tokens": 512.0,
	} {
		if b[k] != want {
			t.Errorf("%s = %v, want %v", k, b[k], want)
		}
	}
	if stop, _ := b["stop"].([]any); len(stop) != 1 || stop[0] != "\n\n\n" {
		t.Errorf("stop = %#v", b["stop"])
	}
	for _, k := range []string{"messages", "continue_final_message", "add_generation_prompt"} {
		if _, ok := b[k]; ok {
			t.Errorf("completions body carries %q", k)
		}
	}
}

func TestClientZeroTemperatureAndSeedAreSent(t *testing.T) {
	fs := newFakeServer(t, nil)
	c := mustClient(t, fastOpts(fs.url()))
	req := testRequest()
	req.Seed, req.Params = 0, SamplingParams{}
	if _, err := c.Generate(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	b := fs.body(0)
	if b["seed"] != 0.0 || b["temperature"] != 0.0 {
		t.Errorf("seed/temperature = %v/%v, want 0/0", b["seed"], b["temperature"])
	}
	for _, k := range []string{"top_p", "max_tokens", "stop"} {
		if _, ok := b[k]; ok {
			t.Errorf("unset %s was sent: %v", k, b[k])
		}
	}
	if _, ok := fs.Header(0)["Authorization"]; ok {
		t.Error("Authorization sent without an API key")
	}
}

func TestClientChatRequest(t *testing.T) {
	fs := newFakeServer(t, nil)
	opt := fastOpts(fs.url())
	opt.API = APIChat
	c := mustClient(t, opt)

	req := testRequest()
	res, err := c.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	checkSamples(t, res, 4, 1000)
	if res.CachedTokens != 32 {
		t.Errorf("CachedTokens = %d", res.CachedTokens)
	}
	if fs.Path(0) != "/v1/chat/completions" {
		t.Errorf("path = %q", fs.Path(0))
	}
	b := fs.body(0)
	msgs, _ := b["messages"].([]any)
	if len(msgs) != 2 {
		t.Fatalf("messages = %#v", b["messages"])
	}
	m0, m1 := msgs[0].(map[string]any), msgs[1].(map[string]any)
	if m0["role"] != "user" || m0["content"] != req.Question || m1["role"] != "assistant" || m1["content"] != req.Prefix {
		t.Errorf("messages = %#v", msgs)
	}
	if b["continue_final_message"] != true || b["add_generation_prompt"] != false {
		t.Errorf("continue_final_message/add_generation_prompt = %v/%v, want true/false", b["continue_final_message"], b["add_generation_prompt"])
	}
	if _, ok := b["prompt"]; ok {
		t.Error("chat body carries prompt")
	}
	if b["n"] != 4.0 || b["seed"] != 1000.0 {
		t.Errorf("n/seed = %v/%v", b["n"], b["seed"])
	}

	// An empty prefix starts a fresh assistant turn.
	req.Prefix = ""
	if _, err := c.Generate(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	b = fs.body(1)
	msgs, _ = b["messages"].([]any)
	if len(msgs) != 1 || msgs[0].(map[string]any)["role"] != "user" {
		t.Errorf("messages = %#v", b["messages"])
	}
	if _, ok := b["continue_final_message"]; ok {
		t.Errorf("continue_final_message sent with an empty prefix: %v", b["continue_final_message"])
	}
	if b["add_generation_prompt"] != true {
		t.Errorf("add_generation_prompt = %v, want true", b["add_generation_prompt"])
	}
}

func TestClientCustomPromptTemplate(t *testing.T) {
	fs := newFakeServer(t, nil)
	opt := fastOpts(fs.url())
	opt.PromptTemplate = "<|user|>{{.Question}}<|assistant|>{{.Prefix}}"
	c := mustClient(t, opt)
	if _, err := c.Generate(context.Background(), testRequest()); err != nil {
		t.Fatal(err)
	}
	if got, want := fs.body(0)["prompt"], "<|user|>What is 2+3?<|assistant|>Step 1: 2+3 = 5.\n\n"; got != want {
		t.Errorf("prompt = %q, want %q", got, want)
	}
}

func TestNewClientValidation(t *testing.T) {
	ok := fastOpts("http://127.0.0.1:8000/v1")
	cases := []struct {
		name string
		mod  func(*ClientOptions)
		want string
	}{
		{"scheme", func(o *ClientOptions) { o.BaseURL = "ftp://h/v1" }, "http or https"},
		{"no scheme", func(o *ClientOptions) { o.BaseURL = "127.0.0.1:8000/v1" }, "BaseURL"},
		{"empty url", func(o *ClientOptions) { o.BaseURL = "" }, "BaseURL is required"},
		{"model", func(o *ClientOptions) { o.Model = "" }, "Model is required"},
		{"api", func(o *ClientOptions) { o.API = "responses" }, "unknown API"},
		{"template parse", func(o *ClientOptions) { o.PromptTemplate = "{{.Question" }, "PromptTemplate"},
		{"template field", func(o *ClientOptions) { o.PromptTemplate = "{{.Answer}}{{.Prefix}}" }, "PromptTemplate"},
		{"template tail", func(o *ClientOptions) { o.PromptTemplate = "{{.Question}}\n{{.Prefix}}\n" }, "must end with {{.Prefix}}"},
		{"template twice", func(o *ClientOptions) { o.PromptTemplate = "{{.Prefix}}{{.Question}}{{.Prefix}}" }, "exactly once"},
		{"chat template", func(o *ClientOptions) { o.API = APIChat; o.PromptTemplate = "{{.Prefix}}" }, "completions API only"},
		{"backoff", func(o *ClientOptions) { o.BackoffBase, o.BackoffMax = time.Second, time.Millisecond }, "BackoffMax"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.mod(&o)
			_, err := NewClient(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	c := mustClient(t, ClientOptions{BaseURL: "https://gpu-3.internal:8000/v1///", Model: "m"})
	if c.BaseURL() != "https://gpu-3.internal:8000/v1" || c.timeout != DefaultTimeout || c.retry.MaxRetries != DefaultMaxRetries ||
		c.retry.Backoff != (Backoff{Base: DefaultBackoffBase, Max: DefaultBackoffMax}) || c.api != APICompletions {
		t.Errorf("defaults not applied: %+v", c)
	}
	for in, want := range map[string]API{"": APICompletions, "completions": APICompletions, "Chat": APIChat} {
		if got, err := ParseAPI(in); err != nil || got != want {
			t.Errorf("ParseAPI(%q) = %q, %v", in, got, err)
		}
	}
}

// The names --api lists and ParseAPI accepts come from wires alone: a new
// wire needs no edit elsewhere.
func TestAPINamesFollowTheWireTable(t *testing.T) {
	if got := APINames(); !slices.Equal(got, []string{"completions", "chat"}) {
		t.Errorf("APINames() = %q", got)
	}
	saved := wires
	t.Cleanup(func() { wires = saved })
	wires = append(slices.Clone(wires), wireEntry{"tgi", nil})
	if got := APINames(); !slices.Equal(got, []string{"completions", "chat", "tgi"}) {
		t.Errorf("APINames() with a TGI wire = %q", got)
	}
	if _, err := ParseAPI("responses"); err == nil || err.Error() != `rollout: unknown API "responses" (want "completions", "chat" or "tgi")` {
		t.Errorf("err = %v", err)
	}
}

func TestClientRequestValidationIsPermanent(t *testing.T) {
	fs := newFakeServer(t, nil)
	c := mustClient(t, fastOpts(fs.url()))
	for _, mod := range []func(*GenerateRequest){
		func(r *GenerateRequest) { r.N = 0 },
		func(r *GenerateRequest) { r.Params.TopP = 1.5 },
		func(r *GenerateRequest) { r.Params.Temperature = -1 },
		func(r *GenerateRequest) { r.Params.MaxTokens = -1 },
	} {
		req := testRequest()
		mod(&req)
		if _, err := c.Generate(context.Background(), req); !IsPermanent(err) {
			t.Errorf("err = %v, want permanent", err)
		}
	}
	if n := fs.Attempts.Load(); n != 0 {
		t.Errorf("invalid requests reached the server %d times", n)
	}
}

func TestClientRetries500ThenSuccess(t *testing.T) {
	fs := failFirst(t, func(w http.ResponseWriter, r *http.Request) {
		writeVLLMError(w, http.StatusInternalServerError, "InternalServerError", "engine step failed", true)
	})
	checkSamples(t, mustGenerate(t, mustClient(t, fastOpts(fs.url()))), 4, 1000)
	fs.wantAttempts(t, 2)
	// A retry asks for the same samples.
	if fs.body(0)["seed"] != fs.body(1)["seed"] || fs.body(0)["prompt"] != fs.body(1)["prompt"] {
		t.Error("retry changed the request")
	}
}

func TestClient429HonoursRetryAfter(t *testing.T) {
	fs := failFirst(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		writeVLLMError(w, http.StatusTooManyRequests, "TooManyRequests", "too many requests", false)
	})
	start := time.Now()
	mustGenerate(t, mustClient(t, fastOpts(fs.url())))
	el := time.Since(start)
	if el < time.Second || el > 1500*time.Millisecond {
		t.Errorf("waited %v, want about 1s (Retry-After: 1)", el)
	}
	fs.wantAttempts(t, 2)
}

func TestClientTruncatedJSONThenSuccess(t *testing.T) {
	fs := failFirst(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" part`)
	})
	checkSamples(t, mustGenerate(t, mustClient(t, fastOpts(fs.url()))), 4, 1000)
	fs.wantAttempts(t, 2)
}

func TestClientConnectionDroppedMidBodyThenSuccess(t *testing.T) {
	fs := failFirst(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4096")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"id":"cmpl-1","choices":[`)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	mustGenerate(t, mustClient(t, fastOpts(fs.url())))
	fs.wantAttempts(t, 2)
}

func TestClientWrongChoiceCountIsRetried(t *testing.T) {
	fs := failFirst(t, func(w http.ResponseWriter, r *http.Request) {
		writeVLLMResponse(w, r.URL.Path, map[string]any{"n": 1.0, "seed": 1000.0})
	})
	checkSamples(t, mustGenerate(t, mustClient(t, fastOpts(fs.url()))), 4, 1000)
	fs.wantAttempts(t, 2)
}

func TestClientTimeoutThenSuccess(t *testing.T) {
	fs := failFirst(t, func(w http.ResponseWriter, r *http.Request) {
		select { // hang until the client gives up
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	opt := fastOpts(fs.url())
	opt.Timeout = 150 * time.Millisecond
	start := time.Now()
	mustGenerate(t, mustClient(t, opt))
	if el := time.Since(start); el < 150*time.Millisecond || el > time.Second {
		t.Errorf("took %v, want just over the 150ms attempt timeout", el)
	}
	fs.wantAttempts(t, 2)
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestClientConnectionRefusedExhaustsRetries(t *testing.T) {
	opt := fastOpts("http://" + closedAddr(t) + "/v1")
	opt.MaxRetries = 2
	c := mustClient(t, opt)
	_, err := c.Generate(context.Background(), testRequest())
	var ae *APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want *APIError", err)
	}
	if ae.Permanent || IsPermanent(err) {
		t.Error("connection refused reported as permanent")
	}
	if ae.Attempts != 3 {
		t.Errorf("Attempts = %d, want 3", ae.Attempts)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err = %v does not wrap ECONNREFUSED", err)
	}
}

func TestClientRetriesExhaustedOn503(t *testing.T) {
	fs := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, i int) bool {
		writeVLLMError(w, http.StatusServiceUnavailable, "ServiceUnavailable", "server overloaded", true)
		return true
	})
	c := mustClient(t, fastOpts(fs.url()))
	_, err := c.Generate(context.Background(), testRequest())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Permanent || ae.Status != 503 || ae.Message != "server overloaded" {
		t.Fatalf("err = %#v", err)
	}
	if n := fs.Attempts.Load(); n != 4 {
		t.Errorf("attempts = %d, want 1 + MaxRetries = 4", n)
	}
}

// TestClientErrorsNotRetried: 400 and 422 are the request's fault
// (IsPermanent); 401, 403 and 404 blame the backend, not the request, and
// hand the task back (IsBackendFault). Neither is retried, and the error
// carries the server's words.
func TestClientErrorsNotRetried(t *testing.T) {
	cases := []struct {
		status       int
		write        func(w http.ResponseWriter)
		msg          string
		backendFault bool
	}{
		{400, func(w http.ResponseWriter) {
			writeVLLMError(w, 400, "BadRequestError", "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.", true)
		}, "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.", false},
		{422, func(w http.ResponseWriter) { w.WriteHeader(422) }, "Unprocessable Entity", false},
		{404, func(w http.ResponseWriter) {
			writeVLLMError(w, 404, "NotFoundError", "The model `Qwen/Qwen2.5-Math-7B` does not exist.", false)
		}, "The model `Qwen/Qwen2.5-Math-7B` does not exist.", true},
		// vLLM's AuthenticationMiddleware body.
		{401, func(w http.ResponseWriter) {
			w.WriteHeader(401)
			_, _ = io.WriteString(w, `{"error":"Unauthorized"}`)
		}, "Unauthorized", true},
		{403, func(w http.ResponseWriter) {
			w.WriteHeader(403)
			_, _ = io.WriteString(w, "  Forbidden:\n  bad token  ")
		}, "Forbidden: bad token", true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			fs := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, i int) bool {
				tc.write(w)
				return true
			})
			c := mustClient(t, fastOpts(fs.url()))
			_, err := c.Generate(context.Background(), testRequest())
			var ae *APIError
			if !errors.As(err, &ae) || IsBackendFault(err) != tc.backendFault || IsPermanent(err) == tc.backendFault {
				t.Fatalf("err = %v, want a *APIError with backend fault %v", err, tc.backendFault)
			}
			if ae.Status != tc.status || ae.Message != tc.msg || ae.Backend != fs.url() {
				t.Errorf("APIError = %+v, want status %d message %q", ae, tc.status, tc.msg)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Error() = %q lacks the server message", err)
			}
			fs.wantAttempts(t, 1)
		})
	}
}

func TestClientContextCancellation(t *testing.T) {
	t.Run("in flight", func(t *testing.T) {
		fs := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, i int) bool {
			<-r.Context().Done()
			return true
		})
		c := mustClient(t, fastOpts(fs.url()))
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := c.Generate(ctx, testRequest())
		if !errors.Is(err, context.Canceled) || IsPermanent(err) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if el := time.Since(start); el > 500*time.Millisecond {
			t.Errorf("returned after %v", el)
		}
		if n := fs.Attempts.Load(); n != 1 {
			t.Errorf("attempts = %d, want 1", n)
		}
	})
	t.Run("during backoff", func(t *testing.T) {
		fs := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, i int) bool {
			w.Header().Set("Retry-After", "30")
			writeVLLMError(w, 429, "TooManyRequests", "slow down", true)
			return true
		})
		c := mustClient(t, fastOpts(fs.url()))
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Generate(ctx, testRequest())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		if el := time.Since(start); el > 500*time.Millisecond {
			t.Errorf("returned after %v", el)
		}
	})
}

func TestClientMaxNSplitsBySeed(t *testing.T) {
	fs := newFakeServer(t, nil)
	opt := fastOpts(fs.url())
	opt.MaxN = 2
	c := mustClient(t, opt)
	req := testRequest()
	req.N = 5
	res, err := c.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	checkSamples(t, res, 5, 1000)
	if n := fs.Attempts.Load(); n != 3 {
		t.Fatalf("requests = %d, want 3", n)
	}
	got := map[float64]float64{}
	for i := range 3 {
		b := fs.body(i)
		got[b["seed"].(float64)] = b["n"].(float64)
	}
	if want := map[float64]float64{1000: 2, 1002: 2, 1004: 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("seed→n = %v, want %v", got, want)
	}
	if res.PromptTokens != 3*48 || res.CompletionTokens != 50 || res.CachedTokens != 3*32 {
		t.Errorf("usage = %d/%d/%d", res.PromptTokens, res.CompletionTokens, res.CachedTokens)
	}
}
