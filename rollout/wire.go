package rollout

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/shepherd-prm/shepherd/rollout/openai"
)

// Wire is one inference server API: where a generation request is posted,
// how its body is written and how a successful response body is read. A
// Client holds one, built from its options by the API's entry in wires; the
// client owns everything else (HTTP, retries, the n cap, extras, failure
// classification). A new server API is one file implementing Wire plus one
// entry in wires.
type Wire interface {
	// Path is appended to the base URL, e.g. "/completions".
	Path() string
	// Encode writes the body asking for n continuations of req.Prefix,
	// sample i with seed *seed+i; seed is nil when the server ignores
	// seeds. The client merges RequestExtras into the result.
	Encode(req GenerateRequest, n int, seed *int64) ([]byte, error)
	// Decode reads a 2xx body that must hold exactly n samples, in seed
	// order. An error marks the response broken (retried as passing).
	Decode(body []byte, n int) (GenerateResult, error)
}

// wires are the APIs a Client speaks, by name: ParseAPI accepts these and
// NewClient builds the chosen one from its options.
var wires = []wireEntry{
	{APICompletions, newCompletionsWire},
	{APIChat, newChatWire},
}

type wireEntry struct {
	api   API
	build func(ClientOptions) (Wire, error)
}

// ParseAPI parses the name of an API in wires ("" means completions).
func ParseAPI(s string) (API, error) {
	_, api, err := lookupWire(s)
	return api, err
}

// APINames are the names of the APIs in wires, in their order: what
// ParseAPI accepts (and --api lists).
func APINames() []string {
	names := make([]string, len(wires))
	for i, w := range wires {
		names[i] = string(w.api)
	}
	return names
}

func lookupWire(s string) (wireEntry, API, error) {
	name := API(strings.ToLower(strings.TrimSpace(s)))
	if name == "" {
		name = APICompletions
	}
	for _, w := range wires {
		if w.api == name {
			return w, name, nil
		}
	}
	names := APINames()
	for i, n := range names {
		names[i] = strconv.Quote(n)
	}
	last := len(names) - 1
	return wireEntry{}, "", fmt.Errorf("rollout: unknown API %q (want %s or %s)", s, strings.Join(names[:last], ", "), names[last])
}

// openaiResponse decodes the response body the OpenAI-compatible
// completions and chat endpoints share.
type openaiResponse struct{}

func (openaiResponse) Decode(body []byte, n int) (GenerateResult, error) {
	var r openai.Response
	if err := json.Unmarshal(body, &r); err != nil {
		return GenerateResult{}, fmt.Errorf("invalid JSON response: %w", err)
	}
	if err := checkChoices(&r, n); err != nil {
		return GenerateResult{}, err
	}
	res := GenerateResult{
		Samples:          make([]Sample, 0, n),
		PromptTokens:     r.Usage.PromptTokens,
		CompletionTokens: r.Usage.CompletionTokens,
		CachedTokens:     r.Usage.CachedTokens(),
	}
	for _, ch := range r.Choices {
		res.Samples = append(res.Samples, Sample{Text: ch.Content(), FinishReason: ch.FinishReason})
	}
	return res, nil
}

// checkChoices sorts the choices by index and checks they are exactly
// 0..n-1.
func checkChoices(r *openai.Response, n int) error {
	if len(r.Choices) != n {
		return fmt.Errorf("response has %d choices, asked for n=%d", len(r.Choices), n)
	}
	slices.SortStableFunc(r.Choices, func(a, b openai.Choice) int { return a.Index - b.Index })
	for i, ch := range r.Choices {
		if ch.Index != i {
			return fmt.Errorf("response choice indices are not 0..%d (found index %d at position %d)", n-1, ch.Index, i)
		}
	}
	return nil
}

// sampling fills the fields both OpenAI bodies share: temperature always
// (0 is greedy), top_p and max_tokens only when set.
func sampling(req GenerateRequest, n int, seed *int64) openai.Sampling {
	t := req.Params.Temperature
	s := openai.Sampling{N: n, Seed: seed, Temperature: &t, MaxTokens: req.Params.MaxTokens, Stop: req.Params.Stop}
	if req.Params.TopP > 0 {
		v := req.Params.TopP
		s.TopP = &v
	}
	return s
}
