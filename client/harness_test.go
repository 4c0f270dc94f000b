package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/redisq"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/server"
)

const simModel = "sim"

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

func simPool(t *testing.T, opt sim.Options) *rollout.Pool {
	t.Helper()
	opt.Model = simModel
	hs := httptest.NewServer(sim.New(opt))
	t.Cleanup(hs.Close)
	c, err := rollout.NewClient(rollout.ClientOptions{BaseURL: hs.URL + "/v1", Model: simModel, Timeout: 5 * time.Second,
		BackoffBase: time.Millisecond, BackoffMax: 20 * time.Millisecond, MaxRetries: 5})
	if err != nil {
		t.Fatal(err)
	}
	pool, err := rollout.NewPool([]*rollout.Client{c}, rollout.PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// startWorker runs a rollout worker on the Redis queue until the test ends.
func (h *harness) startWorker(opt sim.Options) {
	h.t.Helper()
	pool := simPool(h.t, opt)
	q := redisq.New(h.rdb, h.qopt)
	w := &rollout.Worker{Queue: q, Generator: pool, Grader: labeler.NewGrader(labeler.GraderOptions{}), Model: simModel,
		Concurrency: 16, DrainTimeout: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = w.Run(ctx) }()
	h.t.Cleanup(func() { cancel(); q.Close(); wg.Wait() })
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

// simProblems is a simulator data set as labeling input.
func simProblems(seed int64, problems, perProblem int) []labeler.Problem {
	ds := sim.GenerateDataset(sim.DatasetOptions{Seed: seed, Problems: problems, SolutionsPerProblem: perProblem, MinOps: 3, MaxOps: 6, ErrorRate: 0.5})
	var out []labeler.Problem
	for _, p := range ds {
		lp := labeler.Problem{ID: p.ID, Question: p.Question, Answer: p.Answer}
		for _, s := range p.Solutions {
			lp.Solutions = append(lp.Solutions, labeler.SolutionInput{ID: s.ID, Text: s.Text})
		}
		out = append(out, lp)
	}
	return out
}

type sliceSource struct{ sols []labeler.PreparedSolution }

func (s *sliceSource) Next() (labeler.PreparedSolution, error) {
	if len(s.sols) == 0 {
		return labeler.PreparedSolution{}, io.EOF
	}
	sol := s.sols[0]
	s.sols = s.sols[1:]
	return sol, nil
}

// embedded labels problems the way `shepherd label` does (an in-process
// queue and worker) with the API's defaults but n and seed; it returns
// the records as JSON by solution.
func embedded(t *testing.T, problems []labeler.Problem, strategy labeler.Strategy, n int, seed int64) map[string]string {
	t.Helper()
	var sols []labeler.PreparedSolution
	for _, p := range problems {
		ps, err := p.Prepare(p.ID, labeler.InputLimits{})
		if err != nil {
			t.Fatal(err)
		}
		sols = append(sols, ps...)
	}
	ctx := testCtx(t)
	q := rollout.NewMemQueue(0)
	defer q.Close()
	grader := labeler.NewGrader(labeler.GraderOptions{})
	w := &rollout.Worker{Queue: q, Generator: simPool(t, sim.Options{}), Grader: grader, Model: simModel, Concurrency: 32}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = w.Run(wctx) }()
	defer func() { stop(); wg.Wait() }()
	out := map[string]string{}
	_, err := rollout.RunJob(ctx, q, grader, rollout.JobOptions{ID: "label", Model: simModel, Strategy: strategy, N: n, Seed: seed,
		Params: rollout.SamplingParams{Temperature: 0.7, TopP: 1, MaxTokens: 1024}, Reuse: true, Window: 256},
		&sliceSource{sols: sols}, func(r labeler.Record) error {
			out[r.ProblemID+"/"+r.SolutionID] = recordJSON(t, r)
			return nil
		})
	if err != nil {
		t.Fatal(err)
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

func sameRecords(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d records, want %d", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("record %s missing", k)
		} else if g != w {
			t.Errorf("record %s differs:\n got  %s\n want %s", k, g, w)
		}
	}
}

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	pemDER []byte
	file   string
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, pemDER: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	ca.file = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca.file, ca.pemDER, 0o600); err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue writes a certificate and key for 127.0.0.1 signed by the CA.
func (ca *testCA) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
