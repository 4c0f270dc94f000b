package rollout_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

// bodyRecorder passes requests to the simulator and keeps their bodies,
// as sent and decoded.
type bodyRecorder struct {
	mu     sync.Mutex
	raw    []string
	bodies []map[string]any
	next   http.Handler
}

func (r *bodyRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == http.MethodPost {
		b, _ := io.ReadAll(req.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		r.mu.Lock()
		r.raw = append(r.raw, string(b))
		r.bodies = append(r.bodies, m)
		r.mu.Unlock()
		req.Body = io.NopCloser(strings.NewReader(string(b)))
	}
	r.next.ServeHTTP(w, req)
}

func TestDetectServer(t *testing.T) {
	for _, c := range []struct {
		opt  sim.Options
		want rollout.ServerInfo
	}{
		{sim.Options{}, rollout.ServerInfo{Kind: rollout.ServerVLLM, Version: sim.SimVersion}},
		{sim.Options{Flavour: sim.FlavourSGLang}, rollout.ServerInfo{Kind: rollout.ServerSGLang, Version: sim.SimVersion}},
		{sim.Options{Flavour: sim.FlavourSGLang, DeterministicInference: true}, rollout.ServerInfo{Kind: rollout.ServerSGLang, Deterministic: true, Version: sim.SimVersion}},
	} {
		url, stop, err := sim.Start(c.opt)
		if err != nil {
			t.Fatal(err)
		}
		if got := rollout.DetectServer(context.Background(), nil, url, ""); got != c.want {
			t.Errorf("%+v: detected %+v, want %+v", c.opt, got, c.want)
		}
		stop()
	}
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	if got := rollout.DetectServer(context.Background(), nil, plain.URL+"/v1", ""); got.Kind != rollout.ServerGeneric {
		t.Errorf("a server without either endpoint: %+v", got)
	}
}

const sglangQuestion = "Start with 5. Subtract 4, add 13, subtract 1, add 17, multiply by 5, then multiply by 5. What is the result?"

func generate(t *testing.T, url string, info rollout.ServerInfo) []rollout.Sample {
	t.Helper()
	c, err := rollout.NewClient(rollout.ClientOptions{BaseURL: url, Model: "sim", Server: info})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Generate(context.Background(), rollout.GenerateRequest{
		Question: sglangQuestion, Prefix: "5 - 4 = 1.\n", N: 8, Seed: 42,
		Params: rollout.SamplingParams{Temperature: 1, MaxTokens: 512},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Samples
}

func allSame(s []rollout.Sample) bool {
	for _, x := range s[1:] {
		if x.Text != s[0].Text {
			return false
		}
	}
	return true
}

// TestSGLangSamples: asked as vLLM is (n samples, one seed), a
// deterministic SGLang server returns n copies of one sample; with its
// detected profile shepherd asks one sample per request, seeds S..S+n-1,
// and gets n different samples that repeat across runs and equal what a
// vLLM server gives. Without deterministic inference no seed is sent.
func TestSGLangSamples(t *testing.T) {
	rec := &bodyRecorder{next: sim.New(sim.Options{Model: "sim", Flavour: sim.FlavourSGLang, DeterministicInference: true})}
	hs := httptest.NewServer(rec)
	defer hs.Close()
	if naive := generate(t, hs.URL+"/v1", rollout.ServerInfo{}); !allSame(naive) {
		t.Fatal("the SGLang-flavoured simulator should answer n copies of one sample to a seeded n>1 request")
	}
	info := rollout.DetectServer(context.Background(), nil, hs.URL+"/v1", "")
	rec.bodies = nil
	first := generate(t, hs.URL+"/v1", info)
	if allSame(first) {
		t.Fatalf("all %d samples of the prefix are the same text: %q", len(first), first[0].Text)
	}
	seeds := map[float64]bool{}
	for _, b := range rec.bodies {
		if n, _ := b["n"].(float64); n > 1 {
			t.Errorf("request with n=%v to a deterministic SGLang server", n)
		}
		seeds[b["seed"].(float64)] = true
	}
	if len(rec.bodies) != 8 || len(seeds) != 8 || !seeds[42] || !seeds[49] {
		t.Errorf("%d requests with seeds %v, want 8 with seeds 42..49", len(rec.bodies), seeds)
	}
	second := generate(t, hs.URL+"/v1", info)
	vllmURL, stop, err := sim.Start(sim.Options{Model: "sim"})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	vllm := generate(t, vllmURL, rollout.ServerInfo{Kind: rollout.ServerVLLM})
	for i := range first {
		if first[i] != second[i] || first[i] != vllm[i] {
			t.Errorf("sample %d: %q, again %q, on vLLM %q", i, first[i].Text, second[i].Text, vllm[i].Text)
		}
	}

	loose := &bodyRecorder{next: sim.New(sim.Options{Model: "sim", Flavour: sim.FlavourSGLang})}
	ls := httptest.NewServer(loose)
	defer ls.Close()
	info = rollout.DetectServer(context.Background(), nil, ls.URL+"/v1", "")
	if info.Seeded() || !strings.Contains(info.Describe(), "may draw different samples") {
		t.Errorf("SGLang without deterministic inference: %+v, %q", info, info.Describe())
	}
	if s := generate(t, ls.URL+"/v1", info); allSame(s) {
		t.Error("unseeded samples are all the same")
	}
	for _, b := range loose.bodies {
		if _, ok := b["seed"]; ok {
			t.Errorf("seed sent to a server that ignores it: %v", b)
		}
	}
}

func canon(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRequestExtrasOnTheWire pins the request bodies: the system prompt as
// the first chat turn or in the chatml completions prompt, chat template
// arguments and extra body fields next to shepherd's own fields.
func TestRequestExtrasOnTheWire(t *testing.T) {
	extras := rollout.RequestExtras{
		SystemPrompt:       "You are a careful mathematician.",
		ChatTemplateKwargs: map[string]any{"enable_thinking": false},
		ExtraBody:          map[string]any{"top_k": 20, "min_p": 0.05, "repetition_penalty": 1.05},
	}
	for _, c := range []struct {
		name string
		opt  rollout.ClientOptions
		want string
	}{
		{"chat", rollout.ClientOptions{API: rollout.APIChat, Extras: extras},
			`{"model":"m","messages":[{"role":"system","content":"You are a careful mathematician."},{"role":"user","content":"What is 3 + 4?"},{"role":"assistant","content":"3 + 4 = 7.\n"}],
			 "n":2,"seed":9,"temperature":0.7,"max_tokens":64,"continue_final_message":true,"add_generation_prompt":false,
			 "chat_template_kwargs":{"enable_thinking":false},"top_k":20,"min_p":0.05,"repetition_penalty":1.05}`},
		{"completions chatml", rollout.ClientOptions{PromptTemplate: rollout.ChatMLPromptTemplate,
			Extras: rollout.RequestExtras{SystemPrompt: extras.SystemPrompt, ExtraBody: extras.ExtraBody}},
			`{"model":"m","prompt":"<|im_start|>system\nYou are a careful mathematician.<|im_end|>\n<|im_start|>user\nWhat is 3 + 4?\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n<|im_start|>assistant\n3 + 4 = 7.\n",
			 "n":2,"seed":9,"temperature":0.7,"max_tokens":64,"top_k":20,"min_p":0.05,"repetition_penalty":1.05}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := &bodyRecorder{next: sim.New(sim.Options{Model: "m"})}
			hs := httptest.NewServer(rs)
			defer hs.Close()
			c.opt.BaseURL, c.opt.Model = hs.URL+"/v1", "m"
			cl, err := rollout.NewClient(c.opt)
			if err != nil {
				t.Fatal(err)
			}
			_, err = cl.Generate(context.Background(), rollout.GenerateRequest{Question: "What is 3 + 4?", Prefix: "3 + 4 = 7.\n", N: 2, Seed: 9,
				Params: rollout.SamplingParams{Temperature: 0.7, MaxTokens: 64}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rs.raw) != 1 || canon(t, rs.raw[0]) != canon(t, c.want) {
				t.Errorf("body\n got %s\nwant %s", rs.raw, canon(t, c.want))
			}
		})
	}
}

func TestRequestExtrasRefuseOwnedKeys(t *testing.T) {
	for _, k := range []string{"model", "prompt", "messages", "n", "seed", "max_tokens", "stop", "temperature", "top_p", "stream", "chat_template_kwargs"} {
		_, err := rollout.NewClient(rollout.ClientOptions{BaseURL: "http://127.0.0.1:1/v1", Model: "m",
			Extras: rollout.RequestExtras{ExtraBody: map[string]any{"top_k": 5, k: 1}}})
		if err == nil || !strings.Contains(err.Error(), `key "`+k+`" is set by shepherd`) {
			t.Errorf("extra body key %s: %v", k, err)
		}
	}
	_, err := rollout.NewClient(rollout.ClientOptions{BaseURL: "http://127.0.0.1:1/v1", Model: "m",
		Extras: rollout.RequestExtras{SystemPrompt: "be brief"}})
	if err == nil || !strings.Contains(err.Error(), "{{.System}}") {
		t.Errorf("system prompt with the default template: %v", err)
	}
	_, err = rollout.NewClient(rollout.ClientOptions{BaseURL: "http://127.0.0.1:1/v1", Model: "m",
		Extras: rollout.RequestExtras{ChatTemplateKwargs: map[string]any{"enable_thinking": false}}})
	if err == nil || !strings.Contains(err.Error(), "chat API only") {
		t.Errorf("chat template kwargs with completions: %v", err)
	}
}
