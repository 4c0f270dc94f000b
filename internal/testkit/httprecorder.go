package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// HTTPRecorder is a fake HTTP server for client tests: it numbers the
// requests in arrival order, keeps each one's path, headers and body, and
// passes them to a handler that answers request i as the test wants.
type HTTPRecorder struct {
	*httptest.Server
	Attempts atomic.Int32 // requests received
	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	path   string
	header http.Header
	body   []byte
}

// NewHTTPRecorder starts a recorder closed when the test ends. handle gets
// each request with its body already read and its 0-based number.
func NewHTTPRecorder(t testing.TB, handle func(w http.ResponseWriter, r *http.Request, body []byte, i int)) *HTTPRecorder {
	t.Helper()
	h := &HTTPRecorder{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(h.Attempts.Add(1) - 1)
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.requests = append(h.requests, recorded{r.URL.Path, r.Header.Clone(), body})
		h.mu.Unlock()
		handle(w, r, body, i)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *HTTPRecorder) request(i int) recorded {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests[i]
}

// Path, Header and Body return what request i (0-based) sent.
func (h *HTTPRecorder) Path(i int) string        { return h.request(i).path }
func (h *HTTPRecorder) Header(i int) http.Header { return h.request(i).header }
func (h *HTTPRecorder) Body(i int) []byte        { return h.request(i).body }

// Paths lists the paths of every request so far.
func (h *HTTPRecorder) Paths() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, len(h.requests))
	for i, r := range h.requests {
		out[i] = r.path
	}
	return out
}
