package client_test

import (
	"context"
	"crypto/x509"
	"errors"
	"google.golang.org/protobuf/proto"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/labeler"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
	"github.com/shepherd-prm/shepherd/server"
	"github.com/shepherd-prm/shepherd/server/servertest"
	"github.com/shepherd-prm/shepherd/server/testcert"
)

// TestLabelSolutions labels through the API and gets, record for record,
// what the embedded path computes; Labels from the beginning and from a
// cursor replay the same stream.
func TestLabelSolutions(t *testing.T) {
	h := newHarness(t)
	h.startWorker(sim.Options{})
	ts := h.startServer("", server.Options{})
	c := dial(t, ts.addr, client.Options{})
	ctx := testCtx(t)
	problems := simtest.Problems(3, 8, 3)

	s := c.LabelSolutions(ctx, client.Request{Model: simModel, Spec: &shepherdv1.JobSpec{N: proto.Int32(4), Seed: 7}, Problems: problems})
	var first *shepherdv1.Job
	got := collected{records: map[string]string{}}
	for s.Next() {
		ev := s.Event()
		if first == nil {
			if ev.Job == nil || ev.Job.Id == "" || ev.Cursor != "" {
				t.Fatalf("first event %+v, want the job", ev)
			}
			first = ev.Job
			continue
		}
		if ev.Record != nil {
			k := ev.Record.ProblemID + "/" + ev.Record.SolutionID
			got.records[k] = servertest.RecordJSON(t, *ev.Record)
			got.keys = append(got.keys, k)
			got.cursors = append(got.cursors, ev.Cursor)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	final := s.Job()
	if final.GetState() != shepherdv1.JobState_JOB_STATE_SUCCEEDED || final.GetSolutionsDone() != 24 || s.JobID() != first.Id {
		t.Fatalf("final job %v (stream job %s)", final, s.JobID())
	}
	if len(first.RequestId) != 36 {
		t.Errorf("generated request id %q, want a UUID", first.RequestId)
	}
	servertest.SameRecords(t, got.records, embedded(t, problems, labeler.Exhaustive, 4, 7), servertest.WithoutTokens)

	again := collectRecords(t, c.Labels(ctx, s.JobID(), ""), 0, nil)
	if !slices.Equal(again.keys, got.keys) || !slices.Equal(again.cursors, got.cursors) {
		t.Errorf("replay differs from the first stream")
	}
	rest := collectRecords(t, c.Labels(ctx, s.JobID(), got.cursors[9]), 0, nil)
	if !slices.Equal(rest.keys, got.keys[10:]) {
		t.Errorf("from cursor 10: %v, want %v", rest.keys, got.keys[10:])
	}
}

// TestStreamRidesOutServerRestart stops the only server in the middle of
// a job and starts another on the same address: the stream resumes from
// its last cursor, with every record once and in the job's order.
func TestStreamRidesOutServerRestart(t *testing.T) {
	h := newHarness(t)
	h.startWorker(sim.Options{Latency: 5 * time.Millisecond})
	ts := h.startServer("", server.Options{Window: 4})
	var retries atomic.Int32
	c := dial(t, ts.addr, client.Options{OnRetry: func(error, int, time.Duration) { retries.Add(1) }})
	ctx := testCtx(t)
	problems := simtest.Problems(5, 10, 3)

	s := c.LabelSolutions(ctx, client.Request{RequestID: "restart-1", Model: simModel, Spec: &shepherdv1.JobSpec{N: proto.Int32(4), Seed: 3}, Problems: problems})
	got := collectRecords(t, s, 5, func(int) {
		ts.stop()
		time.Sleep(300 * time.Millisecond) // the client retries against a closed port meanwhile
		h.startServer(ts.addr, server.Options{Window: 4})
	})
	if s.Job().GetState() != shepherdv1.JobState_JOB_STATE_SUCCEEDED || len(got.keys) != 30 {
		t.Fatalf("final %v after %d records", s.Job(), len(got.keys))
	}
	if s.Reconnects() == 0 || retries.Load() == 0 {
		t.Errorf("no reconnection seen (reconnects %d, retries %d)", s.Reconnects(), retries.Load())
	}
	servertest.SameRecords(t, got.records, embedded(t, problems, labeler.Exhaustive, 4, 3), servertest.WithoutTokens)
	replay := collectRecords(t, c.Labels(ctx, s.JobID(), ""), 0, nil)
	if !slices.Equal(replay.keys, got.keys) {
		t.Errorf("resumed stream order %v differs from the job's %v", got.keys, replay.keys)
	}
}

// TestStreamGivesUp: with the server gone for good, the stream ends with
// the transient error once MaxOutage has passed.
func TestStreamGivesUp(t *testing.T) {
	h := newHarness(t)
	h.startWorker(sim.Options{Latency: 20 * time.Millisecond})
	ts := h.startServer("", server.Options{Window: 1})
	c := dial(t, ts.addr, client.Options{MaxOutage: 500 * time.Millisecond})
	ctx := testCtx(t)
	s := c.LabelSolutions(ctx, client.Request{Model: simModel, Spec: &shepherdv1.JobSpec{N: proto.Int32(2)}, Problems: simtest.Problems(1, 4, 4)})
	defer s.Close()
	if !s.Next() || s.Event().Job == nil {
		t.Fatalf("first event: %v", s.Err())
	}
	ts.stop()
	start := time.Now()
	for s.Next() {
	}
	if status.Code(s.Err()) != codes.Unavailable || !strings.Contains(s.Err().Error(), "giving up") {
		t.Fatalf("stream ended with %v, want UNAVAILABLE after giving up", s.Err())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v", d)
	}
}

// TestJobsAndAuth covers Submit (idempotent), Get, List, Cancel and the
// bearer token.
func TestJobsAndAuth(t *testing.T) {
	h := newHarness(t)
	ts := h.startServer("", server.Options{Tokens: []string{"s3cret"}})
	ctx := testCtx(t)

	anon := dial(t, ts.addr, client.Options{})
	if _, err := anon.Get(ctx, "nope"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("without a token: %v, want UNAUTHENTICATED", err)
	}
	c := dial(t, ts.addr, client.Options{Token: "s3cret"})
	req := client.Request{RequestID: "jobs-1", Model: simModel, Problems: simtest.Problems(2, 2, 2)}
	a, err := c.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Submit(ctx, req)
	if err != nil || b.Id != a.Id {
		t.Fatalf("resubmission: %v, %v; want job %s", b, err, a.Id)
	}
	req.Spec = &shepherdv1.JobSpec{N: proto.Int32(3)}
	if _, err := c.Submit(ctx, req); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("same request id, other request: %v, want ALREADY_EXISTS", err)
	}
	if g, err := c.Get(ctx, a.Id); err != nil || g.Id != a.Id || g.SolutionsTotal != 4 {
		t.Fatalf("Get: %v, %v", g, err)
	}
	jobs, next, err := c.List(ctx, client.ListOptions{})
	if err != nil || len(jobs) != 1 || jobs[0].Id != a.Id || next != "" {
		t.Fatalf("List: %v, %q, %v", jobs, next, err)
	}
	cj, err := c.Cancel(ctx, a.Id)
	if err != nil || cj.State != shepherdv1.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("Cancel: %v, %v", cj, err)
	}
	// A cancelled job's stream ends with its terminal snapshot.
	s := c.Labels(ctx, a.Id, "")
	for s.Next() {
	}
	if s.Err() != nil || s.Job().GetState() != shepherdv1.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("stream of a cancelled job: %v, %v", s.Job(), s.Err())
	}
	if _, err := c.Get(ctx, "no-such-job"); status.Code(err) != codes.NotFound {
		t.Fatalf("Get of an unknown job: %v", err)
	}
	bad := c.LabelSolutions(ctx, client.Request{Model: simModel})
	if bad.Next() || status.Code(bad.Err()) != codes.InvalidArgument {
		t.Fatalf("empty request: %v, want INVALID_ARGUMENT", bad.Err())
	}
}

