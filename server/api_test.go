package server

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/shepherd-prm/shepherd/internal/clock"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout/sim"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// wantCode checks an RPC error's code and that its message names what is
// at fault.
func wantCode(t *testing.T, err error, code, inMessage string) {
	t.Helper()
	st, _ := status.FromError(err)
	if err == nil || st.Code().String() != codeName(code) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if !contains(st.Message(), inMessage) {
		t.Fatalf("message %q does not mention %q", st.Message(), inMessage)
	}
}

// codeName maps "INVALID_ARGUMENT" to codes.Code's String form.
func codeName(c string) string {
	for i := codes.OK; i <= codes.Unauthenticated; i++ {
		if strings.EqualFold(strings.ReplaceAll(c, "_", ""), i.String()) {
			return i.String()
		}
	}
	return c
}

func TestBadRequests(t *testing.T) {
	h := newHarness(t)
	ts := h.startServer(Options{Tokens: []string{"secret"}, MaxMessageBytes: 1 << 20, MaxN: 64})
	ctx := withToken(testCtx(t), "secret")
	good := func() *shepherdv1.SubmitJobRequest {
		return submitReq("bad", []*shepherdv1.Problem{{Id: "q", Question: "Start with 2. Add 3. What is the result?", Answer: "5",
			Solutions: []*shepherdv1.Solution{{Body: &shepherdv1.Solution_Text{Text: "2 + 3 = 5.\nThe answer is 5."}}}}}, nil)
	}
	long := strings.Repeat("step.\n", 200)
	for _, tc := range []struct {
		name   string
		edit   func(r *shepherdv1.SubmitJobRequest)
		ctx    context.Context
		code   string
		inText string
	}{
		{"no gold answer", func(r *shepherdv1.SubmitJobRequest) { r.Problems[0].Answer = " " }, nil, "INVALID_ARGUMENT", "problems[0].answer"},
		{"empty question", func(r *shepherdv1.SubmitJobRequest) { r.Problems[0].Question = "" }, nil, "INVALID_ARGUMENT", "problems[0].question"},
		{"empty solution", func(r *shepherdv1.SubmitJobRequest) {
			r.Problems[0].Solutions[0].Body = &shepherdv1.Solution_Text{Text: "\n  \n"}
		}, nil, "INVALID_ARGUMENT", "problems[0].solutions[0].text: solution is empty"},
		{"blank steps", func(r *shepherdv1.SubmitJobRequest) {
			r.Problems[0].Solutions[0].Body = &shepherdv1.Solution_Steps{Steps: &shepherdv1.Steps{Steps: []string{"", " \n"}}}
		}, nil, "INVALID_ARGUMENT", `problems[0].solutions[0].steps: solution is empty (no non-empty step); problem "q", solution "q-0"`},
		{"no body", func(r *shepherdv1.SubmitJobRequest) { r.Problems[0].Solutions[0].Body = nil }, nil, "INVALID_ARGUMENT", "problems[0].solutions[0]"},
		{"no solutions", func(r *shepherdv1.SubmitJobRequest) { r.Problems[0].Solutions = nil }, nil, "INVALID_ARGUMENT", "problems[0].solutions: none"},
		{"no problems", func(r *shepherdv1.SubmitJobRequest) { r.Problems = nil }, nil, "INVALID_ARGUMENT", "problems: none"},
		{"n = 0", func(r *shepherdv1.SubmitJobRequest) { r.Spec = &shepherdv1.JobSpec{N: proto.Int32(0)} }, nil, "INVALID_ARGUMENT", "spec.n: 0, must be between 1 and 64"},
		{"negative n", func(r *shepherdv1.SubmitJobRequest) { r.Spec = &shepherdv1.JobSpec{N: proto.Int32(-1)} }, nil, "INVALID_ARGUMENT", "spec.n"},
		{"n over the limit", func(r *shepherdv1.SubmitJobRequest) { r.Spec = &shepherdv1.JobSpec{N: proto.Int32(65)} }, nil, "INVALID_ARGUMENT", "spec.n: 65, more than the limit of 64"},
		{"unknown strategy", func(r *shepherdv1.SubmitJobRequest) { r.Spec = &shepherdv1.JobSpec{Strategy: 9} }, nil, "INVALID_ARGUMENT", "spec.strategy"},
		{"unknown split mode", func(r *shepherdv1.SubmitJobRequest) { r.Spec = &shepherdv1.JobSpec{Split: 42} }, nil, "INVALID_ARGUMENT", "spec.split"},
		{"temperature", func(r *shepherdv1.SubmitJobRequest) { r.Spec = &shepherdv1.JobSpec{Temperature: proto.Float64(3)} }, nil, "INVALID_ARGUMENT", "spec.temperature"},
		{"top_p", func(r *shepherdv1.SubmitJobRequest) { r.Spec = &shepherdv1.JobSpec{TopP: proto.Float64(0)} }, nil, "INVALID_ARGUMENT", "spec.top_p"},
		{"max_tokens", func(r *shepherdv1.SubmitJobRequest) { r.Spec = &shepherdv1.JobSpec{MaxTokens: 40000} }, nil, "INVALID_ARGUMENT", "spec.max_tokens"},
		{"too many steps", func(r *shepherdv1.SubmitJobRequest) {
			r.Problems[0].Solutions[0].Body = &shepherdv1.Solution_Text{Text: long}
		}, nil, "INVALID_ARGUMENT", "problems[0].solutions[0]: solution has 200 steps, more than the limit of 128"},
		{"too many given steps", func(r *shepherdv1.SubmitJobRequest) {
			r.Spec = &shepherdv1.JobSpec{MaxSteps: 2}
			r.Problems[0].Solutions[0].Body = &shepherdv1.Solution_Steps{Steps: &shepherdv1.Steps{Steps: []string{"a", "b", "c"}}}
		}, nil, "INVALID_ARGUMENT", "3 steps, more than the limit of 2"},
		{"duplicate solution id", func(r *shepherdv1.SubmitJobRequest) {
			s := r.Problems[0].Solutions[0]
			s.Id = "x"
			r.Problems[0].Solutions = append(r.Problems[0].Solutions, proto.Clone(s).(*shepherdv1.Solution))
		}, nil, "INVALID_ARGUMENT", "duplicate solution id"},
		{"duplicate problem id", func(r *shepherdv1.SubmitJobRequest) {
			r.Problems = append(r.Problems, proto.Clone(r.Problems[0]).(*shepherdv1.Problem))
		}, nil, "INVALID_ARGUMENT", `problems[1].id: duplicate problem id "q"`},
		{"explicit id equal to a default one", func(r *shepherdv1.SubmitJobRequest) {
			second := proto.Clone(r.Problems[0]).(*shepherdv1.Problem)
			second.Id = ""
			r.Problems[0].Id = "p1"
			r.Problems = append(r.Problems, second)
		}, nil, "INVALID_ARGUMENT", `problems[1].id: duplicate problem id "p1"`},
		{"missing model", func(r *shepherdv1.SubmitJobRequest) { r.Model = "" }, nil, "INVALID_ARGUMENT", "model"},
		{"missing request id", func(r *shepherdv1.SubmitJobRequest) { r.RequestId = "" }, nil, "INVALID_ARGUMENT", "request_id"},
		{"oversized message", func(r *shepherdv1.SubmitJobRequest) {
			r.Problems[0].Question = strings.Repeat("x", 2<<20)
		}, nil, "RESOURCE_EXHAUSTED", "larger than max"},
		{"missing token", func(*shepherdv1.SubmitJobRequest) {}, testCtx(t), "UNAUTHENTICATED", "missing credentials"},
		{"wrong token", func(*shepherdv1.SubmitJobRequest) {}, withToken(testCtx(t), "guess"), "UNAUTHENTICATED", "invalid bearer token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good()
			tc.edit(r)
			c := ctx
			if tc.ctx != nil {
				c = tc.ctx
			}
			_, err := ts.client.SubmitJob(c, r)
			wantCode(t, err, tc.code, tc.inText)
			// LabelSolutions validates the same way.
			st, err := ts.client.LabelSolutions(c, &shepherdv1.LabelSolutionsRequest{RequestId: r.RequestId, Model: r.Model, Spec: r.Spec, Problems: r.Problems})
			if err == nil {
				_, err = st.Recv()
			}
			wantCode(t, err, tc.code, tc.inText)
		})
	}
	// Nothing of a rejected request was kept.
	list, err := ts.client.ListJobs(ctx, &shepherdv1.ListJobsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Jobs) != 0 {
		t.Fatalf("%d jobs stored after rejected requests", len(list.Jobs))
	}
	if n, _ := h.rdb.DBSize(ctx).Result(); n != 0 {
		keys, _ := h.rdb.Keys(ctx, "*").Result()
		t.Fatalf("Redis holds %d keys after rejected requests: %v", n, keys)
	}
	// A good request is accepted; a job id that does not exist is NOT_FOUND.
	if _, err := ts.client.SubmitJob(ctx, good()); err != nil {
		t.Fatal(err)
	}
	_, err = ts.client.GetJob(ctx, &shepherdv1.GetJobRequest{JobId: "0123456789abcdef0123"})
	wantCode(t, err, "NOT_FOUND", "not found")
	_, err = ts.client.GetJob(ctx, &shepherdv1.GetJobRequest{})
	wantCode(t, err, "INVALID_ARGUMENT", "job_id")
	_, err = ts.client.ListJobs(ctx, &shepherdv1.ListJobsRequest{PageSize: 5000})
	wantCode(t, err, "INVALID_ARGUMENT", "page_size")
	_, err = ts.client.Score(ctx, &shepherdv1.ScoreRequest{})
	wantCode(t, err, "UNIMPLEMENTED", "scoring")
}

