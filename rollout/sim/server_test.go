package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/rollout/openai"
)

func seed(v int64) *int64 { return &v }

func call(t *testing.T, s http.Handler, path string, body any) (*httptest.ResponseRecorder, openai.Response) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	var resp openai.Response
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("decoding %s: %v", rec.Body, err)
		}
	}
	return rec, resp
}

func complete(t *testing.T, s http.Handler, req openai.CompletionRequest) openai.Response {
	t.Helper()
	rec, resp := call(t, s, "/v1/completions", req)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	return resp
}

func keys(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func hasKeys(t *testing.T, what string, raw json.RawMessage, want ...string) {
	t.Helper()
	got := strings.Join(keys(t, raw), ",")
	for _, k := range want {
		if !strings.Contains(","+got+",", ","+k+",") {
			t.Errorf("%s: key %q missing from %s", what, k, raw)
		}
	}
}

func prompt16(prefix string) string { return "Question: " + q16 + "\nAnswer: " + prefix }

func TestSimWireCompletions(t *testing.T) {
	s := New(Options{Model: "sim"})
	rec, resp := call(t, s, "/v1/completions", openai.CompletionRequest{Model: "sim", Prompt: prompt16("16 - 3 = 13.\n"), Sampling: openai.Sampling{N: 2, Seed: seed(1)}})
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if !strings.HasPrefix(resp.ID, "cmpl-") || resp.Object != "text_completion" || resp.Model != "sim" || resp.Created == 0 || len(resp.Choices) != 2 {
		t.Fatalf("response %+v", resp)
	}
	for i, c := range resp.Choices {
		if c.Index != i || c.FinishReason != "stop" || c.Message != nil || !strings.HasPrefix(canonical(c.Text), "13 + 7 = ") || !strings.Contains(c.Text, "The answer is ") {
			t.Errorf("choice %d = %+v", i, c)
		}
	}
	u := resp.Usage
	if u.PromptTokens != countTokens(prompt16("16 - 3 = 13.\n")) || u.CompletionTokens <= 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens || u.PromptTokensDetails == nil {
		t.Errorf("usage %+v", u)
	}
	var raw struct {
		Choices []json.RawMessage `json:"choices"`
		Usage   json.RawMessage   `json:"usage"`
	}
	body := rec.Body.Bytes()
	hasKeys(t, "response", body, "id", "object", "created", "model", "choices", "usage")
	_ = json.Unmarshal(body, &raw)
	hasKeys(t, "choice", raw.Choices[0], "index", "text", "logprobs", "finish_reason", "stop_reason")
	hasKeys(t, "usage", raw.Usage, "prompt_tokens", "total_tokens", "completion_tokens", "prompt_tokens_details")
	if !bytes.Contains(body, []byte(`"logprobs":null`)) || !bytes.Contains(body, []byte(`"prompt_tokens_details":{"cached_tokens":`)) {
		t.Errorf("raw body %s", body)
	}
}

func TestSimWireChat(t *testing.T) {
	s := New(Options{})
	msgs := []openai.ChatMessage{{Role: "system", Content: "Solve step by step."}, {Role: "user", Content: q16}, {Role: "assistant", Content: "16 - 3 = 13.\n13 + 7 = 20."}}
	f := false
	rec, resp := call(t, s, "/v1/chat/completions", openai.ChatRequest{Model: "whatever", Messages: msgs, ContinueFinalMessage: true, AddGenerationPrompt: &f, Sampling: openai.Sampling{Seed: seed(3), Temperature: ptr(0.0)}})
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if !strings.HasPrefix(resp.ID, "chatcmpl-") || resp.Object != "chat.completion" || resp.Model != "whatever" || len(resp.Choices) != 1 {
		t.Fatalf("response %+v", resp)
	}
	c := resp.Choices[0]
	if c.Message == nil || c.Message.Role != "assistant" || c.Content() != "\n20 * 3 = 60.\nThe answer is 60." || c.FinishReason != "stop" {
		t.Fatalf("choice %+v", c)
	}
	var raw struct {
		Choices []json.RawMessage `json:"choices"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &raw)
	hasKeys(t, "chat choice", raw.Choices[0], "index", "message", "logprobs", "finish_reason", "stop_reason")

	// Without continue_final_message a new turn starts a new solution.
	_, resp = call(t, s, "/v1/chat/completions", openai.ChatRequest{Messages: msgs[:2], Sampling: openai.Sampling{Temperature: ptr(0.0)}})
	if got := resp.Choices[0].Content(); got != "16 - 3 = 13.\n13 + 7 = 20.\n20 * 3 = 60.\nThe answer is 60." {
		t.Fatalf("new turn = %q", got)
	}
	// An erroneous assistant prefix is continued faithfully to a wrong answer.
	bad := append(append([]openai.ChatMessage{}, msgs[:2]...), openai.ChatMessage{Role: "assistant", Content: "16 - 3 = 12.\n"})
	_, resp = call(t, s, "/v1/chat/completions", openai.ChatRequest{Messages: bad, ContinueFinalMessage: true, Sampling: openai.Sampling{N: 8, Seed: seed(1)}})
	for _, c := range resp.Choices {
		if canonical(c.Content()) != "12 + 7 = 19.\n19 * 3 = 57.\nThe answer is 57." {
			t.Fatalf("continuation of an erroneous prefix = %q", c.Content())
		}
	}
	// Content given as parts, and a string stop.
	rec, resp = call(t, s, "/v1/chat/completions", map[string]any{
		"messages": []map[string]any{{"role": "user", "content": []map[string]string{{"type": "text", "text": q16}}}},
		"stop":     "\n", "temperature": 0,
	})
	if rec.Code != 200 || resp.Choices[0].Content() != "16 - 3 = 13." || resp.Choices[0].FinishReason != "stop" {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if !bytes.Contains(rec.Body.Bytes(), []byte(`"stop_reason":"\n"`)) {
		t.Errorf("stop_reason missing: %s", rec.Body)
	}
	rec, _ = call(t, s, "/v1/chat/completions", openai.ChatRequest{Messages: msgs, ContinueFinalMessage: true, AddGenerationPrompt: ptr(true)})
	if rec.Code != 400 {
		t.Errorf("continue_final_message with add_generation_prompt: status %d", rec.Code)
	}
}

func ptr[T any](v T) *T { return &v }

func TestSimSeedSemantics(t *testing.T) {
	s := New(Options{StepAccuracy: 0.5})
	p := prompt16("")
	batch := complete(t, s, openai.CompletionRequest{Prompt: p, Sampling: openai.Sampling{N: 4, Seed: seed(41)}})
	distinct := map[string]bool{}
	for i := range 4 {
		one := complete(t, s, openai.CompletionRequest{Prompt: p, Sampling: openai.Sampling{N: 1, Seed: seed(41 + int64(i))}})
		if one.Choices[0].Text != batch.Choices[i].Text {
			t.Errorf("sample %d of seed 41 = %q, sample 0 of seed %d = %q", i, batch.Choices[i].Text, 41+i, one.Choices[0].Text)
		}
		distinct[one.Choices[0].Text] = true
	}
	if len(distinct) < 2 {
		t.Error("four seeds gave one text at q = 0.5")
	}
	again := complete(t, s, openai.CompletionRequest{Prompt: p, Sampling: openai.Sampling{N: 4, Seed: seed(41)}})
	for i := range 4 {
		if again.Choices[i].Text != batch.Choices[i].Text {
			t.Error("the same request gave different samples")
		}
	}
	// A different prompt with the same seed samples differently somewhere.
	other := complete(t, s, openai.CompletionRequest{Prompt: "Q: " + q16 + "\nA:", Sampling: openai.Sampling{N: 64, Seed: seed(41)}})
	unseeded := complete(t, s, openai.CompletionRequest{Prompt: p, Sampling: openai.Sampling{N: 64}})
	if len(other.Choices) != 64 || len(unseeded.Choices) != 64 {
		t.Fatal("n = 64 not honoured")
	}
}

func TestSimStopAndMaxTokens(t *testing.T) {
	s := New(Options{})
	p := prompt16("16 - 3 = 13.\n")
	r := complete(t, s, openai.CompletionRequest{Prompt: p, Sampling: openai.Sampling{Temperature: ptr(0.0), Stop: []string{"\n"}}})
	if c := r.Choices[0]; c.Text != "13 + 7 = 20." || c.FinishReason != "stop" {
		t.Errorf("stop at newline: %+v", c)
	}
	r = complete(t, s, openai.CompletionRequest{Prompt: p, Sampling: openai.Sampling{Temperature: ptr(0.0), MaxTokens: 4}})
	if c := r.Choices[0]; c.Text != "13 + 7 =" || c.FinishReason != "length" || r.Usage.CompletionTokens != 4 {
		t.Errorf("max_tokens 4: %+v, usage %+v", c, r.Usage)
	}
	r = complete(t, s, openai.CompletionRequest{Prompt: p, Sampling: openai.Sampling{Temperature: ptr(0.0), N: 3}})
	full := "13 + 7 = 20.\n20 * 3 = 60.\nThe answer is 60."
	if c := r.Choices[2]; c.Text != full || c.FinishReason != "stop" || r.Usage.CompletionTokens != 3*(countTokens(full)+1) {
		t.Errorf("natural end: %+v, usage %+v", c, r.Usage)
	}
}

// grade returns whether a completion's final answer is the gold answer.
func grade(t *testing.T, text string, gold int64) bool {
	t.Helper()
	lines := strings.Split(text, "\n")
	l := parseLine(lines[len(lines)-1])
	if l.kind != 'a' {
		t.Fatalf("no final answer in %q", text)
	}
	return l.c == gold
}

func TestSimErrorPrefixAlwaysWrong(t *testing.T) {
	s := New(Options{StepAccuracy: 0.9})
	for _, prefix := range []string{"16 - 3 = 12.\n", "16 - 3 = 13.\n13 - 7 = 6.\n", "16 - 3 = 13.\n13 + 7 = 20.\n20 * 3 = 61.", "16 + -3 = 13.\n"} {
		r := complete(t, s, openai.CompletionRequest{Prompt: prompt16(prefix), Sampling: openai.Sampling{N: 128, Seed: seed(5)}})
		for _, c := range r.Choices {
			if grade(t, c.Text, 60) {
				t.Fatalf("prefix %q: continuation %q reaches the gold answer", prefix, c.Text)
			}
		}
	}
}

func TestSimSuccessRateMatchesQPowR(t *testing.T) {
	const q = 0.8
	s := New(Options{StepAccuracy: q})
	question := "Start with 7. Add 5, multiply by 3, subtract 4, add 9, multiply by 2, then subtract 11. What is the result?"
	gold, _ := GoldAnswer(question)
	steps := []string{"", "7 + 5 = 12.\n", "12 * 3 = 36.\n", "36 - 4 = 32.\n", "32 + 9 = 41.\n", "41 * 2 = 82.\n", "82 - 11 = 71.\n"}
	prefix := ""
	for k, st := range steps {
		prefix += st
		want, err := SuccessProbability(question, prefix, q)
		if err != nil || math.Abs(want-math.Pow(q, float64(6-k))) > 1e-12 {
			t.Fatalf("SuccessProbability after %d steps = %v, %v", k, want, err)
		}
		const reqs, n = 12, 128
		hits := 0
		for i := range reqs {
			r := complete(t, s, openai.CompletionRequest{Prompt: "Q: " + question + "\nA: " + prefix, Sampling: openai.Sampling{N: n, Seed: seed(int64(1000*k + n*i))}})
			for _, c := range r.Choices {
				if grade(t, c.Text, gold) {
					hits++
				}
			}
		}
		total := float64(reqs * n)
		rate := float64(hits) / total
		sigma := math.Sqrt(want * (1 - want) / total)
		if math.Abs(rate-want) > 4*sigma+1e-9 {
			t.Errorf("after %d steps: success rate %.4f, want %.4f ± %.4f", k, rate, want, 4*sigma)
		}
	}
}

func TestSimCachedTokens(t *testing.T) {
	s := New(Options{BlockSize: 4})
	sol := GenerateDataset(DatasetOptions{Seed: 1, Problems: 1, SolutionsPerProblem: 1, MinOps: 6, MaxOps: 6})[0]
	lines := strings.SplitAfter(sol.Solutions[0].Text, "\n")
	p0 := "Question: " + sol.Question + "\nAnswer: "
	r := complete(t, s, openai.CompletionRequest{Prompt: p0, Sampling: openai.Sampling{N: 8}})
	if c := r.Usage.CachedTokens(); c != 0 {
		t.Fatalf("first request cached %d tokens", c)
	}
	if s.Stats().PromptTokens != int64(r.Usage.PromptTokens) {
		t.Fatalf("n = 8 counted the prompt %d times", s.Stats().PromptTokens/int64(r.Usage.PromptTokens))
	}
	r = complete(t, s, openai.CompletionRequest{Prompt: p0})
	if c, n := r.Usage.CachedTokens(), r.Usage.PromptTokens; c != (n-1)/4*4 || c == 0 {
		t.Fatalf("repeated prompt: cached %d of %d", c, n)
	}
	prev := r.Usage.CachedTokens()
	prefix := p0
	for _, l := range lines[:len(lines)-1] {
		prefix += l
		r = complete(t, s, openai.CompletionRequest{Prompt: prefix})
		c, n := r.Usage.CachedTokens(), r.Usage.PromptTokens
		if c < prev || n-c > countTokens(l)+4 {
			t.Fatalf("prefix %q: cached %d of %d tokens (previous prefix had %d cached)", prefix, c, n, prev)
		}
		prev = c
	}
	st := s.Stats()
	if st.CachedTokens == 0 || st.Requests != int64(2+len(lines)-1) || st.ByStatus[200] != st.Requests {
		t.Errorf("stats %+v", st)
	}
}

func TestSimErrors(t *testing.T) {
	s := New(Options{Model: "sim", MaxN: 8, MaxModelLen: 200})
	for _, tc := range []struct {
		name, method, path, ctype, body string
		status                          int
		msg                             string
	}{
		{"unknown model", "POST", "/v1/completions", "application/json", `{"model":"gpt","prompt":"x"}`, 404, "The model `gpt` does not exist."},
		{"unknown model chat", "POST", "/v1/chat/completions", "application/json", `{"model":"gpt","messages":[{"role":"user","content":"x"}]}`, 404, "The model `gpt` does not exist."},
		{"bad json", "POST", "/v1/completions", "application/json", `{"prompt": "x",}`, 400, "invalid JSON in the request body at byte"},
		{"truncated json", "POST", "/v1/completions", "application/json", `{"prompt": "x"`, 400, "unexpected end"},
		{"wrong type", "POST", "/v1/completions", "application/json", `{"prompt": "x", "n": "two"}`, 400, `field "n" must be an integer, got a JSON string`},
		{"token ids", "POST", "/v1/completions", "application/json", `{"prompt": [1, 2]}`, 400, "prompt"},
		{"not an object", "POST", "/v1/completions", "application/json", `[1]`, 400, "must be a JSON object"},
		{"empty body", "POST", "/v1/completions", "application/json", ``, 400, "empty"},
		{"no prompt", "POST", "/v1/completions", "application/json", `{}`, 400, `"prompt" is required`},
		{"no messages", "POST", "/v1/chat/completions", "application/json", `{"messages":[]}`, 400, `"messages" must not be empty`},
		{"n too large", "POST", "/v1/completions", "application/json", `{"prompt":"x","n":9}`, 400, "n must be at most 8, got 9."},
		{"negative n", "POST", "/v1/completions", "application/json", `{"prompt":"x","n":-1}`, 400, "n must be at least 1"},
		{"negative temperature", "POST", "/v1/completions", "application/json", `{"prompt":"x","temperature":-1}`, 400, "temperature"},
		{"bad top_p", "POST", "/v1/completions", "application/json", `{"prompt":"x","top_p":0}`, 400, "top_p"},
		{"stream", "POST", "/v1/completions", "application/json", `{"prompt":"x","stream":true}`, 400, "stream"},
		{"context", "POST", "/v1/completions", "application/json", `{"prompt":"x","max_tokens":200}`, 400, "maximum context length is 200"},
		{"long prompt", "POST", "/v1/completions", "application/json", `{"prompt":"` + strings.Repeat("a ", 300) + `"}`, 400, "maximum context length is 200"},
		{"method", "GET", "/v1/completions", "", ``, 405, "Method Not Allowed"},
		{"models method", "POST", "/v1/models", "application/json", `{}`, 405, "Method Not Allowed"},
		{"media type", "POST", "/v1/completions", "text/plain", `{"prompt":"x"}`, 415, "application/json"},
		{"path", "GET", "/v2/nothing", "", ``, 404, "Not Found"},
	} {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		var eb openai.ErrorBody
		err := json.Unmarshal(rec.Body.Bytes(), &eb)
		if rec.Code != tc.status || err != nil || eb.Error == nil || !strings.Contains(eb.Text(), tc.msg) {
			t.Errorf("%s: status %d, body %s; want %d with %q", tc.name, rec.Code, rec.Body, tc.status, tc.msg)
			continue
		}
		hasKeys(t, tc.name, rec.Body.Bytes(), "error")
		var raw struct{ Error json.RawMessage }
		_ = json.Unmarshal(rec.Body.Bytes(), &raw)
		hasKeys(t, tc.name, raw.Error, "message", "type", "param", "code")
		if code, ok := eb.Error.Code.(float64); !ok || int(code) != tc.status {
			t.Errorf("%s: code %v", tc.name, eb.Error.Code)
		}
	}
	// With charset and the served model name, the request is fine.
	req := httptest.NewRequest("POST", "/v1/completions", strings.NewReader(`{"model":"sim","prompt":"`+q16+`","stop":["\n"]}`))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("valid request: %d %s", rec.Code, rec.Body)
	}
}

func TestSimModelsAndHealth(t *testing.T) {
	s := New(Options{Model: "m1", MaxModelLen: 4096})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/models", nil))
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID          string `json:"id"`
			Object      string `json:"object"`
			OwnedBy     string `json:"owned_by"`
			MaxModelLen int    `json:"max_model_len"`
		} `json:"data"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != 200 || list.Object != "list" || len(list.Data) != 1 || list.Data[0].ID != "m1" || list.Data[0].Object != "model" || list.Data[0].MaxModelLen != 4096 {
		t.Errorf("models: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	if rec.Code != 200 {
		t.Errorf("health: %d", rec.Code)
	}
}

func TestSimUnrecognisedPrompt(t *testing.T) {
	r := complete(t, New(Options{}), openai.CompletionRequest{Prompt: "What is the capital of France?", Sampling: openai.Sampling{Seed: seed(1)}})
	if r.Choices[0].Text != "\nThe answer is 0." {
		t.Errorf("text %q", r.Choices[0].Text)
	}
}

func TestSimOptionsValidate(t *testing.T) {
	for _, o := range []Options{{Rate500: 1.5}, {Rate500: 0.6, Rate429: 0.6}, {StepAccuracy: -0.1}, {BlockSize: -1}, {Latency: -1}, {FailStatus: 200}, {RateHang: math.NaN()}, {Phrasings: -1}, {Phrasings: MaxPhrasings + 1}} {
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
		if _, _, err := Start(o); err == nil {
			t.Errorf("Start(%+v) accepted", o)
		}
	}
	for _, o := range []Options{{Rate500: 0.5, Rate429: 0.5}, {Phrasings: 1}, {Phrasings: MaxPhrasings}} {
		if err := o.Validate(); err != nil {
			t.Error(err)
		}
	}
}

func TestSimFaultsAtRateOne(t *testing.T) {
	body := openai.CompletionRequest{Prompt: prompt16(""), Sampling: openai.Sampling{Seed: seed(1)}}
	for _, tc := range []struct {
		name string
		opt  Options
		code int
	}{
		{"500", Options{Rate500: 1}, 500},
		{"429", Options{Rate429: 1, RetryAfter: 7}, 429},
		{"fail first", Options{FailFirst: 1, FailStatus: 503}, 503},
	} {
		s := New(tc.opt)
		rec, _ := call(t, s, "/v1/completions", body)
		var eb openai.ErrorBody
		if rec.Code != tc.code || json.Unmarshal(rec.Body.Bytes(), &eb) != nil || eb.Error == nil {
			t.Errorf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
		if tc.code == 429 && rec.Header().Get("Retry-After") != "7" {
			t.Errorf("Retry-After = %q", rec.Header().Get("Retry-After"))
		}
		if st := s.Stats(); st.ByStatus[tc.code] != 1 || st.PromptTokens != 0 {
			t.Errorf("%s: stats %+v", tc.name, st)
		}
	}
	s := New(Options{FailFirst: 2})
	for i, want := range []int{500, 500, 200, 200} {
		if rec, _ := call(t, s, "/v1/completions", body); rec.Code != want {
			t.Errorf("FailFirst 2, request %d: status %d", i, rec.Code)
		}
	}

	// Truncation needs a real connection to show.
	s = New(Options{RateTruncated: 1})
	base, stop, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, raw := httpPost(t, http.DefaultClient, base+"/completions", body)
	var r openai.Response
	if resp.StatusCode != 200 || json.Unmarshal(raw, &r) == nil || len(raw) == 0 {
		t.Errorf("truncated: %d %q decoded without error", resp.StatusCode, raw)
	}
	if st := s.Stats(); st.FaultTruncated != 1 {
		t.Errorf("stats %+v", st)
	}

	// A hang holds the request until the client gives up.
	s = New(Options{RateHang: 1, HangFor: time.Minute})
	base, stop2, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 100 * time.Millisecond}
	b, _ := json.Marshal(body)
	start := time.Now()
	_, err = client.Post(base+"/completions", "application/json", bytes.NewReader(b))
	if err == nil || time.Since(start) > 10*time.Second {
		t.Errorf("hang: err %v after %v", err, time.Since(start))
	}
	// A short hang ends in a normal answer; stop releases a long one.
	s = New(Options{RateHang: 1, HangFor: 20 * time.Millisecond})
	if rec, _ := call(t, s, "/v1/completions", body); rec.Code != 200 {
		t.Errorf("short hang: %d", rec.Code)
	}
	done := make(chan error, 1)
	go func() {
		_, err := http.Post(base+"/completions", "application/json", bytes.NewReader(b))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	stopped := time.Now()
	stop2()
	<-done
	if d := time.Since(stopped); d > 3*time.Second {
		t.Errorf("stop waited %v for a hung request", d)
	}
}

func httpPost(t *testing.T, c *http.Client, url string, body any) (*http.Response, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

func TestSimFaultRates(t *testing.T) {
	s := New(Options{Rate500: 0.2, Rate429: 0.1, RateTruncated: 0.1, FaultSeed: 9})
	const total = 2000
	body := openai.CompletionRequest{Prompt: "Start with 2. Add 3. What is the result?", Sampling: openai.Sampling{MaxTokens: 1}}
	b, _ := json.Marshal(body)
	for range total {
		r := httptest.NewRequest("POST", "/v1/completions", bytes.NewReader(b))
		r.Header.Set("Content-Type", "application/json")
		s.ServeHTTP(httptest.NewRecorder(), r)
	}
	st := s.Stats()
	for _, c := range []struct {
		name string
		got  int64
		p    float64
	}{{"500", st.Fault500, 0.2}, {"429", st.Fault429, 0.1}, {"truncated", st.FaultTruncated, 0.1}} {
		sigma := math.Sqrt(c.p * (1 - c.p) * total)
		if math.Abs(float64(c.got)-c.p*total) > 4*sigma {
			t.Errorf("%s: %d of %d, want about %.0f", c.name, c.got, total, c.p*total)
		}
	}
	if st.Requests != total || st.ByStatus[500] != st.Fault500 || st.ByStatus[429] != st.Fault429 || st.ByStatus[200] != total-st.Fault500-st.Fault429 {
		t.Errorf("stats %+v", st)
	}
}

// With fixed seeds, a faulty server answers retried requests with the same
// samples as a clean server.
func TestSimFaultsDoNotChangeSamples(t *testing.T) {
	clean := New(Options{StepAccuracy: 0.6})
	faulty := New(Options{StepAccuracy: 0.6, Rate500: 0.3, Rate429: 0.2, RateTruncated: 0.2, FaultSeed: 4})
	for i := range 30 {
		req := openai.CompletionRequest{Prompt: prompt16(""), Sampling: openai.Sampling{N: 3, Seed: seed(int64(100 * i))}}
		want := complete(t, clean, req)
		for attempt := 0; ; attempt++ {
			if attempt > 100 {
				t.Fatal("no success in 100 attempts")
			}
			b, _ := json.Marshal(req)
			r := httptest.NewRequest("POST", "/v1/completions", bytes.NewReader(b))
			r.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			faulty.ServeHTTP(rec, r)
			var got openai.Response
			if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &got) != nil {
				continue
			}
			for k := range want.Choices {
				if got.Choices[k].Text != want.Choices[k].Text {
					t.Fatalf("request %d sample %d differs: %q vs %q", i, k, got.Choices[k].Text, want.Choices[k].Text)
				}
			}
			break
		}
	}
}

func TestSimLatency(t *testing.T) {
	s := New(Options{Latency: 20 * time.Millisecond, TokenLatency: time.Millisecond})
	start := time.Now()
	r := complete(t, s, openai.CompletionRequest{Prompt: prompt16(""), Sampling: openai.Sampling{Temperature: ptr(0.0), N: 4}})
	per := r.Usage.CompletionTokens / 4
	if d := time.Since(start); d < 20*time.Millisecond+time.Duration(per)*time.Millisecond {
		t.Errorf("answered after %v, want at least %v", d, 20*time.Millisecond+time.Duration(per)*time.Millisecond)
	}
	// A client that goes away is not answered.
	ctx, cancel := context.WithCancel(context.Background())
	b, _ := json.Marshal(openai.CompletionRequest{Prompt: "x"})
	req := httptest.NewRequest("POST", "/v1/completions", bytes.NewReader(b)).WithContext(ctx)
	req.Header.Set("Content-Type", "application/json")
	cancel()
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if st := s.Stats(); st.ByStatus[499] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestSimConcurrent(t *testing.T) {
	base, stop, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/v1") {
		t.Fatalf("base URL %q", base)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := json.Marshal(openai.CompletionRequest{Prompt: prompt16(""), Sampling: openai.Sampling{N: 4, Seed: seed(int64(i))}})
			resp, err := http.Post(base+"/completions", "application/json", bytes.NewReader(b))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var r openai.Response
			if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Choices) != 4 {
				errs <- fmt.Errorf("status %d: %v", resp.StatusCode, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestAPIKey: with APIKey, every /v1 route wants the bearer token and
// answers vLLM's bare 401 body without it; /health stays open.
func TestAPIKey(t *testing.T) {
	hs := httptest.NewServer(New(Options{Model: "m", APIKey: "sekret"}))
	defer hs.Close()
	do := func(method, path, auth string) (int, string) {
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(`{"model":"m","prompt":"Start with 1. What is the result?\n","max_tokens":8}`))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		method, path, auth string
		status             int
	}{
		{"GET", "/v1/models", "", 401},
		{"POST", "/v1/completions", "Bearer wrong", 401},
		{"POST", "/v1/completions", "Basic sekret", 401},
		{"GET", "/v1/models", "bearer sekret", 200},
		{"POST", "/v1/completions", "Bearer sekret", 200},
		{"GET", "/health", "", 200},
	} {
		status, body := do(c.method, c.path, c.auth)
		if status != c.status || (status == 401 && body != `{"error":"Unauthorized"}`) {
			t.Errorf("%s %s with %q: %d %s, want %d", c.method, c.path, c.auth, status, body, c.status)
		}
	}
}
