// Package openai holds the wire format of the OpenAI-compatible inference API
// as served by vLLM, SGLang, llama.cpp server and TGI: the request and response
// bodies of /v1/completions and /v1/chat/completions. Both the inference
// client and the built-in simulator speak exactly these types, so a change to
// the wire format shows up on both sides at once.
package openai

import "encoding/json"

// CompletionRequest is the body of POST /v1/completions.
type CompletionRequest struct {
	Model       string   `json:"model"`
	Prompt      string   `json:"prompt"`
	N           int      `json:"n,omitempty"`
	Seed        *int64   `json:"seed,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
	MaxTokens   int      `json:"max_tokens,omitempty"`
	Stop        []string `json:"stop,omitempty"`
}

// ChatMessage is one turn of a chat request or a chat choice's message.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatRequest is the body of POST /v1/chat/completions. ContinueFinalMessage
// and AddGenerationPrompt are vLLM's (and SGLang's) extensions that let the
// model continue a partial assistant message under its own chat template.
type ChatRequest struct {
	Model                string        `json:"model"`
	Messages             []ChatMessage `json:"messages"`
	N                    int           `json:"n,omitempty"`
	Seed                 *int64        `json:"seed,omitempty"`
	Temperature          *float64      `json:"temperature,omitempty"`
	TopP                 *float64      `json:"top_p,omitempty"`
	MaxTokens            int           `json:"max_tokens,omitempty"`
	Stop                 []string      `json:"stop,omitempty"`
	ContinueFinalMessage bool          `json:"continue_final_message,omitempty"`
	AddGenerationPrompt  *bool         `json:"add_generation_prompt,omitempty"`
}

// PromptTokensDetails reports prefix-cache hits (vLLM with
// --enable-prompt-tokens-details, SGLang).
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// Usage is the token accounting of one response.
type Usage struct {
	PromptTokens        int                  `json:"prompt_tokens"`
	CompletionTokens    int                  `json:"completion_tokens"`
	TotalTokens         int                  `json:"total_tokens"`
	PromptTokensDetails *PromptTokensDetails `json:"prompt_tokens_details,omitempty"`
}

// CachedTokens is the number of prompt tokens served from the prefix cache,
// zero when the server does not report it.
func (u Usage) CachedTokens() int {
	if u.PromptTokensDetails == nil {
		return 0
	}
	return u.PromptTokensDetails.CachedTokens
}

// Choice is one sample of a completions or chat response: Text is set for
// completions, Message for chat.
type Choice struct {
	Index        int          `json:"index"`
	Text         string       `json:"text,omitempty"`
	Message      *ChatMessage `json:"message,omitempty"`
	FinishReason string       `json:"finish_reason"`
}

// Content returns the generated text whichever API produced the choice.
func (c Choice) Content() string {
	if c.Message != nil {
		return c.Message.Content
	}
	return c.Text
}

// Response is the body of a successful completions or chat response.
type Response struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []Choice `json:"choices"`
	Usage   Usage    `json:"usage"`
}

// ErrorBody is the body of an error response. vLLM and OpenAI nest the
// details under "error"; some servers put "message" at the top level.
type ErrorBody struct {
	Error   *ErrorDetail `json:"error,omitempty"`
	Message string       `json:"message,omitempty"`
	Object  string       `json:"object,omitempty"`
	Code    int          `json:"code,omitempty"`
}

// ErrorDetail is the nested error object.
type ErrorDetail struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    any    `json:"code,omitempty"`
}

// Text returns the human-readable message of an error body.
func (e ErrorBody) Text() string {
	if e.Error != nil && e.Error.Message != "" {
		return e.Error.Message
	}
	return e.Message
}

// UnmarshalJSON also reads an error given as a bare string, as vLLM's
// API-key middleware answers 401: {"error": "Unauthorized"}
// (vllm/entrypoints/serve/utils/server_utils.py, AuthenticationMiddleware).
func (d *ErrorDetail) UnmarshalJSON(data []byte) error {
	var s string
	if json.Unmarshal(data, &s) == nil {
		*d = ErrorDetail{Message: s}
		return nil
	}
	type plain ErrorDetail
	return json.Unmarshal(data, (*plain)(d))
}

// ModelList is the body of GET /v1/models.
type ModelList struct {
	Data []struct {
		ID string `json:"id"`
	} `json:"data"`
}
