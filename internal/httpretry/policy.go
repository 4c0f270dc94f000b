package httpretry

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Defaults of a Policy.
const (
	DefaultMaxRetries  = 5
	DefaultBackoffBase = 200 * time.Millisecond
	DefaultBackoffMax  = 10 * time.Second
)

// Policy runs attempts with capped, jittered exponential backoff, honouring
// the server's Retry-After as a floor.
type Policy struct {
	MaxRetries int // retries after the first attempt
	Backoff    Backoff
}

// NewPolicy validates the retry settings of a ClientOptions and fills in
// the defaults: maxRetries 0 means DefaultMaxRetries and negative means
// none; a zero base or max means its default. Errors name the
// ClientOptions fields and start with prefix (the package name).
func NewPolicy(prefix string, maxRetries int, base, max time.Duration) (Policy, error) {
	switch {
	case maxRetries == 0:
		maxRetries = DefaultMaxRetries
	case maxRetries < 0:
		maxRetries = 0
	}
	bo := Backoff{Base: base, Max: max}
	if bo.Base < 0 || bo.Max < 0 {
		return Policy{}, errors.New(prefix + ": ClientOptions.BackoffBase and BackoffMax must be >= 0")
	}
	if bo.Base == 0 {
		bo.Base = DefaultBackoffBase
	}
	if bo.Max == 0 {
		bo.Max = DefaultBackoffMax
	}
	if bo.Max < bo.Base {
		return Policy{}, fmt.Errorf("%s: ClientOptions.BackoffMax (%v) is below BackoffBase (%v)", prefix, bo.Max, bo.Base)
	}
	return Policy{MaxRetries: maxRetries, Backoff: bo}, nil
}

// Verdict is what one attempt means for the retry loop.
type Verdict int

const (
	Success      Verdict = iota // done
	Transient                   // worth another attempt
	Permanent                   // the request is at fault: retrying cannot succeed
	BackendFault                // the backend is at fault: retrying it cannot succeed, another backend may
	Canceled                    // the caller's context ended during the attempt
)

// Stop says why Run stopped.
type Stop struct {
	// Verdict of the last attempt; Transient means the retries ran out.
	Verdict  Verdict
	Attempts int // attempts made
	// Err is the context's error when it ended outside an attempt: before
	// one, or (Waiting) during the wait for the next.
	Err     error
	Waiting bool
}

// Attempt makes attempt number i (0-based). skipDelay asks for the next
// attempt to start at once (a pool failing over to another backend).
type Attempt func(ctx context.Context, i int) (v Verdict, retryAfter time.Duration, skipDelay bool)

// Run calls try until it succeeds, fails for good, the context ends or the
// retries run out, waiting Backoff.RetryDelay between attempts.
func (p Policy) Run(ctx context.Context, try Attempt) Stop {
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return Stop{Verdict: Canceled, Attempts: i, Err: err}
		}
		v, retryAfter, skip := try(ctx, i)
		if v != Transient || i >= p.MaxRetries {
			return Stop{Verdict: v, Attempts: i + 1}
		}
		var d time.Duration
		if !skip {
			d = p.Backoff.RetryDelay(i, retryAfter)
		}
		if err := SleepCtx(ctx, d); err != nil {
			return Stop{Verdict: Canceled, Attempts: i + 1, Err: err, Waiting: true}
		}
	}
}