// TestAuthOwnership: a job of one caller is NOT_FOUND for another.
func TestAuthOwnership(t *testing.T) {
	h := newHarness(t)
	ts := h.startServer(Options{Tokens: []string{"alice", "bob"}})
	alice, bob := withToken(testCtx(t), "alice"), withToken(testCtx(t), "bob")
	problems, _ := simProblems(t, 1, 1, 1)
	resp, err := ts.client.SubmitJob(alice, submitReq("same-id", problems, nil))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ts.client.GetJob(bob, &shepherdv1.GetJobRequest{JobId: resp.Job.Id})
	wantCode(t, err, "NOT_FOUND", resp.Job.Id)
	_, err = ts.client.CancelJob(bob, &shepherdv1.CancelJobRequest{JobId: resp.Job.Id})
	wantCode(t, err, "NOT_FOUND", resp.Job.Id)
	_, err = ts.client.StreamLabels(bob, &shepherdv1.StreamLabelsRequest{JobId: resp.Job.Id})
	if err == nil {
		_, err = collect(t, bob, ts.client, resp.Job.Id, "", 0)
	}
	wantCode(t, err, "NOT_FOUND", resp.Job.Id)
	// Request ids are per caller: bob's same id and another request is a
	// new job, not a conflict.
	other, err := ts.client.SubmitJob(bob, submitReq("same-id", problems, &shepherdv1.JobSpec{N: proto.Int32(1)}))
	if err != nil || other.Job.Id == resp.Job.Id {
		t.Fatalf("bob's submit: %v, %v", other, err)
	}
	for _, c := range []struct {
		ctx  context.Context
		want string
	}{{alice, resp.Job.Id}, {bob, other.Job.Id}} {
		list, err := ts.client.ListJobs(c.ctx, &shepherdv1.ListJobsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Jobs) != 1 || list.Jobs[0].Id != c.want {
			t.Fatalf("listed %v, want only %s", list.Jobs, c.want)
		}
	}
}

