package server

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/proto/convert"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/redisq"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
	"github.com/shepherd-prm/shepherd/server/servertest"
)

const simModel = servertest.Model

// harness is a private Redis with rollout workers against the simulator,
// and shepherd servers over bufconn.
type harness struct {
	env  *servertest.Env
	t    *testing.T
	rdb  redis.UniversalClient // env.Redis
	qopt redisq.Options        // env.Queue
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return harnessOf(t, servertest.NewEnv(t, queueOptions, 32))
}

func newHarnessOn(t *testing.T, rdb redis.UniversalClient) *harness {
	return harnessOf(t, servertest.EnvOn(t, rdb, queueOptions, 32))
}

var queueOptions = redisq.Options{LeaseTTL: 2 * time.Second, Block: 100 * time.Millisecond, MaxDeliveries: 3}

func harnessOf(t *testing.T, env *servertest.Env) *harness {
	return &harness{env: env, t: t, rdb: env.Redis, qopt: env.Queue}
}

// startWorker runs a rollout worker on the Redis queue until the test ends.
func (h *harness) startWorker(opt sim.Options) { h.env.StartWorker(opt) }

// testServer is a running Server and a client connected to it.
type testServer struct {
	*Server
	client shepherdv1.ShepherdServiceClient
	conn   *grpc.ClientConn
	served <-chan struct{}
	stop   func() // shuts the server down as a deploy would
}

func quietLogger() *slog.Logger { return servertest.QuietLogger() }

// startServer starts a Server on the harness's Redis with quick test
// timings; opt's non-zero fields override them.
func (h *harness) startServer(opt Options) *testServer {
	h.t.Helper()
	opt.Redis = h.rdb
	if opt.WorkQueue == nil {
		opt.WorkQueue = h.env.NewQueue()
	}
	servertest.QuickTimings(&opt.LeaseTTL, &opt.ProgressInterval, &opt.SnapshotInterval, &opt.StreamBlock, &opt.ShutdownTimeout)
	if opt.Logger == nil {
		opt.Logger = quietLogger()
	}
	s, err := New(opt)
	if err != nil {
		h.t.Fatal(err)
	}
	sv := servertest.ServeBufconn(h.t, s)
	return &testServer{Server: s, client: shepherdv1.NewShepherdServiceClient(sv.Conn), conn: sv.Conn, served: sv.Done(), stop: sv.Stop}
}

// withServer starts a harness with a worker on a simulator with wopt and a
// server with opt, and returns them with a context for the test's calls.
func withServer(t *testing.T, wopt sim.Options, opt Options) (*harness, *testServer, context.Context) {
	t.Helper()
	h := newHarness(t)
	h.startWorker(wopt)
	return h, h.startServer(opt), testCtx(t)
}

func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func testCtx(t *testing.T) context.Context { return servertest.Context(t) }

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
		if !slices.Equal(g.Rollouts, p.Rollouts) || !slices.Equal(g.CorrectRollouts, p.CorrectRollouts) || !slices.Equal(g.Labels, p.Labels) ||
			g.FirstErrorStep != p.FirstErrorStep || g.OutcomeCorrect != p.OutcomeCorrect || len(g.SoftLabels) != len(p.SoftLabels) ||
			g.Prompt != p.Prompt || len(g.Completions) != len(p.Completions) || g.Strategy != p.Strategy {
			t.Errorf("record %s differs:\n got  %v\n want %v", k, g, p)
		}
	}
}

func submitReq(id string, problems []*shepherdv1.Problem, spec *shepherdv1.JobSpec) *shepherdv1.SubmitJobRequest {
	return &shepherdv1.SubmitJobRequest{RequestId: id, Model: simModel, Spec: spec, Problems: problems}
}

// submit submits req and returns the job's id.
func (ts *testServer) submit(t *testing.T, ctx context.Context, req *shepherdv1.SubmitJobRequest) string {
	t.Helper()
	resp, err := ts.client.SubmitJob(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Job.Id
}

// mustCollect is collect failing the test on an error.
func mustCollect(t *testing.T, ctx context.Context, c shepherdv1.ShepherdServiceClient, jobID, cursor string, stopAfter int) streamed {
	t.Helper()
	got, err := collect(t, ctx, c, jobID, cursor, stopAfter)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
