package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/internal/testkit"
)

// tgiWire speaks TGI's native POST /generate (huggingface/
// text-generation-inference, docs/source/basic_tutorials/
// request_parameters.md; router/src/lib.rs GenerateRequest and
// GenerateResponse): one sample per request, so a client over it sets
// MaxN 1. It lives in this test to show that a new server API is one type
// implementing Wire and one entry in wires.
type tgiWire struct{ prompt *PromptTemplate }

func (tgiWire) Path() string { return "/generate" }

func (w tgiWire) Encode(req GenerateRequest, n int, seed *int64) ([]byte, error) {
	if n != 1 {
		return nil, fmt.Errorf("TGI's /generate answers one sample per request, asked for %d (set MaxN 1)", n)
	}
	inputs, err := w.prompt.Render(req.Question, req.Prefix)
	if err != nil {
		return nil, err
	}
	params := map[string]any{"max_new_tokens": req.Params.MaxTokens, "temperature": req.Params.Temperature,
		"do_sample": req.Params.Temperature > 0, "details": true, "stop": req.Params.Stop}
	if seed != nil {
		params["seed"] = *seed
	}
	return json.Marshal(map[string]any{"inputs": inputs, "parameters": params})
}

func (tgiWire) Decode(body []byte, n int) (GenerateResult, error) {
	var r struct {
		GeneratedText string `json:"generated_text"`
		Details       struct {
			FinishReason    string `json:"finish_reason"`
			GeneratedTokens int    `json:"generated_tokens"`
			Prefill         []any  `json:"prefill"`
		} `json:"details"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return GenerateResult{}, fmt.Errorf("invalid JSON response: %w", err)
	}
	finish := map[string]string{"eos_token": "stop", "stop_sequence": "stop"}[r.Details.FinishReason]
	if finish == "" {
		finish = r.Details.FinishReason
	}
	return GenerateResult{Samples: []Sample{{Text: r.GeneratedText, FinishReason: finish}},
		PromptTokens: len(r.Details.Prefill), CompletionTokens: r.Details.GeneratedTokens}, nil
}

func TestWireSeamTakesANewServerAPI(t *testing.T) {
	const apiTGI API = "tgi"
	saved := wires
	t.Cleanup(func() { wires = saved })
	wires = append(slices.Clone(wires), wireEntry{apiTGI, func(opt ClientOptions) (Wire, error) {
		p, err := ParsePromptTemplate(opt.PromptTemplate)
		return tgiWire{p}, err
	}})

	tgi := testkit.NewHTTPRecorder(t, func(w http.ResponseWriter, r *http.Request, body []byte, _ int) {
		var req struct {
			Parameters struct {
				Seed int64 `json:"seed"`
			} `json:"parameters"`
		}
		if r.URL.Path != "/generate" || json.Unmarshal(body, &req) != nil {
			http.Error(w, "bad request", http.StatusUnprocessableEntity)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"generated_text": fmt.Sprintf(" sample with seed %d", req.Parameters.Seed),
			"details": map[string]any{"finish_reason": "eos_token", "generated_tokens": 5, "prefill": []any{}}})
	})
	if api, err := ParseAPI("TGI"); err != nil || api != apiTGI {
		t.Fatalf("ParseAPI(TGI) = %q, %v", api, err)
	}
	opt := fastOpts(tgi.URL)
	opt.API, opt.MaxN = apiTGI, 1
	res := mustGenerate(t, mustClient(t, opt))
	if tgi.Attempts.Load() != 4 || len(res.Samples) != 4 || res.CompletionTokens != 20 {
		t.Fatalf("%d requests, result %+v", tgi.Attempts.Load(), res)
	}
	for i, s := range res.Samples {
		if want := fmt.Sprintf(" sample with seed %d", 1000+i); s.Text != want || s.FinishReason != "stop" {
			t.Errorf("sample %d = %+v, want %q", i, s, want)
		}
	}
	var body map[string]any
	_ = json.Unmarshal(tgi.Body(0), &body)
	if p, _ := body["inputs"].(string); !strings.HasPrefix(p, "Question: ") {
		t.Errorf("inputs %q: want the prompt template rendered", p)
	}

	// Without MaxN 1 the wire refuses n > 1 before anything is sent.
	opt.MaxN = 0
	_, err := mustClient(t, opt).Generate(context.Background(), testRequest())
	var ae *APIError
	if !errors.As(err, &ae) || !ae.Permanent || !strings.Contains(ae.Message, "set MaxN 1") || tgi.Attempts.Load() != 4 {
		t.Errorf("n=4 over /generate: %v", err)
	}
}

func TestParseAPINamesEveryWire(t *testing.T) {
	_, err := ParseAPI("responses")
	if err == nil || err.Error() != `rollout: unknown API "responses" (want "completions" or "chat")` {
		t.Errorf("err = %v", err)
	}
}
