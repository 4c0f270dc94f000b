package server

import (
	"context"
	"time"
)

// every calls fn once per period, the first time after one period, until
// ctx ends: the shape of the server's background loops.
func every(ctx context.Context, period time.Duration, fn func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}
