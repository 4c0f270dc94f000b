package rollout

import (
	"errors"
	"fmt"
	"strings"
	"text/template"
)

// DefaultPromptTemplate is the completions-API prompt used when
// ClientOptions.PromptTemplate is empty. It states the problem, asks for
// step-by-step reasoning ending in \boxed{} (the form the grader extracts
// first, and the convention of most math-tuned base and instruct models), and
// ends with the solution prefix so the model continues it byte for byte.
const DefaultPromptTemplate = `Question: {{.Question}}
Please reason step by step, and put your final answer within \boxed{}.

Answer: {{.Prefix}}`

// ChatMLPromptTemplate is a completions-API prompt for instruct models
// with the ChatML chat format (Qwen2.5 and Qwen2.5-Math Instruct, among
// others): the system turn when --system-prompt is given, the question
// and the \boxed{} instruction as the user turn, and the prefix as the
// start of the assistant turn, which the model continues.
const ChatMLPromptTemplate = `{{if .System}}<|im_start|>system
{{.System}}<|im_end|>
{{end}}<|im_start|>user
{{.Question}}
Please reason step by step, and put your final answer within \boxed{}.<|im_end|>
<|im_start|>assistant
{{.Prefix}}`

// PromptData is what a prompt template is executed over.
type PromptData struct {
	Question string // the problem text
	Prefix   string // the solution so far; may be empty
	System   string // the system prompt; may be empty
}

// PromptTemplate renders completions-API prompts from a question and a
// solution prefix. It is safe for concurrent use.
type PromptTemplate struct {
	t      *template.Template
	system string
}

// WithSystem returns the template rendering system as {{.System}}; a
// template that does not use {{.System}} cannot take a system prompt.
func (p *PromptTemplate) WithSystem(system string) (*PromptTemplate, error) {
	if system == "" {
		return p, nil
	}
	const probe = "\x00system-probe\x00"
	q := &PromptTemplate{t: p.t, system: probe}
	out, err := q.Render("question", "")
	if err != nil {
		return nil, fmt.Errorf("prompt template: %w", err)
	}
	if !strings.Contains(out, probe) {
		return nil, errors.New("prompt template: a system prompt needs {{.System}} in the template (the default template has none: use --prompt-style chatml or a template with {{.System}})")
	}
	q.system = system
	return q, nil
}

// prefixProbe stands in for the prefix when a template is checked: it must
// come out as the very end of the rendered prompt.
const prefixProbe = "\x00prefix-probe\x00"

// ParsePromptTemplate parses a text/template over {{.Question}} and
// {{.Prefix}}. The rendered prompt must end with the prefix, untouched:
// the model continues the solution from exactly where the prefix stops, and
// every prefix of one solution must extend the previous one for the
// inference server's prefix cache to reuse it. An empty text selects
// DefaultPromptTemplate.
func ParsePromptTemplate(text string) (*PromptTemplate, error) {
	if text == "" {
		text = DefaultPromptTemplate
	}
	t, err := template.New("prompt").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("prompt template: %w", err)
	}
	pt := &PromptTemplate{t: t}
	out, err := pt.Render("question", prefixProbe)
	if err != nil {
		return nil, fmt.Errorf("prompt template: %w", err)
	}
	if !strings.HasSuffix(out, prefixProbe) {
		return nil, errors.New("prompt template: must end with {{.Prefix}} (nothing after it, not even a newline) so the model continues the solution")
	}
	if strings.Count(out, prefixProbe) != 1 {
		return nil, errors.New("prompt template: must use {{.Prefix}} exactly once")
	}
	return pt, nil
}

// Render executes the template.
func (p *PromptTemplate) Render(question, prefix string) (string, error) {
	var b strings.Builder
	b.Grow(len(question) + len(prefix) + 256)
	if err := p.t.Execute(&b, PromptData{Question: question, Prefix: prefix, System: p.system}); err != nil {
		return "", err
	}
	return b.String(), nil
}
