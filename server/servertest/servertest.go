// Package servertest runs shepherd servers for tests: a private Redis with
// rollout workers against the simulator (Env), and a server served over
// bufconn, or over loopback TCP where a test needs a real port (Serve). The
// server runs whole, with its own interceptors and authentication.
//
// The package takes the server as the Server interface rather than
// importing package server, so that server's own in-package tests can use it
// as well as the tests of its clients.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/shepherd-prm/shepherd/labeler/grade"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/redisq"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
)

// Model is the model the workers started here serve.
const Model = simtest.Model

// Env is a Redis with rollout workers on the simulator, shared by the
// servers a test starts.
type Env struct {
	Redis redis.UniversalClient
	// Queue is the queue options of the workers, for the servers too.
	Queue redisq.Options
	// Concurrency is each worker's number of solutions in flight.
	Concurrency int
	t           testing.TB
}

// NewEnv starts a private redis-server for the test.
func NewEnv(t testing.TB, queue redisq.Options, concurrency int) *Env {
	t.Helper()
	rs := redistest.Start(t)
	return EnvOn(t, redis.NewClient(&redis.Options{Addr: rs.Addr, PoolSize: 64}), queue, concurrency)
}

// EnvOn uses rdb (closed when the test ends) as the Redis.
func EnvOn(t testing.TB, rdb redis.UniversalClient, queue redisq.Options, concurrency int) *Env {
	t.Cleanup(func() { rdb.Close() })
	return &Env{Redis: rdb, Queue: queue, Concurrency: concurrency, t: t}
}

// NewQueue is a Redis Streams queue on the Redis with the workers' queue
// options: a server's Options.WorkQueue (the server closes it on
// Shutdown; it is closed at the end of the test too).
func (e *Env) NewQueue() *redisq.Queue {
	q := redisq.New(e.Redis, e.Queue)
	e.t.Cleanup(func() { q.Close() })
	return q
}

// StartWorker runs a rollout worker on the Redis queue, against a
// simulator with opt, until the test ends.
func (e *Env) StartWorker(opt sim.Options) {
	e.t.Helper()
	q := redisq.New(e.Redis, e.Queue)
	e.t.Cleanup(func() { q.Close() }) // after the worker stopped
	simtest.RunWorker(e.t, &rollout.Worker{Queue: q, Generator: simtest.Pool(e.t, opt), Grader: grade.New(grade.Options{}),
		Model: Model, Concurrency: e.Concurrency, DrainTimeout: time.Second})
}

// QuickTimings sets the zero ones among a server's lease TTL, progress and
// snapshot intervals, stream block and shutdown timeout (the fields of
// server.Options of these names) to quick test values.
func QuickTimings(leaseTTL, progress, snapshot, streamBlock, shutdown *time.Duration) {
	for _, d := range []struct {
		field *time.Duration
		quick time.Duration
	}{
		{leaseTTL, time.Second},
		{progress, 50 * time.Millisecond},
		{snapshot, 50 * time.Millisecond},
		{streamBlock, 100 * time.Millisecond},
		{shutdown, 2 * time.Second},
	} {
		if *d.field == 0 {
			*d.field = d.quick
		}
	}
}

// QuietLogger discards what a server logs.
func QuietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Context is a context for a test's calls, ending after a minute at most.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Server is a shepherd server (*server.Server).
type Server interface {
	Serve(ctx context.Context, lis net.Listener) error
	Shutdown(timeout time.Duration)
}

// Serving is a server serving until Stop or the end of the test.
type Serving struct {
	// Addr is the TCP address served (ServeTCP only).
	Addr string
	// Conn is a plaintext connection to the server (ServeBufconn only).
	Conn   *grpc.ClientConn
	served chan struct{}
	stop   func()
}

// ServeBufconn serves s on an in-memory listener and connects Conn to it.
func ServeBufconn(t testing.TB, s Server) *Serving {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20), grpc.MaxCallSendMsgSize(256<<20)))
	if err != nil {
		t.Fatal(err)
	}
	sv := serve(t, s, lis)
	sv.Conn = conn
	return sv
}

// ServeTCP serves s on addr ("" for a free loopback port), waiting up to
// 5s for a server stopped just before to free the address.
func ServeTCP(t testing.TB, s Server, addr string) *Serving {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		if lis, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	sv := serve(t, s, lis)
	sv.Addr = lis.Addr().String()
	return sv
}

func serve(t testing.TB, s Server, lis net.Listener) *Serving {
	ctx, cancel := context.WithCancel(context.Background())
	sv := &Serving{served: make(chan struct{})}
	go func() {
		defer close(sv.served)
		if err := s.Serve(ctx, lis); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	var once sync.Once
	sv.stop = func() {
		once.Do(func() {
			if sv.Conn != nil {
				sv.Conn.Close()
			}
			s.Shutdown(time.Second)
			cancel()
			<-sv.served
		})
	}
	t.Cleanup(sv.stop)
	return sv
}

// Stop shuts the server down as a deploy would, and waits for Serve to
// return.
func (sv *Serving) Stop() { sv.stop() }

// Done is closed once Serve has returned.
func (sv *Serving) Done() <-chan struct{} { return sv.served }
