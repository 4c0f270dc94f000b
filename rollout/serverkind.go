package rollout

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ServerKind names an inference server family whose sampling semantics
// shepherd knows.
type ServerKind string

const (
	// ServerVLLM: a request with n and seed S draws sample i with seed
	// S+i, so asking for n samples at once or one at a time with seeds
	// S..S+n-1 gives the same samples. They repeat across runs only on a
	// batch-invariant server (VLLM_BATCH_INVARIANT=1): otherwise the batch
	// a request lands in changes its numerics.
	ServerVLLM ServerKind = "vllm"
	// ServerSGLang: seeds take effect only with
	// --enable-deterministic-inference, and then the n samples of one
	// request share the request's seed (n identical samples). Samples are
	// asked for one per request, seeds S..S+n-1; without deterministic
	// inference no seed is sent and a resumed job may draw other samples.
	ServerSGLang ServerKind = "sglang"
	// ServerGeneric: any other OpenAI-compatible server, asked as vLLM is.
	ServerGeneric ServerKind = "generic"
)

// ParseServerKind parses "vllm", "sglang" or "generic"; "" and "auto"
// return "" (detect).
func ParseServerKind(s string) (ServerKind, error) {
	switch k := ServerKind(strings.ToLower(strings.TrimSpace(s))); k {
	case "", "auto":
		return "", nil
	case ServerVLLM, ServerSGLang, ServerGeneric:
		return k, nil
	}
	return "", fmt.Errorf("rollout: unknown server kind %q (want auto, %s, %s or %s)", s, ServerVLLM, ServerSGLang, ServerGeneric)
}

// ServerInfo is what shepherd knows of a server's sampling.
type ServerInfo struct {
	Kind ServerKind // "" means generic
	// Deterministic is SGLang's enable_deterministic_inference.
	Deterministic bool
	Version       string
}

// Seeded reports whether the server honours seeds; resumed and retried
// requests then get the same samples (up to batch invariance).
func (si ServerInfo) Seeded() bool { return si.Kind != ServerSGLang || si.Deterministic }

// maxN is the largest n to ask for in one request: 1 on a deterministic
// SGLang server, whose n samples of one request would be identical.
func (si ServerInfo) maxN(configured int) int {
	if si.Kind == ServerSGLang && si.Deterministic {
		return 1
	}
	return configured
}

// Describe says in a sentence what is reproducible on the server.
func (si ServerInfo) Describe() string {
	switch {
	case si.Kind == ServerSGLang && si.Deterministic:
		return "SGLang with deterministic inference: one sample per request, seeds S..S+n-1; samples repeat across runs"
	case si.Kind == ServerSGLang:
		return "SGLang without --enable-deterministic-inference ignores seeds: samples are not seeded, and a retried or resumed request may draw different samples"
	case si.Kind == ServerVLLM:
		return "vLLM: n samples with seeds S..S+n-1; they repeat across runs only when the server runs with VLLM_BATCH_INVARIANT=1"
	}
	return "generic OpenAI-compatible server: seeds sent as to vLLM; whether samples repeat depends on the server"
}

// DetectServer asks the server at baseURL (ending in /v1) what it is:
// SGLang answers GET /get_server_info (or /server_info) with its server arguments (including
// enable_deterministic_inference), vLLM answers GET /version; anything else
// is generic. It never fails: an unreachable server is generic.
func DetectServer(ctx context.Context, hc *http.Client, baseURL, apiKey string) ServerInfo {
	if hc == nil {
		hc = http.DefaultClient
	}
	root := strings.TrimSuffix(strings.TrimRight(baseURL, "/"), "/v1")
	get := func(path string, v any) bool {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, root+path, nil)
		if err != nil {
			return false
		}
		if apiKey != "" {
			req.Header.Set("Authorization", "Bearer "+apiKey)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return err == nil && resp.StatusCode == http.StatusOK && json.Unmarshal(data, v) == nil
	}
	// /get_server_info is SGLang's long-standing name, /server_info its
	// newer one.
	for _, path := range []string{"/get_server_info", "/server_info"} {
		var sg map[string]any
		if get(path, &sg) {
			if _, ok := sg["enable_deterministic_inference"]; ok {
				det, _ := sg["enable_deterministic_inference"].(bool)
				ver, _ := sg["version"].(string)
				return ServerInfo{Kind: ServerSGLang, Deterministic: det, Version: ver}
			}
		}
	}
	var v struct {
		Version string `json:"version"`
	}
	if get("/version", &v) && v.Version != "" {
		return ServerInfo{Kind: ServerVLLM, Version: v.Version}
	}
	return ServerInfo{Kind: ServerGeneric}
}
