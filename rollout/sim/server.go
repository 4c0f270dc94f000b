package sim

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shepherd-prm/shepherd/rollout/openai"
)

// Options configures a simulated server. The zero value is usable: every
// zero field takes the default named in its comment.
type Options struct {
	// Model is the served model name. A request naming another model gets
	// 404; empty accepts any name and lists the model as "sim".
	Model string
	// StepAccuracy is q, the probability that a generated step is correct
	// (0 means the default, 0.8).
	StepAccuracy float64
	// Phrasings is K, the number of textual forms a generated step line
	// takes (default 4, at most MaxPhrasings): each sampled step line is
	// written in one of the first K phrasings, uniformly, independently of
	// its correctness. 1 writes every step as the bare equation, as does
	// greedy decoding whatever K.
	Phrasings int
	// BlockSize is the prefix-cache block size in tokens (default 16).
	BlockSize int
	// CacheBlocks is how many blocks the prefix cache holds (default 8192).
	CacheBlocks int
	// Latency is added to every generation request; TokenLatency is added
	// per generated token of the longest sample (the samples of one
	// request decode in parallel); PrefillTokenLatency is added per prompt
	// token not found in the prefix cache (cached tokens cost nothing, as
	// vLLM skips their computation). All default to 0. A request's time
	// runs once it holds its slots (see MaxNumSeqs).
	Latency, TokenLatency, PrefillTokenLatency time.Duration
	// MaxNumSeqs bounds the sequences generated at once, like vLLM's
	// max_num_seqs: a request with n samples (times its prompts) is n
	// sequences, each of which waits, first come first served, for a slot
	// and holds it for the request's duration from its own start; the
	// request answers when its last sequence is done. 0 means unbounded.
	MaxNumSeqs int
	// Rate500, Rate429, RateTruncated and RateHang are the probabilities
	// that a generation request fails with 500, is refused with 429 and
	// Retry-After, gets a 200 whose JSON body is cut in half, or is held
	// for HangFor before being answered. Each is in [0, 1] and their sum
	// at most 1; one draw per request decides.
	Rate500, Rate429, RateTruncated, RateHang float64
	// RetryAfter is the Retry-After of a 429, in seconds (default 1).
	RetryAfter int
	// HangFor is how long a hung request is held (default 1 minute) unless
	// the client goes away or the server closes first.
	HangFor time.Duration
	// FaultSeed seeds the fault draws, which are independent of the
	// samples: with fixed request seeds a faulty server's samples equal a
	// clean server's.
	FaultSeed int64
	// MaxN is the largest n a request may ask for (default 128).
	MaxN int
	// MaxModelLen is the context length in tokens, prompt plus completion
	// (default 32768).
	MaxModelLen int
	// FailFirst makes the first FailFirst generation requests fail with
	// FailStatus (default 500), deterministically, before any fault draw.
	FailFirst  int
	FailStatus int
	// Flavour is the server imitated where servers differ (see
	// flavour.go): FlavourVLLM (default) or FlavourSGLang.
	Flavour Flavour
	// DeterministicInference is SGLang's --enable-deterministic-inference,
	// without which an SGLang server ignores seeds.
	DeterministicInference bool
	// APIKey, when set, is the key every /v1 request must carry as
	// "Authorization: Bearer <key>" (vLLM's --api-key); others get 401.
	APIKey string
}

