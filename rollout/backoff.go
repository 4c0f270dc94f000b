package rollout

import (
	"context"
	"time"

	"github.com/shepherd-prm/shepherd/internal/httpretry"
)

// MaxRetryAfter caps how long a server's Retry-After header can make a
// request wait (see httpretry.MaxRetryAfter).
const MaxRetryAfter = httpretry.MaxRetryAfter

// Backoff is capped exponential backoff with full jitter (see
// httpretry.Backoff).
type Backoff = httpretry.Backoff

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date
// (see httpretry.ParseRetryAfter).
func ParseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	return httpretry.ParseRetryAfter(h, now)
}

// SleepCtx waits for d or until ctx is done, whichever comes first, and
// returns ctx's error in the latter case.
func SleepCtx(ctx context.Context, d time.Duration) error { return httpretry.SleepCtx(ctx, d) }
