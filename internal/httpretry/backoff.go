package httpretry

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxRetryAfter caps how long a server's Retry-After header can make a
// request wait, so a misconfigured proxy cannot park a worker for hours.
const MaxRetryAfter = 60 * time.Second

// Backoff is capped exponential backoff with full jitter: the wait before
// retry i (0-based) is uniform in [0, min(Max, Base·2^i)]. Full jitter
// spreads the retries of many workers that failed together (a backend
// restart, a burst of 429s) instead of bringing them back in lockstep.
type Backoff struct {
	Base time.Duration
	Max  time.Duration
}

// Ceiling is the upper bound of the wait before retry i.
func (b Backoff) Ceiling(i int) time.Duration {
	if b.Base <= 0 {
		return 0
	}
	d := b.Base
	for ; i > 0; i-- {
		if b.Max > 0 && d >= b.Max {
			break
		}
		if d > (1<<62)/2 {
			break
		}
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	return d
}

// Delay is the jittered wait before retry i.
func (b Backoff) Delay(i int) time.Duration {
	c := b.Ceiling(i)
	if c <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(c) + 1))
}

// RetryDelay is the wait before retry i given the server's Retry-After (0 if
// none). A Retry-After is honoured as a floor, plus up to 10% jitter so the
// requests a server throttled together do not all return in the same
// instant; without one the usual jittered backoff applies.
func (b Backoff) RetryDelay(i int, retryAfter time.Duration) time.Duration {
	if retryAfter <= 0 {
		return b.Delay(i)
	}
	if retryAfter > MaxRetryAfter {
		retryAfter = MaxRetryAfter
	}
	return retryAfter + time.Duration(rand.Int64N(int64(retryAfter/10)+1))
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// It reports false for an absent or malformed header; a date in the past
// yields zero. The result is capped at MaxRetryAfter.
func ParseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(h, 64); err == nil {
		if secs < 0 || secs != secs { // negative or NaN
			return 0, false
		}
		if secs > MaxRetryAfter.Seconds() {
			return MaxRetryAfter, true
		}
		d = time.Duration(secs * float64(time.Second))
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
		if d < 0 {
			d = 0
		}
	} else {
		return 0, false
	}
	if d > MaxRetryAfter {
		d = MaxRetryAfter
	}
	return d, true
}

// SleepCtx waits for d or until ctx is done, whichever comes first, and
// returns ctx's error in the latter case.
func SleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
