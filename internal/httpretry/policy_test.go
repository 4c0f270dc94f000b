package httpretry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNewPolicyDefaultsAndLimits(t *testing.T) {
	p, err := NewPolicy("x", 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxRetries != DefaultMaxRetries || p.Backoff != (Backoff{Base: DefaultBackoffBase, Max: DefaultBackoffMax}) {
		t.Errorf("defaults = %+v", p)
	}
	if p, _ := NewPolicy("x", -1, 0, 0); p.MaxRetries != 0 {
		t.Errorf("MaxRetries -1 gave %d retries, want none", p.MaxRetries)
	}
	for _, tc := range []struct {
		base, max time.Duration
		want      string
	}{
		{-time.Second, 0, "x: ClientOptions.BackoffBase and BackoffMax must be >= 0"},
		{0, -time.Second, "x: ClientOptions.BackoffBase and BackoffMax must be >= 0"},
		{time.Second, time.Millisecond, "x: ClientOptions.BackoffMax (1ms) is below BackoffBase (1s)"},
	} {
		if _, err := NewPolicy("x", 0, tc.base, tc.max); err == nil || err.Error() != tc.want {
			t.Errorf("NewPolicy(%v, %v) error = %v, want %q", tc.base, tc.max, err, tc.want)
		}
	}
}

// run drives Run with a scripted sequence of verdicts and returns how it
// stopped and the attempt numbers it made.
func run(t *testing.T, ctx context.Context, p Policy, script ...Verdict) (Stop, []int) {
	t.Helper()
	var tries []int
	st := p.Run(ctx, func(_ context.Context, i int) (Verdict, time.Duration, bool) {
		tries = append(tries, i)
		return script[min(i, len(script)-1)], 0, false
	})
	return st, tries
}

func TestRunStopsOnEachVerdict(t *testing.T) {
	p := Policy{MaxRetries: 3, Backoff: Backoff{Base: time.Microsecond, Max: time.Microsecond}}
	for _, tc := range []struct {
		script   []Verdict
		want     Verdict
		attempts int
	}{
		{[]Verdict{Success}, Success, 1},
		{[]Verdict{Transient, Transient, Success}, Success, 3},
		{[]Verdict{Transient, Permanent}, Permanent, 2},
		{[]Verdict{BackendFault}, BackendFault, 1},
		{[]Verdict{Transient, Canceled}, Canceled, 2},
		{[]Verdict{Transient}, Transient, 4}, // 1 attempt + 3 retries, then exhausted
	} {
		st, tries := run(t, context.Background(), p, tc.script...)
		if st.Verdict != tc.want || st.Attempts != tc.attempts || len(tries) != tc.attempts || st.Err != nil {
			t.Errorf("script %v: stop %+v after tries %v, want %v after %d", tc.script, st, tries, tc.want, tc.attempts)
		}
		for i, n := range tries {
			if n != i {
				t.Errorf("script %v: attempt numbers %v, want 0..", tc.script, tries)
				break
			}
		}
	}
}

func TestRunHonoursRetryAfterAndSkipDelay(t *testing.T) {
	p := Policy{MaxRetries: 1, Backoff: Backoff{Base: time.Hour, Max: time.Hour}}
	var at []time.Time
	st := p.Run(context.Background(), func(_ context.Context, i int) (Verdict, time.Duration, bool) {
		at = append(at, time.Now())
		return []Verdict{Transient, Success}[i], 50 * time.Millisecond, false
	})
	if st.Verdict != Success {
		t.Fatalf("stop = %+v", st)
	}
	// Retry-After is a floor with up to 10% jitter, and replaces the hour
	// of backoff.
	if d := at[1].Sub(at[0]); d < 50*time.Millisecond || d > 2*time.Second {
		t.Errorf("wait after Retry-After 50ms = %v", d)
	}
	start := time.Now()
	st = p.Run(context.Background(), func(_ context.Context, i int) (Verdict, time.Duration, bool) {
		return []Verdict{Transient, Success}[i], time.Minute, true
	})
	if st.Verdict != Success || time.Since(start) > 2*time.Second {
		t.Errorf("skipDelay: stop %+v after %v, want an immediate retry", st, time.Since(start))
	}
}

func TestRunContextEnds(t *testing.T) {
	p := Policy{MaxRetries: 5, Backoff: Backoff{Base: time.Hour, Max: time.Hour}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st, tries := run(t, ctx, p, Success)
	if len(tries) != 0 || st.Attempts != 0 || !errors.Is(st.Err, context.Canceled) || st.Waiting {
		t.Errorf("canceled before the first attempt: stop %+v, tries %v", st, tries)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	st, tries = run(t, ctx, p, Transient)
	if len(tries) != 1 || st.Attempts != 1 || !errors.Is(st.Err, context.DeadlineExceeded) || !st.Waiting {
		t.Errorf("deadline during the backoff: stop %+v, tries %v", st, tries)
	}
}

func TestClassifyStatus(t *testing.T) {
	for code, want := range map[int]Status{
		429: StatusThrottled, 503: StatusThrottled,
		500: StatusServerError, 502: StatusServerError, 504: StatusServerError, 408: StatusServerError,
		401: StatusMisconfigured, 403: StatusMisconfigured, 404: StatusMisconfigured,
		400: StatusPermanent, 405: StatusPermanent, 413: StatusPermanent, 422: StatusPermanent,
	} {
		if got := ClassifyStatus(code); got != want {
			t.Errorf("ClassifyStatus(%d) = %v, want %v", code, got, want)
		}
		if retry := want == StatusThrottled || want == StatusServerError; ClassifyStatus(code).Retryable() != retry {
			t.Errorf("ClassifyStatus(%d).Retryable() = %v", code, !retry)
		}
	}
}

func TestNormaliseBaseURL(t *testing.T) {
	for raw, want := range map[string]string{
		" http://h:8000/v1/ ": "http://h:8000/v1",
		"https://h/v1//":      "https://h/v1",
		"":                    "required",
		"ftp://h":             `x: ClientOptions.BaseURL "ftp://h": scheme must be http or https`,
		"http://":             `x: ClientOptions.BaseURL "http://": missing host`,
		"http://h/v1?a=1":     `x: ClientOptions.BaseURL "http://h/v1?a=1": must not carry a query or fragment`,
		"http://h/v1#f":       `x: ClientOptions.BaseURL "http://h/v1#f": must not carry a query or fragment`,
		"http://h:x/":         `x: ClientOptions.BaseURL "http://h:x/": parse`,
	} {
		got, err := NormaliseBaseURL("x", "required", raw)
		if err != nil {
			got = err.Error()
		}
		if !strings.HasPrefix(got, want) {
			t.Errorf("NormaliseBaseURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
