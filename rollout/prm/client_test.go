package prm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/internal/testkit"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/prm"
)

// poolingServer is a fake vLLM pooling server. Each request is passed to
// handle with its 0-based arrival number; handle may answer itself (and
// return true) or leave it to rows, which gives the rows of the one input.
type poolingServer struct{ *testkit.HTTPRecorder }

func newPoolingServer(t testing.TB, rows func(input string) [][]float64, handle func(w http.ResponseWriter, i int) bool) *poolingServer {
	t.Helper()
	return &poolingServer{testkit.NewHTTPRecorder(t, func(w http.ResponseWriter, r *http.Request, body []byte, i int) {
		if handle != nil && handle(w, i) {
			return
		}
		req := decodePooling(body)
		input, _ := req.Input.(string)
		writePooling(w, req.Model, rows(input))
	})}
}

type poolingBody struct {
	Model string `json:"model"`
	Input any    `json:"input"`
}

func decodePooling(body []byte) poolingBody {
	var req poolingBody
	_ = json.Unmarshal(body, &req)
	return req
}

// writePooling answers with vLLM's pooling response for one input.
func writePooling(w http.ResponseWriter, model string, rows [][]float64) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"id": "pool-1", "object": "list", "created": 1730000000, "model": model,
		"data":  []map[string]any{{"index": 0, "object": "pooling", "data": rows}},
		"usage": map[string]any{"prompt_tokens": 10, "total_tokens": 10, "completion_tokens": 0},
	})
}

func (ps *poolingServer) input(i int) string {
	input, _ := decodePooling(ps.Body(i)).Input.(string)
	return input
}

// fixedRows answers every input with the given [p0, p1] rows.
func fixedRows(rows ...[]float64) func(string) [][]float64 {
	return func(string) [][]float64 { return rows }
}

