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
)

// rawServer answers every generation request with n choices and keeps the
// raw request bodies.
type rawServer struct {
	mu     sync.Mutex
	bodies []string
}

func (s *rawServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(b))
	s.mu.Unlock()
	var req struct {
		N int `json:"n"`
	}
	_ = json.Unmarshal(b, &req)
	chat := strings.HasSuffix(r.URL.Path, "/chat/completions")
	var choices []map[string]any
	for i := range max(req.N, 1) {
		c := map[string]any{"index": i, "finish_reason": "stop"}
		if chat {
			c["message"] = map[string]any{"role": "assistant", "content": "The answer is 7."}
		} else {
			c["text"] = "The answer is 7."
		}
		choices = append(choices, c)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": "x", "object": "text_completion", "created": 1, "model": "m", "choices": choices,
		"usage": map[string]any{"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10}})
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
			rs := &rawServer{}
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
			if len(rs.bodies) != 1 || canon(t, rs.bodies[0]) != canon(t, c.want) {
				t.Errorf("body\n got %s\nwant %s", rs.bodies, canon(t, c.want))
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