func TestHealthAndReflection(t *testing.T) {
	h := newHarness(t)
	ts := h.startServer(Options{Tokens: []string{"secret"}})
	ctx := testCtx(t)
	hc := healthpb.NewHealthClient(ts.conn)
	for _, svc := range []string{"", "shepherd.v1.ShepherdService"} {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatalf("health of %q without a token: %v", svc, err)
		}
		if resp.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health of %q: %v", svc, resp.Status)
		}
	}
	list := func(ctx context.Context) ([]string, error) {
		rc, err := reflectionpb.NewServerReflectionClient(ts.conn).ServerReflectionInfo(ctx)
		if err != nil {
			return nil, err
		}
		// A Send on a stream the server ended returns io.EOF; Recv has
		// the status.
		if err := rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil && err != io.EOF {
			return nil, err
		}
		resp, err := rc.Recv()
		if err != nil {
			return nil, err
		}
		_ = rc.CloseSend()
		var names []string
		for _, s := range resp.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		return names, nil
	}
	_, err := list(ctx)
	wantCode(t, err, "UNAUTHENTICATED", "missing credentials")
	names, err := list(withToken(ctx, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	if !contains(strings.Join(names, ","), "shepherd.v1.ShepherdService") {
		t.Fatalf("reflection lists %v", names)
	}
	ts.stop()
	resp, err := ts.Health().Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health after shutdown: %v, %v", resp, err)
	}
}

