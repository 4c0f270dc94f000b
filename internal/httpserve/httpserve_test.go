package httpserve

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// A request in flight when the context ends is answered before Serve
// returns; beforeShutdown runs first; the listener is closed after.
func TestServeShutsDownGracefully(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inside, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inside)
		<-release
		_, _ = io.WriteString(w, "done")
	})}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	var before bool
	go func() { served <- Serve(ctx, srv, lis, 5*time.Second, func() { before = true }) }()

	answer := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + lis.Addr().String())
		if err != nil {
			answer <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answer <- string(b)
	}()
	<-inside
	cancel()
	time.Sleep(50 * time.Millisecond) // Shutdown is waiting for the request
	close(release)
	if got := <-answer; got != "done" {
		t.Errorf("request in flight got %q, want done", got)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if !before {
		t.Error("beforeShutdown did not run")
	}
	if _, err := net.Dial("tcp", lis.Addr().String()); err == nil {
		t.Error("the listener still accepts connections")
	}
}

// A listener that fails makes Serve return its error at once.
func TestServeReturnsServeErrors(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis.Close()
	if err := Serve(context.Background(), &http.Server{}, lis, time.Second, nil); err == nil {
		t.Error("Serve on a closed listener returned nil")
	}
}
