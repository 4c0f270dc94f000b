package sim

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// ServeLoopback serves h on a free loopback port until stop is called,
// returning its address "127.0.0.1:PORT". stop runs drain, if set, while
// the server still answers (to release held requests), then gives the
// handlers grace to finish before closing every connection. The simulators
// of this module share it.
func ServeLoopback(h http.Handler, drain func(*http.Server), grace time.Duration) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if drain != nil {
				drain(srv)
			}
			ctx, cancel := context.WithTimeout(context.Background(), grace)
			defer cancel()
			_ = srv.Shutdown(ctx)
			_ = srv.Close()
			<-done
		})
	}
	return ln.Addr().String(), stop, nil
}