// Validate reports the first invalid option, naming it and its limit.
func (o Options) Validate() error {
	rates := []struct {
		name string
		v    float64
	}{{"Rate500", o.Rate500}, {"Rate429", o.Rate429}, {"RateTruncated", o.RateTruncated}, {"RateHang", o.RateHang}, {"StepAccuracy", o.StepAccuracy}}
	sum := 0.0
	for i, r := range rates {
		if !(r.v >= 0 && r.v <= 1) {
			return fmt.Errorf("%s = %v: must be in [0, 1]", r.name, r.v)
		}
		if i < 4 {
			sum += r.v
		}
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("fault rates sum to %v: must be at most 1", sum)
	}
	ints := []struct {
		name string
		v    int
	}{{"BlockSize", o.BlockSize}, {"CacheBlocks", o.CacheBlocks}, {"RetryAfter", o.RetryAfter}, {"MaxN", o.MaxN}, {"MaxModelLen", o.MaxModelLen}, {"FailFirst", o.FailFirst}, {"MaxNumSeqs", o.MaxNumSeqs}}
	for _, i := range ints {
		if i.v < 0 {
			return fmt.Errorf("%s = %d: must not be negative", i.name, i.v)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Latency", o.Latency}, {"TokenLatency", o.TokenLatency}, {"PrefillTokenLatency", o.PrefillTokenLatency}, {"HangFor", o.HangFor}} {
		if d.v < 0 {
			return fmt.Errorf("%s = %v: must not be negative", d.name, d.v)
		}
	}
	if o.Phrasings < 0 || o.Phrasings > MaxPhrasings {
		return fmt.Errorf("%s = %d: must be in [1, %d] (0 for the default, 4)", "Phrasings", o.Phrasings, MaxPhrasings)
	}
	if o.FailStatus != 0 && (o.FailStatus < 400 || o.FailStatus > 599) {
		return fmt.Errorf("FailStatus = %d: must be an HTTP error status (400-599)", o.FailStatus)
	}
	return o.validateFlavour()
}

func (o Options) withDefaults() Options {
	orDefault(&o.StepAccuracy, 0.8)
	orDefault(&o.Phrasings, 4)
	orDefault(&o.BlockSize, 16)
	orDefault(&o.CacheBlocks, 8192)
	orDefault(&o.RetryAfter, 1)
	orDefault(&o.HangFor, time.Minute)
	orDefault(&o.MaxN, 128)
	orDefault(&o.MaxModelLen, 32768)
	orDefault(&o.FailStatus, http.StatusInternalServerError)
	return o
}

// orDefault sets a zero option to its default.
func orDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// Stats counts what a server has done. Requests and ByStatus cover the two
// generation endpoints only; tokens count successful responses (a
// truncated one included).
type Stats struct {
	Requests int64
	// ByStatus counts responses by HTTP status; 499 counts requests whose
	// client went away before the response.
	ByStatus         map[int]int64
	Choices          int64
	PromptTokens     int64
	CompletionTokens int64
	CachedTokens     int64
	// Injected faults by kind.
	Fault500, Fault429, FaultTruncated, FaultHang, FailedFirst int64
	// SeqSeconds is the sequence-seconds spent generating: each finished
	// request adds its slots times its modelled duration (a request whose
	// client went away, the time it held them). Utilization over a wall
	// time is SeqSeconds / (MaxNumSeqs x wall).
	SeqSeconds float64
	// Running and Waiting are the sequences generating and queued for
	// slots now.
	Running, Waiting int
}

// Server is a simulated OpenAI-compatible inference server; see the package
// documentation for its world model. It is an http.Handler.
type Server struct {
	opt      Options
	cache    *prefixCache
	created  int64
	seq      atomic.Int64
	faultMu  sync.Mutex
	faultRNG *rand.Rand
	statsMu  sync.Mutex
	stats    Stats
	closed   chan struct{}
	closeOne sync.Once
	inflight atomic.Int64
	slots    *slots
}

// New returns a server with opt's defaults filled in. It panics on options
// that Validate rejects.
func New(opt Options) *Server {
	if err := opt.Validate(); err != nil {
		panic("sim: " + err.Error())
	}
	opt = opt.withDefaults()
	return &Server{
		opt:      opt,
		cache:    newPrefixCache(opt.BlockSize, opt.CacheBlocks),
		created:  time.Now().Unix(),
		faultRNG: rand.New(rand.NewPCG(uint64(opt.FaultSeed), 0x5eed_fa17)),
		stats:    Stats{ByStatus: map[int]int64{}},
		closed:   make(chan struct{}),
		slots:    newSlots(opt.MaxNumSeqs),
	}
}

// Options returns the server's options with defaults filled in.
func (s *Server) Options() Options { return s.opt }

// ModelName is the name the server lists and answers with.
func (s *Server) ModelName() string {
	if s.opt.Model == "" {
		return "sim"
	}
	return s.opt.Model
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	st := s.stats
	st.ByStatus = make(map[int]int64, len(s.stats.ByStatus))
	for k, v := range s.stats.ByStatus {
		st.ByStatus[k] = v
	}
	st.Running, st.Waiting, st.SeqSeconds = s.slots.snapshot()
	return st
}

// Close releases requests that are hanging or sleeping out their latency:
// they are answered 503. Call it before http.Server.Shutdown so that
// shutdown does not wait for them.
func (s *Server) Close() { s.closeOne.Do(func() { close(s.closed) }) }

// Start serves s on a free loopback port until stop is called, returning
// the base URL "http://127.0.0.1:PORT/v1".
func (s *Server) Start() (baseURL string, stop func(), err error) {
	// Release held requests and let the handlers finish, then shut down.
	// The short grace covers responses still being flushed; connections a
	// client opened but never used would otherwise hold
	// http.Server.Shutdown for seconds.
	addr, stop, err := ServeLoopback(s, func(srv *http.Server) {
		s.Close()
		srv.SetKeepAlivesEnabled(false)
		for deadline := time.Now().Add(5 * time.Second); s.inflight.Load() > 0 && time.Now().Before(deadline); {
			time.Sleep(2 * time.Millisecond)
		}
	}, 100*time.Millisecond)
	if err != nil {
		return "", nil, err
	}
	return "http://" + addr + "/v1", stop, nil
}

// Start runs a new server with opt on a free loopback port for in-process
// use, returning its base URL "http://127.0.0.1:PORT/v1" and a function
// that stops it.
func Start(opt Options) (baseURL string, stop func(), err error) {
	if err := opt.Validate(); err != nil {
		return "", nil, err
	}
	return New(opt).Start()
}

const maxBody = 32 << 20

// ServeHTTP serves POST /v1/completions, POST /v1/chat/completions,
// GET /v1/models and GET /health.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.inflight.Add(1)
	defer s.inflight.Add(-1)
	if s.opt.APIKey != "" && strings.HasPrefix(r.URL.Path, "/v1") && !s.authorized(r) {
		// vLLM's AuthenticationMiddleware guards every /v1 route, models
		// included, and answers with a bare string, not the usual error
		// object: JSONResponse(content={"error": "Unauthorized"},
		// status_code=401) (vllm/entrypoints/serve/utils/server_utils.py).
		s.count(func(st *Stats) { st.ByStatus[http.StatusUnauthorized]++ })
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Unauthorized"})
		return
	}
	switch r.URL.Path {
	case "/v1/completions":
		s.generate(w, r, false)
	case "/v1/chat/completions":
		s.generate(w, r, true)
	case "/v1/models":
		if !allowGet(w, r) {
			return
		}
		card := openai.ModelCard{ID: s.ModelName(), Object: "model", Created: s.created, OwnedBy: "vllm", Root: s.ModelName(), MaxModelLen: s.opt.MaxModelLen,
			Permission: []openai.ModelPermission{{ID: "modelperm-" + randomHex(), Object: "model_permission", Created: s.created, AllowSampling: true, AllowLogprobs: true, AllowView: true, Organization: "*"}}}
		writeJSON(w, http.StatusOK, openai.ModelList{Object: "list", Data: []openai.ModelCard{card}})
	case "/health":
		if allowGet(w, r) {
			w.WriteHeader(http.StatusOK)
		}
	default:
		if !s.serveFlavour(w, r) {
			writeError(w, http.StatusNotFound, "Not Found")
		}
	}
}

