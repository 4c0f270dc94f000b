package prm

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
)

// logprobScores scores a causal LM PRM's steps: it tokenizes the laid-out
// input with the server's own tokenizer (POST /tokenize), finds the step
// tag tokens, and reads the logprobs of the good and bad tokens at every
// tag from prompt_logprobs (POST /v1/completions). The prompt is sent as
// token ids with the good token appended, so the last tag has a following
// position too; logits at a tag do not depend on what follows it. Step k's
// score is exp(lp_good)/(exp(lp_good)+exp(lp_bad)), the softmax over the
// two logits, as the model card computes it.
func (c *Client) logprobScores(ctx context.Context, l Layout, input string, steps int) ([]float64, error) {
	var tok TokenizeResponse
	err := c.post(ctx, "tokenize", c.base+"/tokenize", TokenizeRequest{Model: c.model, Prompt: input, AddSpecialTokens: true}, func(data []byte) error {
		return decodeJSON(data, &tok)
	})
	if err != nil {
		return nil, err
	}
	if len(tok.Tokens) == 0 {
		return nil, c.permanent(http.StatusOK, "/tokenize answered no tokens (is the server vLLM, serving a generative model?)")
	}
	var tags []int
	for i, id := range tok.Tokens {
		if id == l.TagTokenID {
			tags = append(tags, i)
		}
	}
	if len(tags) != steps {
		return nil, c.permanent(http.StatusOK, fmt.Sprintf("the server's tokenizer gives %d step tag tokens (id %d) for %d steps: the tag %q merges with the text around it, or the served model's tag token is not %d",
			len(tags), l.TagTokenID, steps, l.StepTag, l.TagTokenID))
	}
	prompt := append(append(make([]int, 0, len(tok.Tokens)+1), tok.Tokens...), l.GoodTokenID)
	entries, err := c.promptLogprobs(ctx, prompt, c.topK)
	if err != nil {
		return nil, err
	}
	scores := make([]float64, steps)
	for k, p := range tags {
		at := entries[p+1]
		lp := [2]float64{}
		for j, id := range [2]int{l.GoodTokenID, l.BadTokenID} {
			e, ok := at[id]
			if !ok {
				// Not among the top tokens at this tag: ask for it as
				// the prompt's own token after the tag, which vLLM
				// always returns.
				probe := append(append(make([]int, 0, p+2), tok.Tokens[:p+1]...), id)
				pe, err := c.promptLogprobs(ctx, probe, 0)
				if err != nil {
					return nil, err
				}
				if e, ok = pe[p+1][id]; !ok {
					return nil, c.permanent(http.StatusOK, fmt.Sprintf("step %d: prompt_logprobs at the tag lack the prompt's own token %d", k, id))
				}
			}
			lp[j] = e.Logprob
		}
		s := 1 / (1 + math.Exp(lp[1]-lp[0]))
		if math.IsNaN(s) {
			return nil, c.permanent(http.StatusOK, fmt.Sprintf("step %d: logprobs %v and %v give no probability", k, lp[0], lp[1]))
		}
		scores[k] = s
	}
	return scores, nil
}

// promptLogprobs posts prompt to /v1/completions with prompt_logprobs k
// and returns its entries, one per prompt token.
func (c *Client) promptLogprobs(ctx context.Context, prompt []int, k int) ([]map[int]Logprob, error) {
	var entries []map[int]Logprob
	req := LogprobsRequest{Model: c.model, Prompt: prompt, MaxTokens: 1, Temperature: 0, PromptLogprobs: k}
	err := c.post(ctx, "prompt logprobs", c.base+"/v1/completions", req, func(data []byte) error {
		var r LogprobsResponse
		if err := decodeJSON(data, &r); err != nil {
			return err
		}
		if len(r.Choices) != 1 {
			return fmt.Errorf("response has %d choices, want 1", len(r.Choices))
		}
		pl := r.Choices[0].PromptLogprobs
		switch {
		case pl == nil:
			return permanentError{fmt.Errorf("the completion has no prompt_logprobs: the server ignores the field (is it vLLM?)")}
		case len(pl) != len(prompt):
			return permanentError{fmt.Errorf("prompt_logprobs has %d entries for %d prompt tokens", len(pl), len(prompt))}
		}
		entries = pl
		return nil
	})
	return entries, err
}

func decodeJSON(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("invalid JSON response: %w", err)
	}
	return nil
}
