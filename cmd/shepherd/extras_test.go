package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/shepherd-prm/shepherd/rollout/sim"
)

// TestChatControlsReachTheWire: --system-prompt, --chat-template-kwargs
// and --extra-body appear in every request label sends; a key shepherd
// sets itself is refused before anything is sent.
func TestChatControlsReachTheWire(t *testing.T) {
	var mu sync.Mutex
	var bodies []map[string]any
	next := sim.New(sim.Options{Model: "sim"})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			mu.Lock()
			bodies = append(bodies, m)
			mu.Unlock()
			r.Body = io.NopCloser(strings.NewReader(string(b)))
		}
		next.ServeHTTP(w, r)
	}))
	defer hs.Close()
	dir := t.TempDir()
	in := writeFile(t, dir, "in.jsonl", firstLines(t, filepath.Join("..", "..", "examples", "sim-problems.jsonl"), 2))
	code, _, stderr := runShepherd(t, "", "label", "--backend", hs.URL+"/v1", "--model", "sim", "--api", "chat", "--in", in, "--out", filepath.Join(dir, "out.jsonl"), "--n", "2",
		"--system-prompt", "Think in small steps.", "--chat-template-kwargs", `{"enable_thinking": false}`, "--extra-body", `{"top_k": 20, "repetition_penalty": 1.05}`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if len(bodies) == 0 {
		t.Fatal("no request reached the server")
	}
	for _, b := range bodies {
		msgs := b["messages"].([]any)
		sys := msgs[0].(map[string]any)
		kw, _ := b["chat_template_kwargs"].(map[string]any)
		if sys["role"] != "system" || sys["content"] != "Think in small steps." || b["top_k"] != 20.0 || b["repetition_penalty"] != 1.05 || kw["enable_thinking"] != false {
			t.Fatalf("request body %v", b)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--extra-body", `{"seed": 1}`}, `--extra-body: extra body: key "seed" is set by shepherd`},
		{[]string{"--extra-body", `{"max_tokens": 10}`}, `key "max_tokens" is set by shepherd (--max-tokens)`},
		{[]string{"--extra-body", `[1]`}, "--extra-body must be a JSON object"},
		{[]string{"--chat-template-kwargs", `{"a": 1}`}, "--chat-template-kwargs applies to --api chat"},
		{[]string{"--system-prompt", "x"}, "--system-prompt: prompt template: a system prompt needs {{.System}}"},
		{[]string{"--prompt-style", "llama"}, `unknown style "llama"`},
	} {
		code, _, stderr := runShepherd(t, "", append([]string{"label", "--backend", "sim", "--in", in}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %s", c.args, code, stderr)
		}
	}
	// The chatml completions prompt with a system prompt labels end to end.
	code, _, stderr = runShepherd(t, "", "label", "--backend", "sim", "--in", in, "--out", filepath.Join(dir, "chatml.jsonl"), "--prompt-style", "chatml", "--system-prompt", "Be exact.")
	if code != 0 {
		t.Errorf("--prompt-style chatml: exit %d: %s", code, stderr)
	}
}