func newClient(t testing.TB, base string, opt prm.ClientOptions) *prm.Client {
	t.Helper()
	opt.BaseURL = base
	if opt.Model == "" {
		opt.Model = "prm-7b"
	}
	if opt.BackoffBase == 0 {
		opt.BackoffBase = time.Millisecond
		opt.BackoffMax = 5 * time.Millisecond
	}
	c, err := prm.NewClient(opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pooled is a layout scored through /pooling, class 0 positive.
var pooled = prm.Custom(" <step>", 0)

const question = "Janet has 3 apples and buys 4 more. How many apples does she have?"

var steps = []string{"She starts with 3 apples.", "3 + 4 = 7.\nSo she has 7.", `The answer is \boxed{7}.`}

func TestScoreClientLayoutsSendExactInput(t *testing.T) {
	rows := [][]float64{{0.9, 0.1}, {0.25, 0.75}, {0.5, 0.5}}
	for _, c := range []struct {
		layout prm.Layout
		want   string
		scores []float64
	}{
		{
			layout: prm.QwenPRM,
			want: "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n" +
				"<|im_start|>user\n" + question + "<|im_end|>\n" +
				"<|im_start|>assistant\nShe starts with 3 apples.<extra_0>3 + 4 = 7.\nSo she has 7.<extra_0>The answer is \\boxed{7}.<extra_0><|im_end|><|endoftext|>",
			scores: []float64{0.1, 0.75, 0.5},
		},
		{
			layout: prm.Custom(" <step>", 1),
			want:   question + "\nShe starts with 3 apples. <step>\n3 + 4 = 7.\nSo she has 7. <step>\nThe answer is \\boxed{7}. <step>",
			scores: []float64{0.1, 0.75, 0.5},
		},
	} {
		t.Run(string(c.layout.Name), func(t *testing.T) {
			ps := newPoolingServer(t, fixedRows(rows...), nil)
			cl := newClient(t, ps.URL+"/v1", prm.ClientOptions{APIKey: "secret"})
			got, err := cl.ScoreSteps(context.Background(), c.layout, question, steps)
			if err != nil {
				t.Fatal(err)
			}
			if in := ps.input(0); in != c.want {
				t.Errorf("input\n got %q\nwant %q", in, c.want)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.scores) {
				t.Errorf("scores %v, want %v", got, c.scores)
			}
			model, auth := decodePooling(ps.Body(0)).Model, ps.Header(0).Get("Authorization")
			if ps.Path(0) != "/pooling" || model != "prm-7b" || auth != "Bearer secret" {
				t.Errorf("path %q model %q auth %q", ps.Path(0), model, auth)
			}
		})
	}
}

func TestScoreClientBaseURLForms(t *testing.T) {
	ps := newPoolingServer(t, fixedRows([]float64{0.5, 0.5}), nil)
	for _, base := range []string{ps.URL, ps.URL + "/", ps.URL + "/v1", ps.URL + "/v1/"} {
		cl := newClient(t, base, prm.ClientOptions{})
		if cl.BaseURL() != ps.URL {
			t.Errorf("%s: base %s", base, cl.BaseURL())
		}
		if _, err := cl.ScoreSteps(context.Background(), pooled, "q", []string{"s"}); err != nil {
			t.Errorf("%s: %v", base, err)
		}
	}
	for _, p := range ps.Paths() {
		if p != "/pooling" {
			t.Errorf("path %q", p)
		}
	}
	for _, bad := range []string{"", "ftp://x", "http://", "http://h/?q=1"} {
		if _, err := prm.NewClient(prm.ClientOptions{BaseURL: bad, Model: "m"}); err == nil {
			t.Errorf("base %q accepted", bad)
		}
	}
	if _, err := prm.NewClient(prm.ClientOptions{BaseURL: ps.URL}); err == nil {
		t.Error("missing model accepted")
	}
}

func TestScoreClientWrongCountIsPermanent(t *testing.T) {
	ps := newPoolingServer(t, fixedRows([]float64{0.9, 0.1}, []float64{0.8, 0.2}), nil)
	cl := newClient(t, ps.URL, prm.ClientOptions{})
	_, err := cl.ScoreSteps(context.Background(), pooled, question, steps)
	if err == nil || !strings.Contains(err.Error(), "expected 3 step scores (one per step tag), got 2") {
		t.Fatalf("error %v", err)
	}
	if !prm.IsPermanent(err) || ps.Attempts.Load() != 1 {
		t.Errorf("permanent %v after %d attempts", prm.IsPermanent(err), ps.Attempts.Load())
	}
}

func TestScoreClientPermanent4xxCarriesMessage(t *testing.T) {
	const msg = "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens."
	ps := newPoolingServer(t, nil, func(w http.ResponseWriter, _ int) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error": {"message": %q, "type": "BadRequestError", "param": null, "code": 400}}`, msg)
		return true
	})
	cl := newClient(t, ps.URL, prm.ClientOptions{})
	_, err := cl.ScoreSteps(context.Background(), prm.QwenPRM, question, steps)
	var ae *prm.APIError
	if !errors.As(err, &ae) || !ae.Permanent || ae.Status != 400 || ae.Message != msg || ae.Attempts != 1 || ae.Backend != cl.BaseURL() {
		t.Fatalf("error %#v", err)
	}
	if err.Error() != "prm: "+cl.BaseURL()+": 400 Bad Request: "+msg || ps.Attempts.Load() != 1 {
		t.Errorf("%v after %d attempts", err, ps.Attempts.Load())
	}
	// One error type serves both clients: a caller that knows the rollout
	// client's errors knows these.
	var re *rollout.APIError
	if !errors.As(err, &re) || re != ae || !rollout.IsPermanent(err) || rollout.IsBackendFault(err) {
		t.Errorf("a PRM error is not a rollout.APIError: %v", err)
	}
}

// threeStepRows answer the three steps of the test solution.
var threeStepRows = fixedRows([]float64{0.9, 0.1}, []float64{0.6, 0.4}, []float64{0.7, 0.3})

// mustScore scores the test solution on ps with default options.
func mustScore(t *testing.T, ps *poolingServer) []float64 {
	t.Helper()
	got, err := newClient(t, ps.URL, prm.ClientOptions{}).ScoreSteps(context.Background(), pooled, question, steps)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestScoreClientRetries5xxThenSucceeds(t *testing.T) {
	ps := newPoolingServer(t, threeStepRows, func(w http.ResponseWriter, i int) bool {
		switch i {
		case 0:
			http.Error(w, "upstream crashed", http.StatusInternalServerError)
		case 1:
			w.WriteHeader(http.StatusBadGateway)
		default:
			return false
		}
		return true
	})
	got := mustScore(t, ps)
	if fmt.Sprint(got) != "[0.9 0.6 0.7]" || ps.Attempts.Load() != 3 {
		t.Errorf("scores %v after %d attempts", got, ps.Attempts.Load())
	}
	if ps.input(0) != ps.input(2) {
		t.Error("a retry sent another input")
	}
}

func TestScoreClientRetriesTruncatedJSON(t *testing.T) {
	ps := newPoolingServer(t, threeStepRows, func(w http.ResponseWriter, i int) bool {
		if i == 0 {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id": "pool-1", "object": "list", "data": [{"index": 0, "object": "pooling", "data": [[0.9, 0.`)
			return true
		}
		return false
	})
	got := mustScore(t, ps)
	if len(got) != 3 || ps.Attempts.Load() != 2 {
		t.Errorf("scores %v after %d attempts", got, ps.Attempts.Load())
	}

	// Truncated every time: a transient failure that outlasts the retries.
	always := newPoolingServer(t, nil, func(w http.ResponseWriter, _ int) bool {
		_, _ = io.WriteString(w, `{"data": [`)
		return true
	})
	_, err := newClient(t, always.URL, prm.ClientOptions{MaxRetries: 2}).ScoreSteps(context.Background(), pooled, question, steps)
	var ae *prm.APIError
	if !errors.As(err, &ae) || ae.Permanent || ae.Attempts != 3 || !strings.Contains(ae.Message, "invalid JSON") {
		t.Fatalf("error %v", err)
	}
}

func TestScoreClientHonoursRetryAfter(t *testing.T) {
	ps := newPoolingServer(t, fixedRows([]float64{0.5, 0.5}), func(w http.ResponseWriter, i int) bool {
		if i == 0 {
			w.Header().Set("Retry-After", "0.3")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	})
	cl := newClient(t, ps.URL, prm.ClientOptions{})
	start := time.Now()
	if _, err := cl.ScoreSteps(context.Background(), pooled, "q", []string{"s"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("retried after %v, before Retry-After", d)
	}
}

func TestScoreClientRetriesTimeouts(t *testing.T) {
	ps := newPoolingServer(t, fixedRows([]float64{0.5, 0.5}), func(w http.ResponseWriter, i int) bool {
		if i == 0 {
			time.Sleep(300 * time.Millisecond)
		}
		return false
	})
	cl := newClient(t, ps.URL, prm.ClientOptions{Timeout: 100 * time.Millisecond})
	if _, err := cl.ScoreSteps(context.Background(), pooled, "q", []string{"s"}); err != nil {
		t.Fatal(err)
	}
	if ps.Attempts.Load() != 2 {
		t.Errorf("%d attempts", ps.Attempts.Load())
	}
}

func TestScoreClientRejectsBadAnswersAndInputs(t *testing.T) {
	for _, c := range []struct {
		name string
		data string
		want string
	}{
		{"logits", `[[2.5, -1.0]]`, "not a probability"},
		{"flat vector", `[0.1, 0.9]`, "flat vector"},
		{"too few classes", `[[1.0]]`, "positive class index is 1"},
		{"base64", `"AAAA"`, "base64"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps := newPoolingServer(t, nil, func(w http.ResponseWriter, _ int) bool {
				fmt.Fprintf(w, `{"object": "list", "data": [{"index": 0, "object": "pooling", "data": %s}], "usage": {}}`, c.data)
				return true
			})
			cl := newClient(t, ps.URL, prm.ClientOptions{})
			_, err := cl.ScoreSteps(context.Background(), prm.QwenPRM, "q", []string{"s"})
			if err == nil || !strings.Contains(err.Error(), c.want) || !prm.IsPermanent(err) || ps.Attempts.Load() != 1 {
				t.Fatalf("error %v (permanent %v, %d attempts)", err, prm.IsPermanent(err), ps.Attempts.Load())
			}
		})
	}

	ps := newPoolingServer(t, fixedRows([]float64{0.5, 0.5}), nil)
	cl := newClient(t, ps.URL, prm.ClientOptions{})
	for _, c := range []struct {
		layout   prm.Layout
		question string
		steps    []string
		want     string
	}{
		{prm.MathShepherd, "q", []string{"a ки b"}, "step 0 contains the step tag"},
		{prm.QwenPRM, "q<extra_0>", []string{"a"}, "question contains the step tag"},
		{prm.MathShepherd, "q", nil, "no steps"},
		{prm.Custom("", 0), "q", []string{"a"}, "step tag must not be empty"},
		{prm.Layout{Name: prm.LayoutQwenPRM, StepTag: "<extra_0>", PositiveIndex: 0}, "q", []string{"a"}, "positive index"},
	} {
		_, err := cl.ScoreSteps(context.Background(), c.layout, c.question, c.steps)
		if err == nil || !strings.Contains(err.Error(), c.want) || !prm.IsPermanent(err) {
			t.Errorf("%v %q %q: error %v", c.layout, c.question, c.steps, err)
		}
	}
	if ps.Attempts.Load() != 0 {
		t.Errorf("invalid inputs sent %d requests", ps.Attempts.Load())
	}
}

func TestScoreClientCancel(t *testing.T) {
	ps := newPoolingServer(t, nil, func(w http.ResponseWriter, _ int) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	cl := newClient(t, ps.URL, prm.ClientOptions{BackoffBase: 50 * time.Millisecond, BackoffMax: 50 * time.Millisecond, MaxRetries: 100})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	_, err := cl.ScoreSteps(ctx, pooled, "q", []string{"s"})
	if !errors.Is(err, context.DeadlineExceeded) || prm.IsPermanent(err) {
		t.Fatalf("error %v", err)
	}
}

func TestScoreParseLayout(t *testing.T) {
	for _, c := range []struct {
		name, tag string
		pos       int
		want      prm.Layout
		err       string
	}{
		{"", "", -1, prm.MathShepherd, ""},
		{"math-shepherd", "", -1, prm.MathShepherd, ""},
		{"Qwen-PRM", "", -1, prm.QwenPRM, ""},
		{"custom", "<s>", 2, prm.Custom("<s>", 2), ""},
		{"custom", "", 0, prm.Layout{}, "needs a step tag"},
		{"custom", "<s>", -1, prm.Layout{}, "needs the positive class index"},
		{"custom", strings.Repeat("x", 65), 0, prm.Layout{}, "more than the limit of 64"},
		{"qwen-prm", "<s>", -1, prm.Layout{}, "applies to layout custom only"},
		{"math-shepherd", "", 1, prm.Layout{}, "applies to layout custom only"},
		{"orm", "", -1, prm.Layout{}, "unknown layout"},
	} {
		got, err := prm.ParseLayout(c.name, c.tag, c.pos)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseLayout(%q, %q, %d) error %v, want %q", c.name, c.tag, c.pos, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseLayout(%q, %q, %d) = %v, %v", c.name, c.tag, c.pos, got, err)
		}
	}
}
