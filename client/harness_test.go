package client_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/redisq"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
	"github.com/shepherd-prm/shepherd/server"
)

const simModel = simtest.Model

// harness is a private Redis with rollout workers on the simulator, and
// shepherd servers on loopback TCP ports.
type harness struct {
	t    *testing.T
	rdb  *redis.Client
	qopt redisq.Options
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	rs := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr, PoolSize: 64})
	t.Cleanup(func() { rdb.Close() })
	return &harness{t: t, rdb: rdb, qopt: redisq.Options{LeaseTTL: time.Second, Block: 100 * time.Millisecond, MaxDeliveries: 5}}
}

// startWorker runs a rollout worker on the Redis queue until the test ends.
func (h *harness) startWorker(opt sim.Options) {
	h.t.Helper()
	q := redisq.New(h.rdb, h.qopt)
	h.t.Cleanup(func() { q.Close() }) // after the worker stopped
	simtest.RunWorker(h.t, &rollout.Worker{Queue: q, Generator: simtest.Pool(h.t, opt), Grader: grade.New(grade.Options{}),
		Model: simModel, Concurrency: 16, DrainTimeout: time.Second})
}

// testServer is a server serving on a TCP address until stopped.
type testServer struct {
	addr string
	stop func()
}

// startServer serves a shepherd server on addr ("" for a free port).
func (h *harness) startServer(addr string, opt server.Options) *testServer {
	h.t.Helper()
	opt.Redis = h.rdb
	opt.Queue = h.qopt
	opt.LeaseTTL = time.Second
	opt.ProgressInterval = 50 * time.Millisecond
	opt.SnapshotInterval = 50 * time.Millisecond
	opt.StreamBlock = 100 * time.Millisecond
	opt.ShutdownTimeout = time.Second
	opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := server.New(opt)
	if err != nil {
		h.t.Fatal(err)
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	for deadline := time.Now().Add(5 * time.Second); ; {
		if lis, err = net.Listen("tcp", addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := s.Serve(ctx, lis); err != nil {
			h.t.Errorf("Serve: %v", err)
		}
	}()
	var once sync.Once
	ts := &testServer{addr: lis.Addr().String(), stop: func() { once.Do(func() { cancel(); <-served }) }}
	h.t.Cleanup(ts.stop)
	return ts
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dial connects a plaintext client with quick retries.
func dial(t *testing.T, addr string, opt client.Options) *client.Client {
	t.Helper()
	opt.Insecure = true
	if opt.MaxBackoff == 0 {
		opt.MinBackoff, opt.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	}
	c, err := client.Dial(testCtx(t), addr, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// embedded labels problems the way `shepherd label` does (an in-process
// queue and worker) with the API's defaults but n and seed; it returns
// the records as JSON by solution.
func embedded(t *testing.T, problems []labeler.Problem, strategy labeler.Strategy, n int, seed int64) map[string]string {
	t.Helper()
	recs, _ := simtest.Label(testCtx(t), t, simtest.Pool(t, sim.Options{}), simtest.Prepare(problems),
		rollout.JobOptions{ID: "label", Model: simModel, Strategy: strategy, N: n, Seed: seed,
			Params: rollout.SamplingParams{Temperature: 0.7, TopP: 1, MaxTokens: 1024}, Reuse: true, Window: 256})
	out := map[string]string{}
	for _, r := range recs {
		out[r.ProblemID+"/"+r.SolutionID] = recordJSON(t, r)
	}
	return out
}

func recordJSON(t *testing.T, r labeler.Record) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// collected is what a stream delivered.
type collected struct {
	keys    []string          // records in stream order
	records map[string]string // JSON by solution
	cursors []string
}

// collectRecords reads a stream to its end, failing on a duplicate record;
// after > 0 calls at(n) after the n-th record.
func collectRecords(t *testing.T, s *client.Stream, after int, at func(int)) collected {
	t.Helper()
	out := collected{records: map[string]string{}}
	for s.Next() {
		ev := s.Event()
		if ev.Record == nil {
			continue
		}
		k := ev.Record.ProblemID + "/" + ev.Record.SolutionID
		if _, dup := out.records[k]; dup {
			t.Fatalf("record %s delivered twice", k)
		}
		out.records[k] = recordJSON(t, *ev.Record)
		out.keys = append(out.keys, k)
		out.cursors = append(out.cursors, ev.Cursor)
		if after > 0 && len(out.keys) == after && at != nil {
			at(len(out.keys))
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v (after %d records)", err, len(out.keys))
	}
	return out
}

// withoutTokens is a record line without its completion_tokens: which
// solution pays for a shared prefix depends on admission and restarts (a
// prefix dropped once no admitted solution holds it is generated again for
// a later one), so runs scheduled differently compare labels, not tokens.
func withoutTokens(line string) string { return tokensRE.ReplaceAllString(line, "") }

var tokensRE = regexp.MustCompile(`"completion_tokens":\d+,`)

func sameRecords(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d records, want %d", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("record %s missing", k)
		} else if withoutTokens(g) != withoutTokens(w) {
			t.Errorf("record %s differs:\n got  %s\n want %s", k, g, w)
		}
	}
}