// authorized checks the bearer token as vLLM does: scheme "bearer" in any
// case, then the key compared in constant time.
func (s *Server) authorized(r *http.Request) bool {
	scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.EqualFold(scheme, "bearer") && subtle.ConstantTimeCompare([]byte(key), []byte(s.opt.APIKey)) == 1
}

func allowGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeError(w, http.StatusMethodNotAllowed, "Method Not Allowed")
	return false
}

func errorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "BadRequestError"
	case http.StatusNotFound:
		return "NotFoundError"
	case http.StatusInternalServerError:
		return "InternalServerError"
	}
	return http.StatusText(status)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, openai.ErrorBody{Error: &openai.ErrorDetail{Message: msg, Type: errorType(status), Code: status}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":{"message":"encoding the response failed","type":"InternalServerError","param":null,"code":500}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func randomHex() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// job is a validated generation request.
type job struct {
	chat      bool
	model     string
	prompts   []prompt
	n         int
	seed      *int64
	greedy    bool
	maxTokens int // 0: up to the context length
	stop      []string
}

// prompt is one prompt: text is what the model sees (tokens, cache and the
// sample seed come from it), analysed is where the question and solution
// prefix are looked for, fresh says a new solution is asked for.
type prompt struct {
	text     string
	analysed string
	fresh    bool
	toks     []string
}

type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, a ...any) *httpError {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, a...)}
}

