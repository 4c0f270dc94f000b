package prmsim

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shepherd-prm/shepherd/rollout/openai"
	"github.com/shepherd-prm/shepherd/rollout/prm"
)

// A causal LM PRM (a layout with token ids, prm.Layout.API() ==
// prm.APICompletions) is served the way a stock `vllm serve <model>`
// serves it: POST /tokenize and POST /v1/completions with prompt_logprobs,
// shapes as in vLLM's vllm/entrypoints/openai/protocol.py and
// vllm/logprobs.py.
//
// The simulated tokenizer adds BOS (id 1) unless add_special_tokens is
// false, and reads the text greedily: the layout's step tag is one token
// (TagTokenID), "+" and "-" are the good and bad tokens (GoodTokenID,
// BadTokenID: Math-Shepherd's and RLHFlow's label tokens, which also
// occur in step text), other ASCII bytes are asciiBase+byte, and every
// byte of non-ASCII text is a byte-fallback token 3+byte, as Llama and
// Mistral tokenizers spell characters outside their vocabulary.
//
// The simulated model's logits at every position are pseudo-random in
// [-3, 3) over the whole vocabulary, seeded by the tokens so far; at a
// step tag the good and bad tokens get labelOffset ± logit(p)/2, where p
// is the step's score (StepScores), so the softmax over the two logits is
// exactly p while other tokens keep part of the probability mass.

const (
	bosID       = 1
	byteBase    = 3
	asciiBase   = 20000
	maxLogprobs = 20 // vLLM's default --max-logprobs
	maxModelLen = 32768
	// labelOffset puts the label tokens near the top at a tag, as a
	// trained PRM does; buriedOffset (Options.BuryLabels) below the top 20.
	labelOffset  = 12.0
	buriedOffset = -8.0
)

// vocab lists the simulated vocabulary of a layout with token ids.
func vocab(l prm.Layout) []int {
	v := []int{bosID}
	for b := range 256 {
		if b >= 0x80 {
			v = append(v, byteBase+b)
		}
	}
	for b := range 0x80 {
		if b != '+' && b != '-' {
			v = append(v, asciiBase+b)
		}
	}
	return append(v, l.TagTokenID, l.GoodTokenID, l.BadTokenID)
}

// checkTokenIDs refuses token ids that collide with the simulated
// vocabulary.
func checkTokenIDs(l prm.Layout) error {
	seen := map[int]bool{}
	for _, id := range vocab(l) {
		if seen[id] {
			return fmt.Errorf("token id %d collides with the simulated vocabulary (ids 1, %d-%d and %d-%d are taken)", id, byteBase+0x80, byteBase+0xff, asciiBase, asciiBase+0x7f)
		}
		seen[id] = true
	}
	return nil
}

// Tokenize is the simulated tokenizer (see above).
func Tokenize(l prm.Layout, text string, addSpecial bool) []int {
	var out []int
	if addSpecial {
		out = append(out, bosID)
	}
	for i := 0; i < len(text); {
		switch c := text[i]; {
		case strings.HasPrefix(text[i:], l.StepTag):
			out = append(out, l.TagTokenID)
			i += len(l.StepTag)
			continue
		case c == '+':
			out = append(out, l.GoodTokenID)
		case c == '-':
			out = append(out, l.BadTokenID)
		case c < 0x80:
			out = append(out, asciiBase+int(c))
		default:
			out = append(out, byteBase+int(c))
		}
		i++
	}
	return out
}

// piece is the text of one token; ok is false for an unknown id.
func piece(l prm.Layout, id int) (string, bool) {
	switch {
	case id == bosID:
		return "", true
	case id == l.TagTokenID:
		return l.StepTag, true
	case id == l.GoodTokenID:
		return "+", true
	case id == l.BadTokenID:
		return "-", true
	case id >= asciiBase && id < asciiBase+0x80 && id != asciiBase+'+' && id != asciiBase+'-':
		return string(rune(id - asciiBase)), true
	case id >= byteBase+0x80 && id < byteBase+0x100:
		return string([]byte{byte(id - byteBase)}), true
	}
	return "", false
}

// detokenize returns the text of tokens, or the first unknown id.
func detokenize(l prm.Layout, tokens []int) (string, int, bool) {
	var b strings.Builder
	for _, id := range tokens {
		p, ok := piece(l, id)
		if !ok {
			return "", id, false
		}
		b.WriteString(p)
	}
	return b.String(), 0, true
}

