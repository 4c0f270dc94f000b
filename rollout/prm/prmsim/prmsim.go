// Package prmsim is a simulated process reward model server for tests, the
// demo and benchmarks. For a layout scored through /pooling (qwen-prm,
// custom with a positive index) it speaks vLLM's pooling API (POST
// /pooling) as a reward model served with step pooling does: one row of
// class probabilities per step tag in the input. For a layout with token
// ids (math-shepherd, custom with token ids) it speaks what a stock
// `vllm serve` of a causal LM speaks: POST /tokenize and POST
// /v1/completions with prompt_logprobs (see logprobs.go), and its /pooling
// answers as vLLM's reward runner does for such a model: plausible
// probabilities that mean nothing.
//
// # Scores
//
// The simulator reads the input in its layout (Options.Layout, default
// Math-Shepherd): the text is cut at every occurrence of the layout's step
// tag, one step per tag. Step k's score (the positive class's probability)
// is then:
//
//   - for the built-in simulator's world (rollout/sim: a question "Start
//     with <n>. … What is the result?" and one equation per step), high
//     (0.75 to 0.95) while the prefix up to step k has no error by
//     sim.FirstError, and low (0.05 to 0.25) from the first erroneous step
//     on: a perfect verifier with a little deterministic jitter;
//   - for any other text, a deterministic hash of the input up to step
//     k's tag, uniform in [0, 1).
//
// A row has two classes (more when the positive index is larger); the
// positive class holds the score and the others share the rest. The same
// input always gets the same rows.
//
// # Wire format
//
// POST /pooling takes {"model", "input": string or list of strings} and
// answers {"id": "pool-…", "object": "list", "created", "model", "data":
// [{"index", "object": "pooling", "data": [[p0, p1], …]}], "usage":
// {"prompt_tokens", "total_tokens", "completion_tokens": 0}}. GET /health
// answers 200 and GET /v1/models lists the model. Errors use vLLM's body
// {"error": {"message", "type", "param", "code"}}: 400 for a bad body or an
// empty input, 404 "The model `x` does not exist." for another model and
// for unknown paths, 405 for a wrong method.
package prmsim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shepherd-prm/shepherd/rollout/openai"
	"github.com/shepherd-prm/shepherd/rollout/prm"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

// DefaultModel is the model name the simulator serves by default.
const DefaultModel = "sim-prm"

// maxBody bounds a request body.
const maxBody = 32 << 20

// Options configure a simulated server.
type Options struct {
	Model   string        // default DefaultModel
	Layout  prm.Layout    // how inputs mark steps; the zero Layout means prm.MathShepherd
	Latency time.Duration // added to every successful response
	// BuryLabels puts the good and bad tokens below the top 20 at every
	// step tag, so a client must ask for them on their own.
	BuryLabels bool
}

// Server is the simulated reward model server, an http.Handler.
type Server struct {
	opt      Options
	requests atomic.Int64
	inputs   atomic.Int64
}

// New returns a server. The layout must be valid (prm.Layout.Validate).
func New(opt Options) (*Server, error) {
	if opt.Model == "" {
		opt.Model = DefaultModel
	}
	if opt.Layout == (prm.Layout{}) {
		opt.Layout = prm.MathShepherd
	}
	if err := opt.Layout.Validate(); err != nil {
		return nil, fmt.Errorf("prmsim: %w", err)
	}
	if opt.Layout.API() == prm.APICompletions {
		if err := checkTokenIDs(opt.Layout); err != nil {
			return nil, fmt.Errorf("prmsim: %w", err)
		}
	}
	if opt.Latency < 0 {
		return nil, fmt.Errorf("prmsim: Latency must not be negative, got %v", opt.Latency)
	}
	return &Server{opt: opt}, nil
}

// Requests returns the number of pooling requests answered successfully.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Inputs returns the number of inputs scored.
func (s *Server) Inputs() int64 { return s.inputs.Load() }

// Start serves a new simulator on a free loopback port until stop is
// called, returning its root URL "http://127.0.0.1:PORT" (the pooling API
// is at /pooling).
func Start(opt Options) (baseURL string, stop func(), err error) {
	s, err := New(opt)
	if err != nil {
		return "", nil, err
	}
	addr, stop, err := sim.ServeLoopback(s, nil, time.Second)
	if err != nil {
		return "", nil, err
	}
	return "http://" + addr, stop, nil
}

// ServeHTTP serves POST /pooling, GET /health and GET /v1/models, and for
// a layout with token ids POST /tokenize and POST /v1/completions.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/tokenize", "/v1/completions":
		if s.opt.Layout.API() != prm.APICompletions {
			// A model served with --runner pooling has no generate API.
			writeError(w, http.StatusNotFound, "Not Found")
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
			return
		}
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		if r.URL.Path == "/tokenize" {
			s.tokenize(w, body)
		} else {
			s.completions(w, body)
		}
	case "/pooling":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
			return
		}
		s.pooling(w, r)
	case "/health":
		w.WriteHeader(http.StatusOK)
	case "/v1/models":
		writeJSON(w, http.StatusOK, map[string]any{
			"object": "list",
			"data":   []map[string]any{{"id": s.opt.Model, "object": "model", "owned_by": "shepherd-prmsim"}},
		})
	default:
		writeError(w, http.StatusNotFound, "Not Found")
	}
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body exceeds %d bytes", mb.Limit))
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
		return nil, false
	}
	return body, true
}

