// Package httpserve runs an HTTP server for as long as a context lives and
// then shuts it down gracefully: the loop shepherd's simulator and metrics
// endpoints share.
package httpserve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Serve serves srv on lis until ctx ends or serving fails. It then runs
// beforeShutdown (if not nil: e.g. releasing requests that would hang
// the shutdown) and shuts srv down, waiting up to grace for requests in
// flight before closing their connections.
func Serve(ctx context.Context, srv *http.Server, lis net.Listener, grace time.Duration, beforeShutdown func()) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if beforeShutdown != nil {
		beforeShutdown()
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
