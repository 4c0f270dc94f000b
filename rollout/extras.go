package rollout

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// RequestExtras are what a user adds to every generation request beyond
// shepherd's own fields: a system prompt, chat template arguments and
// extra body fields (sampling parameters the OpenAI schema lacks, such as
// vLLM's and SGLang's top_k, min_p, repetition_penalty).
type RequestExtras struct {
	// SystemPrompt is the system turn: the first message with --api chat,
	// {{.System}} in the completions prompt template.
	SystemPrompt string
	// ChatTemplateKwargs is sent as chat_template_kwargs (vLLM and SGLang
	// pass it to the chat template, e.g. {"enable_thinking": false});
	// chat API only.
	ChatTemplateKwargs map[string]any
	// ExtraBody fields are merged into every request body; a key shepherd
	// sets itself is refused (OwnedKeys).
	ExtraBody map[string]any
}

// OwnedKeys are the request fields shepherd sets itself, each with the
// reason; ExtraBody may not contain them.
var OwnedKeys = map[string]string{
	"model":                  "the backend's --model",
	"prompt":                 "rendered from the prompt template",
	"messages":               "the question, the solution prefix and --system-prompt",
	"n":                      "the rollouts per request (--n, --max-n, --server-kind)",
	"seed":                   "per-sample seeds S..S+n-1 derived from --seed",
	"max_tokens":             "--max-tokens",
	"max_completion_tokens":  "--max-tokens",
	"stop":                   "--stop",
	"temperature":            "--temperature",
	"top_p":                  "--top-p",
	"stream":                 "shepherd reads whole responses",
	"stream_options":         "shepherd reads whole responses",
	"echo":                   "the response must hold the continuation only",
	"suffix":                 "the prompt must end with the prefix",
	"continue_final_message": "set by --api chat to continue the prefix",
	"add_generation_prompt":  "set by --api chat to continue the prefix",
	"chat_template_kwargs":   "--chat-template-kwargs",
}

// Validate checks the extras for the API: no owned key in ExtraBody, chat
// template arguments with the chat API only.
func (x RequestExtras) Validate(api API) error {
	keys := make([]string, 0, len(x.ExtraBody))
	for k := range x.ExtraBody {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if why, ok := OwnedKeys[k]; ok {
			return fmt.Errorf("extra body: key %q is set by shepherd (%s); leave it out", k, why)
		}
	}
	if len(x.ChatTemplateKwargs) > 0 && api != APIChat {
		return fmt.Errorf("chat template kwargs apply to the chat API only (--api chat); the completions API renders the prompt template")
	}
	return nil
}

// ParseJSONObject parses a flag's JSON object ("" is none), naming the
// flag in its error.
func ParseJSONObject(flag, s string) (map[string]any, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
		return nil, fmt.Errorf("%s must be a JSON object, e.g. {\"top_k\": 20}: %.60q", flag, s)
	}
	return m, nil
}

// merge adds the extras to an encoded request body.
func (x RequestExtras) merge(body []byte) ([]byte, error) {
	if len(x.ExtraBody) == 0 && len(x.ChatTemplateKwargs) == 0 {
		return body, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	for k, v := range x.ExtraBody {
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("extra body field %q: %w", k, err)
		}
		m[k] = raw
	}
	if len(x.ChatTemplateKwargs) > 0 {
		raw, err := json.Marshal(x.ChatTemplateKwargs)
		if err != nil {
			return nil, fmt.Errorf("chat template kwargs: %w", err)
		}
		m["chat_template_kwargs"] = raw
	}
	return json.Marshal(m)
}