func (s *Server) pooling(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req prm.PoolingRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
		return
	}
	if req.Model != s.opt.Model {
		writeError(w, http.StatusNotFound, fmt.Sprintf("The model `%s` does not exist.", req.Model))
		return
	}
	if len(req.Input) == 0 {
		writeError(w, http.StatusBadRequest, `"input" must not be empty`)
		return
	}
	resp := prm.PoolingResponse{
		Head: openai.Head{ID: "pool-" + hashHex(body), Object: "list", Created: time.Now().Unix(), Model: s.opt.Model},
		Data: make([]prm.PoolingData, len(req.Input)),
	}
	for i, in := range req.Input {
		if in == "" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("input %d is empty", i))
			return
		}
		rows, err := json.Marshal(s.poolRows(in))
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		resp.Data[i] = prm.PoolingData{Index: i, Object: "pooling", Data: rows}
		resp.Usage.PromptTokens += tokens(in)
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	if s.opt.Latency > 0 {
		t := time.NewTimer(s.opt.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	s.requests.Add(1)
	s.inputs.Add(int64(len(req.Input)))
	writeJSON(w, http.StatusOK, resp)
}

// poolRows is what /pooling answers for one input. A causal LM PRM
// served with --runner pooling (formerly --task reward) and STEP pooling
// has no LM head in vLLM: the pooler picks returned_token_ids' dimensions
// out of the last hidden state and softmaxes them (vLLM issue 16545). The
// rows are then probabilities with nothing to do with the step scores;
// the simulator answers pseudo-random ones, one per tag, likewise.
func (s *Server) poolRows(input string) [][]float64 {
	if s.opt.Layout.API() != prm.APICompletions {
		return Rows(s.opt.Layout, input)
	}
	parts := strings.Split(input, s.opt.Layout.StepTag)
	rows := make([][]float64, len(parts)-1)
	end := 0
	for k := range rows {
		end += len(parts[k]) + len(s.opt.Layout.StepTag)
		p := unit("hidden\x00" + input[:end])
		rows[k] = []float64{p, 1 - p}
	}
	return rows
}

// Rows returns the rows the simulator answers for one input: one per step
// tag, the positive class at layout.PositiveIndex.
func Rows(layout prm.Layout, input string) [][]float64 {
	if layout == (prm.Layout{}) {
		layout = prm.MathShepherd
	}
	scores := StepScores(layout, input)
	classes := max(2, layout.PositiveIndex+1)
	rows := make([][]float64, len(scores))
	for k, p := range scores {
		row := make([]float64, classes)
		rest := (1 - p) / float64(classes-1)
		for c := range row {
			row[c] = rest
		}
		row[layout.PositiveIndex] = p
		rows[k] = row
	}
	return rows
}

// StepScores returns the simulator's score of every step of an input laid
// out in layout (see the package documentation).
func StepScores(layout prm.Layout, input string) []float64 {
	if layout == (prm.Layout{}) {
		layout = prm.MathShepherd
	}
	parts := strings.Split(input, layout.StepTag)
	n := len(parts) - 1
	if n <= 0 {
		return []float64{}
	}
	if scores, ok := worldScores(parts); ok {
		return scores
	}
	scores := make([]float64, n)
	end := 0
	for k := range n {
		end += len(parts[k]) + len(layout.StepTag)
		scores[k] = unit(input[:end])
	}
	return scores
}

const questionEnd = "What is the result?"

// worldScores scores the steps of a question in the simulator's world by
// ground truth; ok is false for other text.
func worldScores(parts []string) ([]float64, bool) {
	i := strings.LastIndex(parts[0], questionEnd)
	if i < 0 {
		return nil, false
	}
	question := parts[0][:i+len(questionEnd)]
	first := parts[0][i+len(questionEnd):]
	if j := strings.LastIndex(first, "<|im_start|>assistant\n"); j >= 0 {
		first = first[j+len("<|im_start|>assistant\n"):]
	}
	n := len(parts) - 1
	steps := make([]string, n)
	steps[0] = strings.TrimSpace(first)
	for k := 1; k < n; k++ {
		steps[k] = strings.TrimSpace(parts[k])
	}
	scores := make([]float64, n)
	for k := range n {
		fe, err := sim.FirstError(question, strings.Join(steps[:k+1], "\n"))
		if err != nil {
			return nil, false
		}
		jitter := 0.2 * unit(fmt.Sprintf("%d\x00%s", k, steps[k]))
		if fe < 0 {
			scores[k] = 0.75 + jitter
		} else {
			scores[k] = 0.05 + jitter
		}
	}
	return scores, true
}

// unit maps a text to a number in [0, 1).
func unit(s string) float64 {
	h := sha256.Sum256([]byte(s))
	return float64(binary.BigEndian.Uint64(h[:8])>>11) / (1 << 53)
}

func hashHex(b []byte) string {
	h := sha256.Sum256(b)
	return fmt.Sprintf("%x", h[:12])
}

// tokens is a rough token count for usage: words and punctuation runs.
func tokens(s string) int {
	return len(strings.Fields(s)) + strings.Count(s, "<")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	typ := "BadRequestError"
	switch status {
	case http.StatusNotFound:
		typ = "NotFoundError"
	case http.StatusMethodNotAllowed:
		typ = "MethodNotAllowed"
	case http.StatusInternalServerError:
		typ = "InternalServerError"
	}
	writeJSON(w, status, openai.ErrorBody{Error: &openai.ErrorDetail{Message: msg, Type: typ, Code: status}})
}
