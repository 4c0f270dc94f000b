package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/redisq"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
	"github.com/shepherd-prm/shepherd/server"
	"github.com/shepherd-prm/shepherd/server/servertest"
)

const simModel = servertest.Model

// harness is a private Redis with rollout workers on the simulator, and
// shepherd servers on loopback TCP ports (tests restart a server on the
// same address, and dial it over TLS).
type harness struct {
	*servertest.Env
	t *testing.T
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	q := redisq.Options{LeaseTTL: time.Second, Block: 100 * time.Millisecond, MaxDeliveries: 5}
	return &harness{Env: servertest.NewEnv(t, q, 16), t: t}
}

// startWorker runs a rollout worker on the Redis queue until the test ends.
func (h *harness) startWorker(opt sim.Options) { h.StartWorker(opt) }

// testServer is a server serving on a TCP address until stopped.
type testServer struct {
	addr string
	stop func()
}

// startServer serves a shepherd server on addr ("" for a free port) with
// quick test timings.
func (h *harness) startServer(addr string, opt server.Options) *testServer {
	h.t.Helper()
	opt.Redis, opt.WorkQueue = h.Redis, h.NewQueue()
	servertest.QuickTimings(&opt.LeaseTTL, &opt.ProgressInterval, &opt.SnapshotInterval, &opt.StreamBlock, &opt.ShutdownTimeout)
	opt.Logger = servertest.QuietLogger()
	s, err := server.New(opt)
	if err != nil {
		h.t.Fatal(err)
	}
	sv := servertest.ServeTCP(h.t, s, addr)
	return &testServer{addr: sv.Addr, stop: sv.Stop}
}

func testCtx(t *testing.T) context.Context { return servertest.Context(t) }

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
		out[r.ProblemID+"/"+r.SolutionID] = servertest.RecordJSON(t, r)
	}
	return out
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
		out.records[k] = servertest.RecordJSON(t, *ev.Record)
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
