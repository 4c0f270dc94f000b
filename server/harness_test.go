package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
	"github.com/shepherd-prm/shepherd/proto/convert"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/redisq"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
)

const simModel = simtest.Model

// harness is a private Redis with rollout workers against the simulator,
// and shepherd servers over bufconn.
type harness struct {
	t    *testing.T
	rdb  redis.UniversalClient
	qopt redisq.Options
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	rs := redistest.Start(t)
	return newHarnessOn(t, redis.NewClient(&redis.Options{Addr: rs.Addr, PoolSize: 64}))
}

func newHarnessOn(t *testing.T, rdb redis.UniversalClient) *harness {
	t.Cleanup(func() { rdb.Close() })
	return &harness{t: t, rdb: rdb, qopt: redisq.Options{LeaseTTL: 2 * time.Second, Block: 100 * time.Millisecond, MaxDeliveries: 3}}
}

// startWorker runs a rollout worker on the Redis queue until the test ends.
func (h *harness) startWorker(opt sim.Options) {
	h.t.Helper()
	q := redisq.New(h.rdb, h.qopt)
	h.t.Cleanup(func() { q.Close() }) // after the worker stopped
	simtest.RunWorker(h.t, &rollout.Worker{Queue: q, Generator: simtest.Pool(h.t, opt), Grader: grade.New(grade.Options{}),
		Model: simModel, Concurrency: 32, DrainTimeout: time.Second})
}

// testServer is a running Server and a client connected to it.
type testServer struct {
	*Server
	client shepherdv1.ShepherdServiceClient
	conn   *grpc.ClientConn
	served chan struct{}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startServer starts a Server on the harness's Redis with quick test
// timings; opt's non-zero fields override them.
func (h *harness) startServer(opt Options) *testServer {
	h.t.Helper()
	opt.Redis = h.rdb
	opt.Queue = h.qopt
	if opt.LeaseTTL == 0 {
		opt.LeaseTTL = time.Second
	}
	if opt.ProgressInterval == 0 {
		opt.ProgressInterval = 50 * time.Millisecond
	}
	if opt.SnapshotInterval == 0 {
		opt.SnapshotInterval = 50 * time.Millisecond
	}
	if opt.StreamBlock == 0 {
		opt.StreamBlock = 100 * time.Millisecond
	}
	if opt.ShutdownTimeout == 0 {
		opt.ShutdownTimeout = 2 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = quietLogger()
	}
	s, err := New(opt)
	if err != nil {
		h.t.Fatal(err)
	}
	lis := bufconn.Listen(1 << 20)
	ts := &testServer{Server: s, served: make(chan struct{})}
	go func() {
		defer close(ts.served)
		if err := s.Serve(context.Background(), lis); err != nil {
			h.t.Errorf("Serve: %v", err)
		}
	}()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20), grpc.MaxCallSendMsgSize(256<<20)))
	if err != nil {
		h.t.Fatal(err)
	}
	ts.conn = conn
	ts.client = shepherdv1.NewShepherdServiceClient(conn)
	h.t.Cleanup(func() {
		conn.Close()
		ts.Shutdown(time.Second)
		<-ts.served
	})
	return ts
}

// stop shuts the server down as a deploy would.
func (ts *testServer) stop() {
	ts.conn.Close()
	ts.Shutdown(time.Second)
	<-ts.served
}

func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// simProblems is a simulator data set as API problems and as the
// embedded path's prepared solutions.
func simProblems(t *testing.T, seed int64, problems, perProblem int) ([]*shepherdv1.Problem, []labeler.PreparedSolution) {
	t.Helper()
	ps := simtest.Problems(seed, problems, perProblem)
	out, err := convert.ProblemsProto(ps)
	if err != nil {
		t.Fatal(err)
	}
	return out, simtest.Prepare(ps)
}

// embeddedLabels labels solutions the way `shepherd label` does: an
// in-process queue and worker.
func embeddedLabels(t *testing.T, sols []labeler.PreparedSolution, opt rollout.JobOptions) []labeler.Record {
	t.Helper()
	opt.Model = simModel
	recs, _ := simtest.Label(testCtx(t), t, simtest.Pool(t, sim.Options{}), sols, opt)
	return recs
}

// streamed is what a client collected from a label stream.
type streamed struct {
	records []*shepherdv1.LabelRecord
	cursors []string
	final   *shepherdv1.Job
	snaps   int
}

// collect reads a StreamLabels stream to its end; stopAfter > 0 stops
// reading (and cancels the call) after that many records.
func collect(t *testing.T, ctx context.Context, c shepherdv1.ShepherdServiceClient, jobID, cursor string, stopAfter int) (streamed, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := c.StreamLabels(ctx, &shepherdv1.StreamLabelsRequest{JobId: jobID, Cursor: cursor})
	if err != nil {
		return streamed{}, err
	}
	var out streamed
	for {
		msg, err := st.Recv()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		switch e := msg.Event.(type) {
		case *shepherdv1.StreamLabelsResponse_Record:
			out.records = append(out.records, e.Record)
			out.cursors = append(out.cursors, msg.Cursor)
			if stopAfter > 0 && len(out.records) == stopAfter {
				return out, nil
			}
		case *shepherdv1.StreamLabelsResponse_Job:
			out.snaps++
			if !isLive(e.Job.State) {
				out.final = e.Job
			}
		}
	}
}

func recordKey(problem, solution string) string { return problem + "/" + solution }

// compareWithEmbedded checks that streamed records carry the labels the
// embedded path computes.
func compareWithEmbedded(t *testing.T, got []*shepherdv1.LabelRecord, want []labeler.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	byKey := map[string]labeler.Record{}
	for _, r := range want {
		byKey[recordKey(r.ProblemID, r.SolutionID)] = r
	}
	seen := map[string]bool{}
	for _, g := range got {
		k := recordKey(g.ProblemId, g.SolutionId)
		if seen[k] {
			t.Fatalf("record %s received twice", k)
		}
		seen[k] = true
		w, ok := byKey[k]
		if !ok {
			t.Fatalf("unexpected record %s", k)
		}
		p := convert.RecordProto(w)
		if !equalInts(g.Rollouts, p.Rollouts) || !equalInts(g.CorrectRollouts, p.CorrectRollouts) || !equalBools(g.Labels, p.Labels) ||
			g.FirstErrorStep != p.FirstErrorStep || g.OutcomeCorrect != p.OutcomeCorrect || len(g.SoftLabels) != len(p.SoftLabels) ||
			g.Prompt != p.Prompt || len(g.Completions) != len(p.Completions) || g.Strategy != p.Strategy {
			t.Errorf("record %s differs:\n got  %v\n want %v", k, g, p)
		}
	}
}

func equalInts(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func submitReq(id string, problems []*shepherdv1.Problem, spec *shepherdv1.JobSpec) *shepherdv1.SubmitJobRequest {
	return &shepherdv1.SubmitJobRequest{RequestId: id, Model: simModel, Spec: spec, Problems: problems}
}
