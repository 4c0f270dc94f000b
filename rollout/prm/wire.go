package prm

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/shepherd-prm/shepherd/rollout/openai"
)

// The wire format of vLLM's pooling API (POST /pooling), spoken by the
// client and by the simulator in prmsim.

// PoolingRequest is the body of POST /pooling for text input.
type PoolingRequest struct {
	Model string       `json:"model"`
	Input PoolingInput `json:"input"`
}

// PoolingInput is the "input" field: one text is sent as a JSON string,
// several as a list of strings (vLLM accepts both).
type PoolingInput []string

// MarshalJSON writes a single text as a string, several as a list.
func (in PoolingInput) MarshalJSON() ([]byte, error) {
	if len(in) == 1 {
		return json.Marshal(in[0])
	}
	return json.Marshal([]string(in))
}

// UnmarshalJSON accepts a string or a list of strings.
func (in *PoolingInput) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*in = PoolingInput{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New(`"input" must be a string or a list of strings`)
	}
	*in = list
	return nil
}

// PoolingResponse is the body of a successful POST /pooling:
//
//	{"id": "pool-…", "object": "list", "created": 1730000000, "model": "…",
//	 "data": [{"index": 0, "object": "pooling", "data": [[0.93, 0.07], …]}],
//	 "usage": {"prompt_tokens": 412, "total_tokens": 412, "completion_tokens": 0}}
//
// data[i] answers input i; its own "data" is, for a reward model served
// with step pooling, one row of class probabilities per step tag.
type PoolingResponse struct {
	openai.Head
	Data  []PoolingData `json:"data"`
	Usage openai.Usage  `json:"usage"`
}

// PoolingData is the output for one input. Data is kept raw: vLLM sends a
// list of rows ([[…], …]), a flat vector ([…]) or, with encoding_format
// base64, a string; only the first is a per-step output.
type PoolingData struct {
	Index  int             `json:"index"`
	Object string          `json:"object"`
	Data   json.RawMessage `json:"data"`
}

// The wire format of vLLM's tokenizer endpoint and of prompt logprobs on
// its completions endpoint, as defined in vLLM's
// vllm/entrypoints/openai/protocol.py (TokenizeCompletionRequest,
// TokenizeResponse, CompletionRequest.prompt_logprobs,
// CompletionResponseChoice.prompt_logprobs) and vllm/logprobs.py
// (Logprob, PromptLogprobs).

// TokenizeRequest is the body of POST /tokenize for a text:
//
//	{"model": "…", "prompt": "…", "add_special_tokens": true}
type TokenizeRequest struct {
	Model            string `json:"model"`
	Prompt           string `json:"prompt"`
	AddSpecialTokens bool   `json:"add_special_tokens"`
}

// TokenizeResponse is the body of a successful POST /tokenize:
//
//	{"count": 5, "max_model_len": 4096, "tokens": [1, 415, …], "token_strs": null}
type TokenizeResponse struct {
	Count       int      `json:"count"`
	MaxModelLen int      `json:"max_model_len"`
	Tokens      []int    `json:"tokens"`
	TokenStrs   []string `json:"token_strs,omitempty"`
}

// LogprobsRequest is the body of POST /v1/completions that asks for the
// logprobs of a prompt given as token ids and generates one token:
//
//	{"model": "…", "prompt": [1, 415, …], "max_tokens": 1, "temperature": 0, "prompt_logprobs": 5}
//
// prompt_logprobs k returns, at every prompt position after the first,
// the k most likely tokens and the prompt's own token; 0 returns the
// prompt's own token only.
type LogprobsRequest struct {
	Model          string  `json:"model"`
	Prompt         []int   `json:"prompt"`
	MaxTokens      int     `json:"max_tokens"`
	Temperature    float64 `json:"temperature"`
	PromptLogprobs int     `json:"prompt_logprobs"`
}

// Logprob is one token's entry in a prompt-logprobs position.
type Logprob struct {
	Logprob      float64 `json:"logprob"`
	Rank         *int    `json:"rank"`
	DecodedToken *string `json:"decoded_token"`
}

// LogprobsResponse is the part of a completion response that carries
// prompt logprobs:
//
//	{"id": "cmpl-…", "object": "text_completion", "created": …, "model": "…",
//	 "choices": [{"index": 0, "text": "…", "logprobs": null, "finish_reason": "length",
//	   "prompt_logprobs": [null, {"415": {"logprob": -3.2, "rank": 4, "decoded_token": "The"}, …}, …]}],
//	 "usage": {…}}
//
// prompt_logprobs has one entry per prompt token, the first null (nothing
// precedes it); entry i maps token ids (JSON object keys) to the logprob
// of that token following tokens 0..i-1.
type LogprobsResponse = openai.ResponseOf[LogprobsChoice]

// LogprobsChoice is one choice of a completion response.
type LogprobsChoice struct {
	Index          int               `json:"index"`
	Text           string            `json:"text"`
	Logprobs       json.RawMessage   `json:"logprobs"`
	FinishReason   *string           `json:"finish_reason"`
	PromptLogprobs []map[int]Logprob `json:"prompt_logprobs"`
}
