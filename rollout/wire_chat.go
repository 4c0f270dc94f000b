package rollout

import (
	"encoding/json"
	"errors"

	"github.com/shepherd-prm/shepherd/rollout/openai"
)

// APIChat is POST /v1/chat/completions with the question as the user turn
// and the prefix as a partial assistant turn the server continues (vLLM's
// and SGLang's continue_final_message), under the model's own chat
// template. Chat templates may strip trailing whitespace from the partial
// turn, so the continuation can start after a slightly different byte
// sequence than the prefix; prefer completions when that matters.
const APIChat API = "chat"

// chatWire sends the question, and the prefix as a partial assistant turn,
// and reads the OpenAI-compatible chat response.
type chatWire struct {
	openaiResponse
	model  string
	system string
}

func newChatWire(opt ClientOptions) (Wire, error) {
	if opt.PromptTemplate != "" {
		return nil, errors.New("rollout: ClientOptions.PromptTemplate applies to the completions API only; the chat API uses the model's chat template")
	}
	return &chatWire{model: opt.Model, system: opt.Extras.SystemPrompt}, nil
}

func (*chatWire) Path() string { return "/chat/completions" }

func (w *chatWire) Encode(req GenerateRequest, n int, seed *int64) ([]byte, error) {
	body := openai.ChatRequest{Model: w.model, Messages: w.messages(req.Question), Sampling: sampling(req, n, seed)}
	// An empty assistant turn cannot be continued (vLLM and transformers
	// reject a final message that does not appear in the rendered chat), so
	// an empty prefix is an ordinary new turn.
	if req.Prefix != "" {
		body.Messages = append(body.Messages, openai.ChatMessage{Role: "assistant", Content: req.Prefix})
		body.ContinueFinalMessage = true
		body.AddGenerationPrompt = new(false)
	} else {
		body.AddGenerationPrompt = new(true)
	}
	return json.Marshal(body)
}

// messages opens a chat with the system prompt, if any, and the question as
// the user turn.
func (w *chatWire) messages(question string) []openai.ChatMessage {
	if w.system == "" {
		return []openai.ChatMessage{{Role: "user", Content: question}}
	}
	return []openai.ChatMessage{{Role: "system", Content: w.system}, {Role: "user", Content: question}}
}
