// Package openai holds the wire format of the OpenAI-compatible inference API
// as served by vLLM, SGLang, llama.cpp server and TGI: the request and response
// bodies of /v1/completions and /v1/chat/completions, and of GET /v1/models
// and error responses. Both the inference client and the built-in simulator
// (rollout/sim) speak exactly these types, so a change to the wire format
// shows up on both sides at once: the client reads a Response, the simulator
// writes a CompletionResponse or a ChatResponse, which are vLLM's bodies
// field for field, the nulls it always sends included.
package openai

import "encoding/json"

// CompletionRequest is the body of POST /v1/completions.
type CompletionRequest struct {
	Model  string `json:"model"`
	Prompt string `json:"prompt"`
	Sampling
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
	Model    string        `json:"model"`
	Messages []ChatMessage `json:"messages"`
	Sampling
	ContinueFinalMessage bool  `json:"continue_final_message,omitempty"`
	AddGenerationPrompt  *bool `json:"add_generation_prompt,omitempty"`
}

// Sampling are the fields both request bodies share, written in place of
// the embedding: n samples, sample i with seed Seed+i (vLLM).
type Sampling struct {
	N           int      `json:"n,omitempty"`
	Seed        *int64   `json:"seed,omitempty"`
	Temperature *float64 `json:"temperature,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
	MaxTokens   int      `json:"max_tokens,omitempty"`
	Stop        []string `json:"stop,omitempty"`
}

// PromptTokensDetails reports prefix-cache hits (vLLM with
// --enable-prompt-tokens-details, SGLang).
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// Usage is the token accounting of one response, in vLLM's field order.
type Usage struct {
	PromptTokens        int                  `json:"prompt_tokens"`
	TotalTokens         int                  `json:"total_tokens"`
	CompletionTokens    int                  `json:"completion_tokens"`
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

// ResponseOf is the body of a successful completions or chat response
// with choices of type C.
type ResponseOf[C any] struct {
	Head
	Choices           []C   `json:"choices"`
	Usage             Usage `json:"usage"`
	SystemFingerprint any   `json:"system_fingerprint"`
}

// Head opens every response body of vLLM's OpenAI-style API (completions,
// chat, pooling).
type Head struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
}

// Response is a completions or chat response as a client reads it.
type Response = ResponseOf[Choice]

// CompletionResponse is the body vLLM answers POST /v1/completions with
// (vllm/entrypoints/openai/protocol.py, CompletionResponse).
type CompletionResponse = ResponseOf[CompletionChoice]

// ChatResponse is the body vLLM answers POST /v1/chat/completions with
// (vllm/entrypoints/openai/protocol.py, ChatCompletionResponse).
type ChatResponse = ResponseOf[ChatChoice]

// CompletionChoice is one sample of a CompletionResponse; StopReason is
// the stop string that ended it, or null.
type CompletionChoice struct {
	Index          int    `json:"index"`
	Text           string `json:"text"`
	Logprobs       any    `json:"logprobs"`
	FinishReason   string `json:"finish_reason"`
	StopReason     any    `json:"stop_reason"`
	PromptLogprobs any    `json:"prompt_logprobs"`
}

// ChatChoice is one sample of a ChatResponse.
type ChatChoice struct {
	Index        int              `json:"index"`
	Message      AssistantMessage `json:"message"`
	Logprobs     any              `json:"logprobs"`
	FinishReason string           `json:"finish_reason"`
	StopReason   any              `json:"stop_reason"`
}

// AssistantMessage is the message of a ChatChoice.
type AssistantMessage struct {
	Role             string `json:"role"`
	Content          string `json:"content"`
	ReasoningContent any    `json:"reasoning_content"`
	ToolCalls        []any  `json:"tool_calls"`
}

// ErrorBody is the body of an error response. vLLM and OpenAI nest the
// details under "error"; some servers put "message" at the top level.
type ErrorBody struct {
	Error   *ErrorDetail `json:"error,omitempty"`
	Message string       `json:"message,omitempty"`
	Object  string       `json:"object,omitempty"`
	Code    int          `json:"code,omitempty"`
}

// ErrorDetail is the nested error object (vLLM's ErrorInfo: message, type,
// param, code).
type ErrorDetail struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   any    `json:"param"`
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
	Object string      `json:"object"`
	Data   []ModelCard `json:"data"`
}

// ModelCard is one served model as vLLM lists it
// (vllm/entrypoints/openai/protocol.py, ModelCard); a client needs ID only.
type ModelCard struct {
	ID          string            `json:"id"`
	Object      string            `json:"object"`
	Created     int64             `json:"created"`
	OwnedBy     string            `json:"owned_by"`
	Root        string            `json:"root"`
	Parent      any               `json:"parent"`
	MaxModelLen int               `json:"max_model_len"`
	Permission  []ModelPermission `json:"permission"`
}

// ModelPermission is vLLM's ModelPermission, listed with every model.
type ModelPermission struct {
	ID                 string `json:"id"`
	Object             string `json:"object"`
	Created            int64  `json:"created"`
	AllowCreateEngine  bool   `json:"allow_create_engine"`
	AllowSampling      bool   `json:"allow_sampling"`
	AllowLogprobs      bool   `json:"allow_logprobs"`
	AllowSearchIndices bool   `json:"allow_search_indices"`
	AllowView          bool   `json:"allow_view"`
	AllowFineTuning    bool   `json:"allow_fine_tuning"`
	Organization       string `json:"organization"`
	Group              any    `json:"group"`
	IsBlocking         bool   `json:"is_blocking"`
}