// PromptLogprobs returns what the simulated model answers for a prompt of
// token ids asked with prompt_logprobs k: entry 0 nil, entry i the k most
// likely tokens after tokens[:i] plus tokens[i] itself, each with its
// logprob, 1-based rank in the vocabulary and decoded text.
func PromptLogprobs(l prm.Layout, tokens []int, k int, buried bool) ([]map[int]prm.Logprob, error) {
	text, bad, ok := detokenize(l, tokens)
	if !ok {
		return nil, fmt.Errorf("token id %d is out of vocabulary", bad)
	}
	scores := StepScores(l, text)
	v := vocab(l)
	out := make([]map[int]prm.Logprob, len(tokens))
	logits := make([]float64, len(v))
	top := make([]int, 0, k)
	h := fnv.New64a()
	tag := 0
	for i := 0; i+1 < len(tokens); i++ {
		var buf [8]byte
		binary.LittleEndian.PutUint64(buf[:], uint64(tokens[i]))
		_, _ = h.Write(buf[:])
		rng := rand.New(rand.NewPCG(h.Sum64(), 0x5eed))
		for j := range v {
			logits[j] = 6*rng.Float64() - 3
		}
		if tokens[i] == l.TagTokenID {
			p := min(max(scores[tag], 1e-9), 1-1e-9)
			tag++
			off := labelOffset
			if buried {
				off = buriedOffset
			}
			half := math.Log(p/(1-p)) / 2
			logits[len(v)-2] = off + half // good
			logits[len(v)-1] = off - half // bad
		}
		lse := logSumExp(logits)
		// before reports whether vocabulary entry a ranks above b: a
		// higher logit, ties to the lower id.
		before := func(a, b int) bool {
			return logits[a] > logits[b] || logits[a] == logits[b] && v[a] < v[b]
		}
		top = top[:0]
		for j := range v {
			if len(top) == k && (k == 0 || !before(j, top[k-1])) {
				continue
			}
			at := len(top)
			for at > 0 && before(j, top[at-1]) {
				at--
			}
			if len(top) < k {
				top = append(top, 0)
			}
			copy(top[at+1:], top[at:len(top)-1])
			top[at] = j
		}
		entry := make(map[int]prm.Logprob, len(top)+1)
		add := func(j, rank int) {
			s, _ := piece(l, v[j])
			s = strings.ToValidUTF8(s, "\ufffd")
			entry[v[j]] = prm.Logprob{Logprob: logits[j] - lse, Rank: &rank, DecodedToken: &s}
		}
		for r, j := range top {
			add(j, r+1)
		}
		if own := slices.Index(v, tokens[i+1]); own >= 0 {
			if _, ok := entry[tokens[i+1]]; !ok {
				rank := 1
				for j := range v {
					if before(j, own) {
						rank++
					}
				}
				add(own, rank)
			}
		}
		out[i+1] = entry
	}
	return out, nil
}

func logSumExp(x []float64) float64 {
	m := slices.Max(x)
	var s float64
	for _, v := range x {
		s += math.Exp(v - m)
	}
	return m + math.Log(s)
}

// tokenizeRequest is POST /tokenize's body; add_special_tokens defaults
// to true as in vLLM.
type tokenizeRequest struct {
	Model            string `json:"model"`
	Prompt           string `json:"prompt"`
	AddSpecialTokens *bool  `json:"add_special_tokens"`
}

// completionRequest is the part of POST /v1/completions the simulator
// reads; prompt is a text or a list of token ids.
type completionRequest struct {
	Model          string          `json:"model"`
	Prompt         json.RawMessage `json:"prompt"`
	MaxTokens      *int            `json:"max_tokens"`
	PromptLogprobs *int            `json:"prompt_logprobs"`
	Stream         bool            `json:"stream"`
}

func (s *Server) tokenize(w http.ResponseWriter, body []byte) {
	var req tokenizeRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, 400, "invalid request body: "+err.Error())
		return
	}
	if req.Model != "" && req.Model != s.opt.Model {
		writeError(w, 404, fmt.Sprintf("The model `%s` does not exist.", req.Model))
		return
	}
	add := req.AddSpecialTokens == nil || *req.AddSpecialTokens
	toks := Tokenize(s.opt.Layout, req.Prompt, add)
	writeJSON(w, 200, prm.TokenizeResponse{Count: len(toks), MaxModelLen: maxModelLen, Tokens: toks})
}

func (s *Server) completions(w http.ResponseWriter, body []byte) {
	var req completionRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, 400, "invalid request body: "+err.Error())
		return
	}
	if req.Model != s.opt.Model {
		writeError(w, 404, fmt.Sprintf("The model `%s` does not exist.", req.Model))
		return
	}
	var tokens []int
	var text string
	if len(req.Prompt) > 0 && req.Prompt[0] == '"' {
		if err := json.Unmarshal(req.Prompt, &text); err != nil || text == "" {
			writeError(w, 400, "Either prompt or prompt_embeds must be provided and non-empty.")
			return
		}
		tokens = Tokenize(s.opt.Layout, text, true)
	} else if err := json.Unmarshal(req.Prompt, &tokens); err != nil || len(tokens) == 0 {
		writeError(w, 400, "Either prompt or prompt_embeds must be provided and non-empty.")
		return
	}
	k := -1 // no prompt logprobs
	if req.PromptLogprobs != nil {
		k = *req.PromptLogprobs
		switch {
		case k < 0:
			writeError(w, 400, "`prompt_logprobs` must be a positive value or -1.")
			return
		case k > maxLogprobs:
			writeError(w, 400, fmt.Sprintf("Requested prompt logprobs of %d, which is greater than max allowed: %d", k, maxLogprobs))
			return
		case req.Stream:
			writeError(w, 400, "`prompt_logprobs` are not available when `stream=True`.")
			return
		}
	}
	entries, err := PromptLogprobs(s.opt.Layout, tokens, max(k, 0), s.opt.BuryLabels)
	if err != nil {
		writeError(w, 400, err.Error())
		return
	}
	s.requests.Add(1)
	s.inputs.Add(1)
	// The one generated token is always the good token: what follows the
	// prompt does not matter to scoring.
	choice := map[string]any{"index": 0, "text": "+", "logprobs": nil, "finish_reason": "length", "stop_reason": nil}
	if k >= 0 {
		choice["prompt_logprobs"] = entries
	}
	writeJSON(w, 200, map[string]any{
		"id": "cmpl-" + hashHex(body), "object": "text_completion", "created": time.Now().Unix(), "model": s.opt.Model,
		"choices": []any{choice},
		"usage":   openai.Usage{PromptTokens: len(tokens), CompletionTokens: 1, TotalTokens: len(tokens) + 1},
	})
}