// parse decodes and validates a generation request.
func (s *Server) parse(r *http.Request, w http.ResponseWriter, chat bool) (*job, *httpError) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return nil, &httpError{http.StatusMethodNotAllowed, "Method Not Allowed"}
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return nil, &httpError{http.StatusUnsupportedMediaType, "Unsupported Media Type: Only 'application/json' is allowed"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body exceeds %d bytes", mb.Limit)}
		}
		return nil, badRequest("reading the request body: %v", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, badRequest("the request body is empty; expected a JSON object")
	}
	j := &job{chat: chat}
	var (
		n, maxTokens int
		temperature  *float64
		topP         *float64
		stream       bool
	)
	if chat {
		var req chatBody
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, badRequest("%s", decodeError(err))
		}
		if len(req.Messages) == 0 {
			return nil, badRequest(`"messages" must not be empty`)
		}
		if req.ContinueFinalMessage && req.AddGenerationPrompt != nil && *req.AddGenerationPrompt {
			return nil, badRequest("Cannot set both `continue_final_message` and `add_generation_prompt` to True.")
		}
		j.model, n, j.seed, temperature, topP, maxTokens, j.stop, stream = req.Model, req.N, req.Seed, req.Temperature, req.TopP, req.MaxTokens, req.Stop, req.Stream
		if req.MaxCompletionTokens != nil {
			if *req.MaxCompletionTokens < 1 {
				return nil, badRequest("max_completion_tokens must be at least 1, got %d.", *req.MaxCompletionTokens)
			}
			maxTokens = *req.MaxCompletionTokens
		}
		addGen := !req.ContinueFinalMessage
		if req.AddGenerationPrompt != nil {
			addGen = *req.AddGenerationPrompt
		}
		j.prompts = []prompt{renderChat(req.Messages, req.ContinueFinalMessage, addGen)}
	} else {
		var req completionBody
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, badRequest("%s", decodeError(err))
		}
		if len(req.Prompt) == 0 {
			return nil, badRequest(`"prompt" is required`)
		}
		for i, p := range req.Prompt {
			if p == "" {
				return nil, badRequest("prompt %d is empty", i)
			}
			j.prompts = append(j.prompts, prompt{text: p, analysed: p})
		}
		j.model, n, j.seed, temperature, topP, maxTokens, j.stop, stream = req.Model, req.N, req.Seed, req.Temperature, req.TopP, req.MaxTokens, req.Stop, req.Stream
	}
	// vLLM's OpenAIServing._check_model (vllm/entrypoints/openai/
	// serving_engine.py): create_error_response(message=f"The model
	// `{request.model}` does not exist.", err_type="NotFoundError",
	// status_code=HTTPStatus.NOT_FOUND).
	if j.model != "" && s.opt.Model != "" && j.model != s.opt.Model {
		return nil, &httpError{http.StatusNotFound, fmt.Sprintf("The model `%s` does not exist.", j.model)}
	}
	if j.model == "" {
		j.model = s.ModelName()
	}
	switch {
	case stream:
		return nil, badRequest("stream is not supported by the simulator")
	case n < 0:
		return nil, badRequest("n must be at least 1, got %d.", n)
	case n > s.opt.MaxN:
		return nil, badRequest("n must be at most %d, got %d.", s.opt.MaxN, n)
	case maxTokens < 0:
		return nil, badRequest("max_tokens must be at least 1, got %d.", maxTokens)
	case temperature != nil && !(*temperature >= 0):
		return nil, badRequest("temperature must be non-negative, got %v.", *temperature)
	case topP != nil && !(*topP > 0 && *topP <= 1):
		return nil, badRequest("top_p must be in (0, 1], got %v.", *topP)
	}
	j.n = max(n, 1)
	j.greedy = temperature != nil && *temperature == 0
	j.maxTokens = maxTokens
	for i := range j.prompts {
		p := &j.prompts[i]
		p.toks = tokenize(p.text)
		np := len(p.toks)
		// vLLM's OpenAIServing._validate_input (serving_engine.py)
		// rejects a prompt that fills the context, or one that leaves no
		// room for max_tokens, with 400 and these messages.
		switch {
		case np >= s.opt.MaxModelLen:
			return nil, badRequest("This model's maximum context length is %d tokens. However, your request has %d input tokens. Please reduce the length of the input messages.", s.opt.MaxModelLen, np)
		case maxTokens > 0 && np+maxTokens > s.opt.MaxModelLen:
			return nil, badRequest("'max_tokens' or 'max_completion_tokens' is too large: %d. This model's maximum context length is %d tokens and your request has %d input tokens (%d > %d - %d).", maxTokens, s.opt.MaxModelLen, np, maxTokens, s.opt.MaxModelLen, np)
		}
	}
	return j, nil
}