// TestTLS: a client that trusts the server's CA connects, with a client
// certificate where the server asks for one; one that does not fails in
// Dial with the reason.
func TestTLS(t *testing.T) {
	h := newHarness(t)
	ca := testcert.NewCA(t)
	cert, key := ca.Issue(t, "server", x509.ExtKeyUsageServerAuth)
	tlsConf, err := server.TLSConfig(cert, key, ca.File)
	if err != nil {
		t.Fatal(err)
	}
	ts := h.startServer("", server.Options{TLS: tlsConf, Tokens: []string{"tok"}})
	ctx := testCtx(t)
	ccert, ckey := ca.Issue(t, "client", x509.ExtKeyUsageClientAuth)

	c, err := client.Dial(ctx, ts.addr, client.Options{CAFile: ca.File, CertFile: ccert, KeyFile: ckey, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, err := c.List(ctx, client.ListOptions{}); err != nil {
		t.Fatalf("List over mutual TLS: %v", err)
	}
	if _, err := client.Dial(ctx, ts.addr, client.Options{CAFile: ca.File, Token: "tok", MaxOutage: time.Millisecond}); err == nil {
		t.Error("Dial without the client certificate succeeded")
	}
	if _, err := client.Dial(ctx, ts.addr, client.Options{Token: "tok"}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Dial without the CA: %v, want a certificate error", err)
	}
	if _, err := client.Dial(ctx, ts.addr, client.Options{Insecure: true, CAFile: ca.File}); err == nil {
		t.Error("Insecure with a CA file was accepted")
	}
	if _, err := client.Dial(ctx, ts.addr, client.Options{CertFile: ccert}); err == nil {
		t.Error("a client certificate without its key was accepted")
	}
}

// TestDialFails: Dial reports an address nobody serves, within ctx.
func TestDialFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := client.Dial(ctx, addr, client.Options{Insecure: true}); err == nil || status.Code(errors.Unwrap(err)) != codes.Unavailable {
		t.Fatalf("Dial of a closed port: %v", err)
	}
	c, err := client.Dial(ctx, addr, client.Options{Insecure: true, Lazy: true})
	if err != nil {
		t.Fatalf("lazy Dial: %v", err)
	}
	c.Close()
}