// TestAdmission: with no worker running, the queue fills; a new job is
// refused with RESOURCE_EXHAUSTED, and a retry of an accepted one is not.
func TestAdmission(t *testing.T) {
	h := newHarness(t)
	ts := h.startServer(Options{MaxQueuedTasks: 5})
	ctx := testCtx(t)
	problems, _ := simProblems(t, 6, 4, 2)
	first := submitReq("adm-1", problems, &shepherdv1.JobSpec{N: proto.Int32(2)})
	if _, err := ts.client.SubmitJob(ctx, first); err != nil {
		t.Fatal(err)
	}
	for {
		ps, err := ts.q.Pending(ctx, simModel)
		if err != nil {
			t.Fatal(err)
		}
		if ps.Length >= 5 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, err := ts.client.SubmitJob(ctx, submitReq("adm-2", problems, nil))
	wantCode(t, err, "RESOURCE_EXHAUSTED", "limit of 5")
	if _, err := ts.client.SubmitJob(ctx, first); err != nil {
		t.Fatalf("retry of an accepted request: %v", err)
	}
}

// TestListJobs pages through jobs newest first, with a state filter.
func TestListJobs(t *testing.T) {
	h := newHarness(t)
	clk := clock.NewFake()
	ts := h.startServer(Options{Clock: clk})
	ctx := testCtx(t)
	problems, _ := simProblems(t, 1, 1, 1)
	var ids []string
	for i := range 5 {
		id := ts.submit(t, ctx, submitReq("list-"+string(rune('a'+i)), problems, nil))
		ids = append(ids, id)
		clk.Advance(time.Millisecond) // distinct creation times
	}
	if _, err := ts.client.CancelJob(ctx, &shepherdv1.CancelJobRequest{JobId: ids[1]}); err != nil {
		t.Fatal(err)
	}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		resp, err := ts.client.ListJobs(ctx, &shepherdv1.ListJobsRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range resp.Jobs {
			got = append(got, j.Id)
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
		if pages > 5 {
			t.Fatal("too many pages")
		}
	}
	if strings.Join(got, ",") != strings.Join([]string{ids[4], ids[3], ids[2], ids[1], ids[0]}, ",") {
		t.Fatalf("listed %v, want newest first of %v", got, ids)
	}
	resp, err := ts.client.ListJobs(ctx, &shepherdv1.ListJobsRequest{States: []shepherdv1.JobState{shepherdv1.JobState_JOB_STATE_CANCELLED}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Jobs) != 1 || resp.Jobs[0].Id != ids[1] {
		t.Fatalf("cancelled jobs: %v", resp.Jobs)
	}
	_, err = ts.client.ListJobs(ctx, &shepherdv1.ListJobsRequest{PageSize: 2, PageToken: "bogus"})
	wantCode(t, err, "INVALID_ARGUMENT", "page_token")
}

// TestFinishedJobsExpire: after JobTTL a finished job is gone, from the
// index too. Redis expires the job's keys on its own time, so this test
// waits on real time, not a fake clock.
func TestFinishedJobsExpire(t *testing.T) {
	h := newHarness(t)
	ts := h.startServer(Options{JobTTL: time.Second})
	ctx := testCtx(t)
	problems, _ := simProblems(t, 1, 1, 1)
	id := ts.submit(t, ctx, submitReq("expire", problems, nil))
	if _, err := ts.client.CancelJob(ctx, &shepherdv1.CancelJobRequest{JobId: id}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Everything but the model's work stream (no worker runs here, so
		// the job's tasks wait there) is gone.
		keys, err := h.rdb.Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, k := range keys {
			if !contains(k, "{model:") {
				left = append(left, k)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys left after expiry: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, err := ts.client.GetJob(ctx, &shepherdv1.GetJobRequest{JobId: id})
	wantCode(t, err, "NOT_FOUND", "not found")
	// The request id is free again.
	if _, err := ts.client.SubmitJob(ctx, submitReq("expire", problems, &shepherdv1.JobSpec{N: proto.Int32(2)})); err != nil {
		t.Fatal(err)
	}
}

func TestLoadTokens(t *testing.T) {
	path := t.TempDir() + "/tokens"
	if err := os.WriteFile(path, []byte("# tokens\n alpha \n\nbeta\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadTokens(path)
	if err != nil || strings.Join(got, ",") != "alpha,beta" {
		t.Fatalf("LoadTokens: %v, %v", got, err)
	}
	if err := os.WriteFile(path, []byte("# none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTokens(path); err == nil {
		t.Fatal("a file without tokens was accepted")
	}
}

// TestNewNeedsRedisAndWorkQueue: the required options are named when
// missing; the server chooses no queue of its own.
func TestNewNeedsRedisAndWorkQueue(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		opt  Options
		want string
	}{
		{Options{WorkQueue: h.env.NewQueue()}, "Options.Redis is required"},
		{Options{Redis: h.rdb}, "Options.WorkQueue is required"},
	} {
		if _, err := New(c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New: error %v, want one saying %q", err, c.want)
		}
	}
}

// TestPanicIsInternal: the recovery interceptor turns a handler's panic
// into INTERNAL.
func TestPanicIsInternal(t *testing.T) {
	h := newHarness(t)
	s, err := New(Options{Redis: h.rdb, WorkQueue: h.env.NewQueue(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.recoverUnary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/x/Y"}, func(context.Context, any) (any, error) {
		panic("boom")
	})
	wantCode(t, err, "INTERNAL", "internal error")
}

// TestMaxRunningJobs: jobs beyond the bound wait QUEUED and start as
// others end.
func TestMaxRunningJobs(t *testing.T) {
	_, ts, ctx := withServer(t, sim.Options{}, Options{MaxRunningJobs: 1})
	problems, _ := simProblems(t, 2, 3, 2)
	var ids []string
	for i := range 3 {
		id := ts.submit(t, ctx, submitReq("max-running-"+string(rune('a'+i)), problems, &shepherdv1.JobSpec{N: proto.Int32(2), Seed: int64(i)}))
		ids = append(ids, id)
	}
	for _, id := range ids {
		got := mustCollect(t, ctx, ts.client, id, "", 0)
		if got.final.GetState() != shepherdv1.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("job %s: %v", id, got.final)
		}
	}
}