// renderChat lays the messages out in a ChatML template (what the model
// sees and what is tokenized) and joins their contents for analysis.
func renderChat(msgs []chatMessageIn, continueFinal, addGen bool) prompt {
	var text, joined strings.Builder
	for i, m := range msgs {
		final := i == len(msgs)-1
		fmt.Fprintf(&text, "<|im_start|>%s\n%s", m.Role, m.Content)
		if !(final && continueFinal) {
			text.WriteString("<|im_end|>\n")
		}
		if i > 0 {
			joined.WriteByte('\n')
		}
		joined.WriteString(string(m.Content))
	}
	if addGen && !continueFinal {
		text.WriteString("<|im_start|>assistant\n")
	}
	return prompt{text: text.String(), analysed: joined.String(), fresh: !continueFinal}
}

type faultKind int

const (
	faultNone faultKind = iota
	fault500
	fault429
	faultTruncate
	faultHang
)

func (s *Server) drawFault() faultKind {
	o := s.opt
	if o.Rate500+o.Rate429+o.RateTruncated+o.RateHang == 0 {
		return faultNone
	}
	s.faultMu.Lock()
	u := s.faultRNG.Float64()
	s.faultMu.Unlock()
	for _, f := range []struct {
		k faultKind
		p float64
	}{{fault500, o.Rate500}, {fault429, o.Rate429}, {faultTruncate, o.RateTruncated}, {faultHang, o.RateHang}} {
		if u < f.p {
			return f.k
		}
		u -= f.p
	}
	return faultNone
}

func (s *Server) count(f func(st *Stats)) {
	s.statsMu.Lock()
	f(&s.stats)
	s.statsMu.Unlock()
}

func (s *Server) fail(w http.ResponseWriter, status int, msg string) {
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", fmt.Sprint(s.opt.RetryAfter))
	}
	writeError(w, status, msg)
	s.count(func(st *Stats) { st.ByStatus[status]++ })
}

// wait sleeps for d unless the client goes away (false, 499) or the server
// closes (false, 503).
func (s *Server) wait(ctx context.Context, d time.Duration) (bool, int) {
	if d <= 0 {
		return true, 0
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true, 0
	case <-ctx.Done():
		return false, 499
	case <-s.closed:
		return false, http.StatusServiceUnavailable
	}
}

// running waits until a child holds its slot; false if the client went
// away or the server closed first.
func (s *Server) running(ctx context.Context, c *child) bool {
	select {
	case <-c.ready:
		return true
	case <-ctx.Done():
	case <-s.closed:
	}
	return false
}

