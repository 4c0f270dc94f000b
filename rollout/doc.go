// Package rollout produces Monte-Carlo rollouts: it asks GPU inference
// servers for N continuations of each step prefix of a solution, and moves
// that work through a queue to any number of workers.
//
// # Inference client
//
// Client speaks the OpenAI-compatible HTTP API of vLLM, SGLang, llama.cpp
// server and TGI (wire types in package rollout/openai) through a Wire: the
// path, the request body and the response of one server API, each in a
// wire_*.go file and chosen by name in wires (wire.go). A new server API is
// one such file and one entry there; the client keeps HTTP, retries, failure
// classification, the n cap and the extras. With APICompletions it renders a
// prompt from a text/template over the question and the prefix
// (DefaultPromptTemplate unless configured) and POSTs {base}/completions; with
// APIChat it POSTs {base}/chat/completions with the question as the user turn
// and the prefix as a partial assistant turn continued in place
// (continue_final_message, add_generation_prompt false). One request asks for
// all N samples with n=N and seed S; on vLLM that draws the same samples as N
// requests with seeds S..S+N-1, so a retried or resumed request gets the same
// samples back. Servers that reject n>1 are served by ClientOptions.MaxN,
// which splits the request with consecutive seeds.
//
// Failures are classified per attempt, by whose fault they are. 429, 5xx,
// per-attempt timeouts, reset connections, truncated or malformed bodies
// and responses with the wrong number of choices are passing: retried with
// exponential backoff and full jitter, honouring Retry-After; exhausted
// retries return an *APIError with neither flag set, wrapping the last
// cause. 400, 413 and 422 (context too long, a parameter the server
// rejects) are the task's: Generate returns an *APIError with Permanent set
// and the server's message, and IsPermanent tells a worker to dead-letter
// the task. 401, 403, 404 (a key refused, a model not served, a wrong URL)
// and refused connections are the backend's: an *APIError with
// BackendFault set, which IsBackendFault tells a worker to hand back
// uncounted (Releaser) for workers that can run it. Client.Probe checks a
// backend up front with GET /v1/models.
//
// # Backend pool
//
// Pool spreads requests over Backends (each a *Client) serving the same
// model. Requests with the same RouteKey (the scheduler sets the problem
// id: every prefix of a problem's solutions starts with its question) go
// to the same backend by rendezvous hashing, so each step prefix extends
// one the backend has just cached.
// Backends that fail repeatedly are skipped for a while, their keys falling
// to each key's next choice; backends at fault leave rotation until a probe
// or a trial request passes, and a pool with none left fails at once with
// ErrNoUsableBackend (a Worker then takes no tasks until Recheck finds one).
// Each backend's concurrency limit shrinks on 429/503 and grows back
// (AIMD). Backends reports per-backend state for metrics.
package rollout
