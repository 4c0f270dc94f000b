package httpretry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, ctx context.Context, url string, timeout time.Duration) Exchange {
	t.Helper()
	return Post(ctx, http.DefaultClient, timeout, url, "Bearer k", []byte(`{"n":1}`))
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// stall holds a handler until the client hangs up. The body is drained
// first: the server notices a closed connection only once it has read the
// request to its end.
func stall(r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

func TestPostOK(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, `{"auth":%q,"got":%s}`, r.Header.Get("Authorization"), body)
	})
	x := post(t, context.Background(), s.URL, time.Second)
	if x.Outcome != OutcomeOK || x.Status != 200 || string(x.Body) != `{"auth":"Bearer k","got":{"n":1}}` || x.Err != nil {
		t.Fatalf("exchange %+v", x)
	}
}

// vLLM answers errors with {"error": {"message": ...}} (vllm/entrypoints/
// openai/protocol.py ErrorResponse) and an overloaded server 429 or 503,
// optionally with Retry-After.
func TestPostErrorStatus(t *testing.T) {
	for _, tc := range []struct {
		status     int
		retryAfter time.Duration
	}{
		{http.StatusTooManyRequests, 2 * time.Second},
		{http.StatusInternalServerError, 2 * time.Second},
		{http.StatusBadRequest, 0}, // not retryable: its Retry-After means nothing
		{http.StatusNotFound, 0},
	} {
		s := serve(t, func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(tc.status)
			fmt.Fprintf(w, `{"error": {"message": "no %d", "type": "BadRequestError", "param": null, "code": %d}}`, tc.status, tc.status)
		})
		x := post(t, context.Background(), s.URL, time.Second)
		msg := fmt.Sprintf("no %d", tc.status)
		if x.Outcome != OutcomeStatus || x.Status != tc.status || x.RetryAfter != tc.retryAfter || x.Message != msg ||
			x.Err == nil || x.Err.Error() != fmt.Sprintf("HTTP %d: %s", tc.status, msg) || x.Body != nil {
			t.Errorf("%d: exchange %+v", tc.status, x)
		}
	}
}

func TestPostTimeout(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) { stall(r) })
	x := post(t, context.Background(), s.URL, 50*time.Millisecond)
	if x.Outcome != OutcomeTimeout || x.Status != 0 || x.Message != "no complete response within 50ms" || !errors.Is(x.Err, context.DeadlineExceeded) {
		t.Fatalf("exchange %+v", x)
	}
	// A body that stalls after the headers runs out of the same deadline.
	s = serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"choices": [`)
		w.(http.Flusher).Flush()
		stall(r)
	})
	x = post(t, context.Background(), s.URL, 50*time.Millisecond)
	if x.Outcome != OutcomeTimeout || x.Status != 200 || x.Message != "no complete response within 50ms" {
		t.Fatalf("stalled body: exchange %+v", x)
	}
}

func TestPostCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		cancel()
		stall(r)
	})
	x := post(t, ctx, s.URL, time.Minute)
	if x.Outcome != OutcomeCanceled || !errors.Is(x.Err, context.Canceled) {
		t.Fatalf("exchange %+v", x)
	}
	// An error status that arrives as the caller gives up is the
	// caller's cancellation, not the server's verdict.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	s = serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		w.(http.Flusher).Flush()
		cancel()
		_, _ = io.WriteString(w, `{"error": {"message": "boom"}}`)
	})
	x = post(t, ctx, s.URL, time.Minute)
	if x.Outcome != OutcomeCanceled || !errors.Is(x.Err, context.Canceled) {
		t.Fatalf("error status after cancel: exchange %+v", x)
	}
}

func TestPostUnreachable(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // its port now refuses connections
	x := post(t, context.Background(), gone.URL+"/v1/completions", time.Second)
	if x.Outcome != OutcomeUnreachable || x.Status != 0 || !strings.Contains(x.Message, "connection refused") {
		t.Fatalf("exchange %+v", x)
	}
}

func TestPostConnectionLost(t *testing.T) {
	hangUp := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	x := post(t, context.Background(), hangUp.URL, time.Second)
	if x.Outcome != OutcomeConnError || x.Status != 0 || x.Err == nil {
		t.Fatalf("hang-up: exchange %+v", x)
	}
	// A 2xx whose body ends before its Content-Length.
	short := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, `{"choices": [`)
	})
	x = post(t, context.Background(), short.URL, time.Second)
	if x.Outcome != OutcomeConnError || x.Status != 200 || !errors.Is(x.Err, io.ErrUnexpectedEOF) {
		t.Fatalf("short body: exchange %+v", x)
	}
}

func TestPostBodyTooLarge(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		chunk := make([]byte, 1<<20)
		for range MaxResponseBytes>>20 + 1 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	x := post(t, context.Background(), s.URL, 30*time.Second)
	if x.Outcome != OutcomeTooLarge || x.Status != 200 || x.Body != nil || x.Message != "response body larger than 67108864 bytes" {
		t.Fatalf("exchange outcome %d status %d message %q", x.Outcome, x.Status, x.Message)
	}
}

func TestPostBadRequest(t *testing.T) {
	x := post(t, context.Background(), "http://[::1", time.Second)
	if x.Outcome != OutcomeBadRequest || x.Err == nil || x.Message != x.Err.Error() {
		t.Fatalf("exchange %+v", x)
	}
}