func (s *Server) generate(w http.ResponseWriter, r *http.Request, chat bool) {
	s.count(func(st *Stats) { st.Requests++ })
	j, herr := s.parse(r, w, chat)
	if herr != nil {
		s.fail(w, herr.status, herr.msg)
		return
	}
	if s.seq.Add(1) <= int64(s.opt.FailFirst) {
		s.count(func(st *Stats) { st.FailedFirst++ })
		s.fail(w, s.opt.FailStatus, "simulated failure (FailFirst)")
		return
	}
	fault := s.drawFault()
	switch fault {
	case fault500:
		s.count(func(st *Stats) { st.Fault500++ })
		s.fail(w, http.StatusInternalServerError, "simulated internal server error")
		return
	case fault429:
		s.count(func(st *Stats) { st.Fault429++ })
		s.fail(w, http.StatusTooManyRequests, "simulated overload: too many requests")
		return
	case faultHang:
		s.count(func(st *Stats) { st.FaultHang++ })
		if ok, status := s.wait(r.Context(), s.opt.HangFor); !ok {
			s.abort(w, status)
			return
		}
	}

	// Queue the request's sequences for slots, then, once the first runs,
	// look the prompts up in the prefix cache (as vLLM does when it
	// schedules a request). Each sequence generates for the request's
	// modelled time from its own start, to a deadline fixed from that
	// start so that timer lateness on a busy machine does not pile up, and
	// the response leaves with the last one.
	children := s.slots.queue(s.slots.clamp(len(j.prompts) * j.n))
	withdraw := func(status int) {
		s.slots.withdraw(children, time.Now())
		if status == 0 {
			status = 499
			if r.Context().Err() == nil {
				status = http.StatusServiceUnavailable
			}
		}
		s.abort(w, status)
	}
	if !s.running(r.Context(), children[0]) {
		withdraw(0)
		return
	}
	resp, u, maxTokens := s.run(j)
	d := s.opt.Latency + time.Duration(maxTokens)*s.opt.TokenLatency +
		time.Duration(u.PromptTokens-u.CachedTokens())*s.opt.PrefillTokenLatency
	for _, c := range children {
		if !s.running(r.Context(), c) {
			withdraw(0)
			return
		}
		time.AfterFunc(time.Until(c.at.Add(d)), func() { s.slots.finish(c, d) })
	}
	if ok, status := s.wait(r.Context(), time.Until(children[len(children)-1].at.Add(d))); !ok {
		withdraw(status)
		return
	}
	// Every sequence is done: count them all before answering, whether or
	// not their timers have fired yet.
	for _, c := range children {
		s.slots.finish(c, d)
	}
	body, err := json.Marshal(resp)
	if err != nil {
		s.fail(w, http.StatusInternalServerError, "encoding the response failed")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if fault == faultTruncate {
		body = body[:len(body)/2]
		s.count(func(st *Stats) { st.FaultTruncated++ })
	} else {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	s.count(func(st *Stats) {
		st.ByStatus[http.StatusOK]++
		st.PromptTokens += int64(u.PromptTokens)
		st.CompletionTokens += int64(u.CompletionTokens)
		st.CachedTokens += int64(u.CachedTokens())
	})
}

func (s *Server) abort(w http.ResponseWriter, status int) {
	if status == http.StatusServiceUnavailable {
		s.fail(w, status, "the server is shutting down")
		return
	}
	s.count(func(st *Stats) { st.ByStatus[status]++ })
}

// run generates every sample of a job and returns the response body (an
// openai.CompletionResponse or openai.ChatResponse), its usage and the
// token count of its longest sample.
func (s *Server) run(j *job) (any, openai.Usage, int) {
	u := openai.Usage{PromptTokensDetails: &openai.PromptTokensDetails{}}
	var cchoices []openai.CompletionChoice
	var hchoices []openai.ChatChoice
	longest := 0
	for pi, p := range j.prompts {
		u.PromptTokens += len(p.toks)
		u.PromptTokensDetails.CachedTokens += s.cache.lookup(p.toks)
		limit := j.maxTokens
		if limit == 0 {
			limit = s.opt.MaxModelLen - len(p.toks)
		}
		c, st, lead, err := analyzePrompt(p.analysed, p.fresh)
		for i := 0; i < j.n; i++ {
			var full string
			if err != nil {
				full = leadFor(p.analysed) + formatAnswer(0)
			} else {
				seed, k := s.sampleSeed(j.seed, i)
				rng, style := sampleRNG(seed, k, p.text)
				smp := sampling{q: s.opt.StepAccuracy, greedy: j.greedy, phrasings: s.opt.Phrasings, rng: rng, style: style}
				full = lead + strings.Join(c.continuation(st, smp), "\n")
			}
			text, finish, stopReason, ntok := finish(full, j.stop, limit)
			longest = max(longest, ntok)
			u.CompletionTokens += ntok
			idx := pi*j.n + i
			if j.chat {
				hchoices = append(hchoices, openai.ChatChoice{Index: idx, Message: openai.AssistantMessage{Role: "assistant", Content: text, ToolCalls: []any{}}, FinishReason: finish, StopReason: stopReason})
			} else {
				cchoices = append(cchoices, openai.CompletionChoice{Index: idx, Text: text, FinishReason: finish, StopReason: stopReason})
			}
		}
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	s.count(func(st *Stats) { st.Choices += int64(len(j.prompts) * j.n) })
	if j.chat {
		head := openai.Head{ID: "chatcmpl-" + randomHex(), Object: "chat.completion", Created: time.Now().Unix(), Model: j.model}
		return openai.ChatResponse{Head: head, Choices: hchoices, Usage: u}, u, longest
	}
	head := openai.Head{ID: "cmpl-" + randomHex(), Object: "text_completion", Created: time.Now().Unix(), Model: j.model}
	return openai.CompletionResponse{Head: head, Choices: cchoices, Usage: u}, u, longest
}

// sampleRNG returns the generators of sample i, one for correctness and
// slips and one for phrasings: seeded from (seed+i, text) when the request
// has a seed, so that sample i of a request with seed S equals sample 0 of
// the same request with seed S+i and n = 1; random otherwise. Separate
// generators keep correctness independent of phrasing: a sample's right and
// wrong steps are the same whatever Phrasings is.
func sampleRNG(seed *int64, i int, text string) (rng, style *rand.Rand) {
	if seed == nil {
		return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(*seed+int64(i)))
	h.Write(b[:])
	h.Write([]byte(text))
	sum := h.Sum(nil)
	le := binary.LittleEndian
	return rand.New(rand.NewPCG(le.Uint64(sum[:8]), le.Uint64(sum[8:16]))), rand.New(rand.NewPCG(le.Uint64(sum[16:24]), le.Uint64(sum[24:32])))
}

// finish applies stop strings and the token limit to a generated text as a
// decoding server would, token by token: it returns the text up to (not
// including) the first stop string with finish reason "stop" and the stop
// string as stop reason; the text of the first limit tokens with "length";
// or the whole text with "stop" and a null stop reason, counting the
// end-of-sequence token, which must fit in the limit too.
func finish(text string, stops []string, limit int) (out, reason string, stopReason any, ntok int) {
	toks := tokenize(text)
	longest := 0
	for _, s := range stops {
		longest = max(longest, len(s))
	}
	end := 0
	for i, t := range toks {
		if limit > 0 && i >= limit {
			return text[:end], "length", nil, i
		}
		prev := end
		end += len(t)
		from := max(0, prev-longest+1)
		best, which := -1, ""
		for _, s := range stops {
			if s == "" {
				continue
			}
			if k := strings.Index(text[from:end], s); k >= 0 && (best < 0 || from+k < best) {
				best, which = from+k, s
			}
		}
		if best >= 0 {
			return text[:best], "stop", which, i + 1
		}
	}
	if limit > 0 && len(toks) >= limit {
		return text, "length", nil, len(toks)
	}
	return text, "stop", nil, len(toks) + 1
}
