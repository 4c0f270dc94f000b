package rollout

import (
	"encoding/json"
	"fmt"

	"github.com/shepherd-prm/shepherd/rollout/openai"
)

// APICompletions is POST /v1/completions with a prompt rendered from the
// prompt template: works with base and instruct models alike and gives full
// control over the bytes the model sees.
const APICompletions API = "completions"

// completionsWire renders the question and prefix through the prompt
// template and reads the OpenAI-compatible completions response.
type completionsWire struct {
	openaiResponse
	model  string
	prompt *PromptTemplate
}

func newCompletionsWire(opt ClientOptions) (Wire, error) {
	prompt, err := ParsePromptTemplate(opt.PromptTemplate)
	if err != nil {
		return nil, fmt.Errorf("rollout: ClientOptions.PromptTemplate: %w", err)
	}
	if prompt, err = prompt.WithSystem(opt.Extras.SystemPrompt); err != nil {
		return nil, fmt.Errorf("rollout: ClientOptions.Extras.SystemPrompt: %w", err)
	}
	return &completionsWire{model: opt.Model, prompt: prompt}, nil
}

func (*completionsWire) Path() string { return "/completions" }

func (w *completionsWire) Encode(req GenerateRequest, n int, seed *int64) ([]byte, error) {
	prompt, err := w.prompt.Render(req.Question, req.Prefix)
	if err != nil {
		return nil, fmt.Errorf("rendering prompt template: %w", err)
	}
	return json.Marshal(openai.CompletionRequest{Model: w.model, Prompt: prompt, Sampling: sampling(req, n, seed)})
}
