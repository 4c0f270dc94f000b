package rollout

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func mustPool(t *testing.T, clients []*Client, opt PoolOptions) *Pool {
	t.Helper()
	p, err := NewPool(clients, opt)
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	return p
}

// offlineClients are clients for routing tests that never send a request.
func offlineClients(t *testing.T, n int) []*Client {
	t.Helper()
	cs := make([]*Client, n)
	for i := range cs {
		cs[i] = mustClient(t, fastOpts(fmt.Sprintf("http://gpu-%d.cluster.local:8000/v1", i)))
	}
	return cs
}

func routeAll(p *Pool, keys int) map[string]string {
	out := make(map[string]string, keys)
	for i := range keys {
		k := fmt.Sprintf("job-7/solution-%d", i)
		out[k] = p.pick(k).client.BaseURL()
	}
	return out
}

func TestPoolSameKeySameBackend(t *testing.T) {
	var servers []*fakeServer
	var clients []*Client
	for range 4 {
		fs := newFakeServer(t, nil)
		servers = append(servers, fs)
		clients = append(clients, mustClient(t, fastOpts(fs.url())))
	}
	p := mustPool(t, clients, PoolOptions{})
	for s := range 20 {
		req := testRequest()
		req.RouteKey = fmt.Sprintf("job-1/solution-%d", s)
		var first string
		for step := range 5 {
			req.Prefix += fmt.Sprintf("Step %d.\n", step)
			res, err := p.Generate(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			checkSamples(t, res, 4, 1000)
			if step == 0 {
				first = res.Backend
			} else if res.Backend != first {
				t.Fatalf("key %q went to %s then %s", req.RouteKey, first, res.Backend)
			}
		}
	}
	used := 0
	for _, fs := range servers {
		if fs.Attempts.Load() > 0 {
			used++
		}
	}
	if used < 3 {
		t.Errorf("20 keys used only %d of 4 backends", used)
	}
	// Routing depends on base URLs, not on the order backends are listed.
	rev := mustPool(t, []*Client{clients[3], clients[2], clients[1], clients[0]}, PoolOptions{})
	a, b := routeAll(p, 200), routeAll(rev, 200)
	for k := range a {
		if a[k] != b[k] {
			t.Fatalf("key %q routes to %s or %s depending on backend order", k, a[k], b[k])
		}
	}
	st := p.Backends()
	var total uint64
	for _, s := range st {
		total += s.Attempts["200"]
		if !s.Up || s.Limit != DefaultMaxConcurrency || s.InFlight != 0 {
			t.Errorf("stats %+v", s)
		}
	}
	if total != 100 {
		t.Errorf("200s counted = %d, want 100", total)
	}
}

func TestPoolDistributionAndRebalance(t *testing.T) {
	clients := offlineClients(t, 5)
	p4 := mustPool(t, clients[:4], PoolOptions{})
	r4 := routeAll(p4, 1000)
	counts := map[string]int{}
	for _, b := range r4 {
		counts[b]++
	}
	for _, c := range clients[:4] {
		if n := counts[c.BaseURL()]; n < 180 || n > 320 {
			t.Errorf("%s got %d of 1000 keys, want about 250", c.BaseURL(), n)
		}
	}

	p5 := mustPool(t, clients, PoolOptions{})
	r5 := routeAll(p5, 1000)
	moved := 0
	for k, b := range r4 {
		if r5[k] != b {
			moved++
			if r5[k] != clients[4].BaseURL() {
				t.Errorf("key %q moved between old backends (%s → %s)", k, b, r5[k])
			}
		}
	}
	if moved > 350 || moved < 100 {
		t.Errorf("adding a 5th backend moved %d of 1000 keys, want about 200", moved)
	}
}

func TestPoolDownBackendSkipped(t *testing.T) {
	var failing atomic.Bool
	flaky := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, i int) bool {
		if failing.Load() {
			writeVLLMError(w, http.StatusBadGateway, "BadGateway", "upstream gone", false)
			return true
		}
		return false
	})
	steady := newFakeServer(t, nil)
	refusedURL := "http://" + closedAddr(t) + "/v1"
	clients := []*Client{
		mustClient(t, fastOpts(flaky.url())),
		mustClient(t, fastOpts(steady.url())),
		mustClient(t, fastOpts(refusedURL)),
	}
	p := mustPool(t, clients, PoolOptions{DownFor: 200 * time.Millisecond, DownAfter: 2})

	// Find keys whose first choice is each backend.
	keyFor := map[string]string{}
	for i := 0; len(keyFor) < 3; i++ {
		k := fmt.Sprintf("key-%d", i)
		b := p.pick(k).client.BaseURL()
		if _, ok := keyFor[b]; !ok {
			keyFor[b] = k
		}
	}

	// A refused connection marks the backend down at once and the request
	// fails over without waiting.
	req := testRequest()
	req.RouteKey = keyFor[refusedURL]
	res, err := p.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Backend == refusedURL {
		t.Fatal("answered by the refusing backend")
	}
	if st := p.Backends()[2]; st.Up || st.Attempts["unreachable"] != 1 || st.DownUntil.IsZero() {
		t.Errorf("refusing backend stats = %+v", st)
	}
	if got := p.pick(req.RouteKey).client.BaseURL(); got != res.Backend {
		t.Errorf("while down, key routes to %s, want %s", got, res.Backend)
	}

	// Repeated 5xx mark a backend down; its keys move, then return once
	// it is healthy again and DownFor has passed.
	failing.Store(true)
	req.RouteKey = keyFor[flaky.url()]
	res, err = p.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Backend != steady.url() {
		t.Errorf("answered by %s, want failover to %s", res.Backend, steady.url())
	}
	if st := p.Backends()[0]; st.Up || st.Attempts["502"] != 2 {
		t.Errorf("flaky backend stats = %+v", st)
	}
	failing.Store(false)
	before := flaky.Attempts.Load()
	if res, err = p.Generate(context.Background(), req); err != nil || res.Backend != steady.url() {
		t.Errorf("while down: backend %s, err %v", res.Backend, err)
	}
	if flaky.Attempts.Load() != before {
		t.Error("a down backend was sent a request")
	}
	time.Sleep(250 * time.Millisecond)
	if res, err = p.Generate(context.Background(), req); err != nil || res.Backend != flaky.url() {
		t.Errorf("after DownFor: backend %s, err %v; want the key back on %s", res.Backend, err, flaky.url())
	}
	if !p.Backends()[0].Up {
		t.Error("recovered backend still reported down")
	}
}

// TestPoolNoUsableBackend: a refused connection takes the only backend out
// of rotation, and the pool says so at once (a backend fault, not the
// task's) instead of spending the task's retries on it.
func TestPoolNoUsableBackend(t *testing.T) {
	opt := fastOpts("http://" + closedAddr(t) + "/v1")
	opt.MaxRetries = 2
	var reasons []string
	p := mustPool(t, []*Client{mustClient(t, opt)}, PoolOptions{OnBackendState: func(_, r string) { reasons = append(reasons, r) }})
	_, err := p.Generate(context.Background(), testRequest())
	if !IsBackendFault(err) || IsPermanent(err) || !errors.Is(err, ErrNoUsableBackend) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v, want a backend fault wrapping ErrNoUsableBackend", err)
	}
	if p.Usable() || len(reasons) != 1 || !strings.Contains(reasons[0], "unreachable") || p.Backends()[0].Up {
		t.Errorf("usable %v, reasons %q, stats %+v", p.Usable(), reasons, p.Backends()[0])
	}
}

// TestPoolMisconfiguredBackendFailsOver: a backend that does not serve the
// model (vLLM's 404) leaves rotation with the server's words as its reason,
// the request goes to the other backend, and a probe keeps it out until it
// lists the model.
func TestPoolMisconfiguredBackendFailsOver(t *testing.T) {
	var serves atomic.Bool
	bad := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, i int) bool {
		if r.URL.Path == "/v1/models" {
			model := "other"
			if serves.Load() {
				model = fastOpts("").Model
			}
			_, _ = fmt.Fprintf(w, `{"object":"list","data":[{"id":%q,"object":"model"}]}`, model)
			return true
		}
		writeVLLMError(w, 404, "NotFoundError", "The model `"+fastOpts("").Model+"` does not exist.", false)
		return true
	})
	good := newFakeServer(t, nil)
	p := mustPool(t, []*Client{mustClient(t, fastOpts(bad.url())), mustClient(t, fastOpts(good.url()))}, PoolOptions{DownFor: time.Millisecond})
	req := testRequest()
	for i := 0; p.pick(req.RouteKey).client.BaseURL() != bad.url(); i++ {
		req.RouteKey = fmt.Sprint("k", i)
	}
	res, err := p.Generate(context.Background(), req)
	if err != nil || res.Backend != good.url() {
		t.Fatalf("backend %s, err %v; want a failover to %s", res.Backend, err, good.url())
	}
	st := p.Backends()[0]
	if st.Up || !strings.Contains(st.OutReason, "The model `"+fastOpts("").Model+"` does not exist.") || !strings.Contains(st.OutReason, bad.url()) {
		t.Errorf("bad backend stats %+v", st)
	}
	time.Sleep(5 * time.Millisecond)
	if !p.Recheck(context.Background()) || p.Backends()[0].OutReason == "" {
		t.Errorf("a probe of a backend serving another model put it back: %+v", p.Backends()[0])
	}
	serves.Store(true)
	time.Sleep(5 * time.Millisecond)
	if p.Recheck(context.Background()); p.Backends()[0].OutReason != "" {
		t.Errorf("a passing probe left the backend out: %+v", p.Backends()[0])
	}
}

func TestPoolPermanentErrorNotRetried(t *testing.T) {
	fs := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, i int) bool {
		writeVLLMError(w, 400, "BadRequestError", "This model's maximum context length is 4096 tokens.", false)
		return true
	})
	other := newFakeServer(t, nil)
	p := mustPool(t, []*Client{mustClient(t, fastOpts(fs.url())), mustClient(t, fastOpts(other.url()))}, PoolOptions{})
	req := testRequest()
	for i := 0; p.pick(req.RouteKey).client.BaseURL() != fs.url(); i++ {
		req.RouteKey = fmt.Sprint("k", i)
	}
	_, err := p.Generate(context.Background(), req)
	if !IsPermanent(err) || fs.Attempts.Load() != 1 || other.Attempts.Load() != 0 {
		t.Fatalf("err = %v, attempts %d/%d", err, fs.Attempts.Load(), other.Attempts.Load())
	}
	if !p.Backends()[0].Up {
		t.Error("a 400 marked the backend down")
	}
}

func TestPoolThrottleShrinksLimit(t *testing.T) {
	fs := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, i int) bool {
		if i == 0 {
			w.Header().Set("Retry-After", "0")
			writeVLLMError(w, 429, "TooManyRequests", "queue full", true)
			return true
		}
		return false
	})
	p := mustPool(t, []*Client{mustClient(t, fastOpts(fs.url()))}, PoolOptions{MaxConcurrency: 8})
	if _, err := p.Generate(context.Background(), testRequest()); err != nil {
		t.Fatal(err)
	}
	// Halved to 4 by the 429, then one up for the success (fast recovery
	// towards the 8 it was halved from).
	st := p.Backends()[0]
	if st.Limit != 5 || st.Attempts["429"] != 1 || st.Attempts["200"] != 1 || !st.Up {
		t.Errorf("stats = %+v, want limit 5 after one 429 and one success", st)
	}
	for range 4 {
		if _, err := p.Generate(context.Background(), testRequest()); err != nil {
			t.Fatal(err)
		}
	}
	if st := p.Backends()[0]; st.Limit != 8 {
		t.Errorf("limit = %d after 5 successes, want 8", st.Limit)
	}
}

func TestPoolWaitForSlotRespectsContext(t *testing.T) {
	release := make(chan struct{})
	fs := newFakeServer(t, func(w http.ResponseWriter, r *http.Request, i int) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return false
	})
	defer close(release)
	p := mustPool(t, []*Client{mustClient(t, fastOpts(fs.url()))}, PoolOptions{MaxConcurrency: 1})
	go func() { _, _ = p.Generate(context.Background(), testRequest()) }()
	deadline := time.Now().Add(time.Second)
	for p.Backends()[0].InFlight != 1 {
		if time.Now().After(deadline) {
			t.Fatal("first request never got its slot")
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Generate(ctx, testRequest())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded while waiting for a slot", err)
	}
	if st := p.Backends()[0]; st.Waiting != 0 || st.InFlight != 1 {
		t.Errorf("stats after abandoned wait = %+v", st)
	}
}

func TestPoolEmptyRouteKeySpreads(t *testing.T) {
	var clients []*Client
	for range 3 {
		clients = append(clients, mustClient(t, fastOpts(newFakeServer(t, nil).url())))
	}
	p := mustPool(t, clients, PoolOptions{})
	seen := map[string]int{}
	for range 30 {
		seen[p.pick("").client.BaseURL()]++
	}
	if len(seen) != 3 {
		t.Errorf("empty keys used %d of 3 backends: %v", len(seen), seen)
	}
	req := testRequest()
	req.RouteKey = ""
	if _, err := p.Generate(context.Background(), req); err != nil {
		t.Fatal(err)
	}
}

func TestNewPoolValidation(t *testing.T) {
	cs := offlineClients(t, 2)
	for name, tc := range map[string]struct {
		clients []*Client
		opt     PoolOptions
	}{
		"empty":     {nil, PoolOptions{}},
		"duplicate": {[]*Client{cs[0], cs[0]}, PoolOptions{}},
		"nil":       {[]*Client{cs[0], nil}, PoolOptions{}},
		"min>max":   {cs, PoolOptions{MinConcurrency: 9, MaxConcurrency: 8}},
		"negative":  {cs, PoolOptions{DownFor: -1}},
	} {
		if _, err := NewPool(tc.clients, tc.opt); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A slice of the interface is accepted as well, nil entries refused.
	if _, err := NewPool([]Backend{cs[0], nil}, PoolOptions{}); err == nil || !strings.Contains(err.Error(), "client 1 is nil") {
		t.Errorf("nil Backend: err = %v", err)
	}
	if p, err := NewPool([]Backend{cs[1], cs[0]}, PoolOptions{}); err != nil || p.Backends()[0].BaseURL != cs[1].BaseURL() {
		t.Errorf("[]Backend: %v", err)
	}
	p := mustPool(t, cs, PoolOptions{})
	if p.opt.MaxConcurrency != 64 || p.opt.MinConcurrency != 1 || p.opt.DownFor != 10*time.Second || p.opt.DownAfter != 3 {
		t.Errorf("defaults = %+v", p.opt)
	}
}

func TestPoolAIMDLimiterSteps(t *testing.T) {
	ctx := context.Background()
	l := newAIMDLimiter(2, 8)
	acq := func() aimdSlot {
		t.Helper()
		s, err := l.acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	check := func(limit, inflight int) {
		t.Helper()
		gl, gi, _ := l.snapshot()
		if gl != limit || gi != inflight {
			t.Fatalf("limit/inflight = %d/%d, want %d/%d", gl, gi, limit, inflight)
		}
	}
	check(8, 0)

	// A burst of throttled responses to requests in flight together halves
	// the limit once.
	var slots []aimdSlot
	for range 8 {
		slots = append(slots, acq())
	}
	check(8, 8)
	for _, s := range slots {
		l.release(s, outcomeThrottled)
	}
	check(4, 0)

	// A request granted after the decrease can decrease again, down to min.
	l.release(acq(), outcomeThrottled)
	check(2, 0)
	l.release(acq(), outcomeThrottled)
	check(2, 0)

	// Additive increase: +1 after `limit` successes in a row.
	l.release(acq(), outcomeOK)
	check(2, 0)
	l.release(acq(), outcomeOK)
	check(3, 0)
	// Other failures and cancellations neither count nor break the run:
	// they say nothing about load.
	l.release(acq(), outcomeOK)
	l.release(acq(), outcomeServerError)
	l.release(acq(), outcomeOK)
	l.release(acq(), outcomeCanceled)
	l.release(acq(), outcomeTimeout)
	check(3, 0)
	l.release(acq(), outcomeOK)
	check(4, 0)
	for range 100 {
		l.release(acq(), outcomeOK)
	}
	check(8, 0) // capped at max

	// After a halving the limit climbs back one per success up to where it
	// was halved from, then one per `limit` successes again.
	l.release(acq(), outcomeThrottled)
	check(4, 0)
	for range 4 {
		l.release(acq(), outcomeOK)
	}
	check(8, 0)

	// The semaphore blocks at the limit, serves waiters in order, and a
	// waiter whose context ends leaves the queue.
	l = newAIMDLimiter(1, 2)
	a, b := acq(), acq()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	if _, err := l.acquire(tctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire over the limit: %v", err)
	}
	cancel()
	got := make(chan int, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			s, err := l.acquire(ctx)
			if err == nil {
				got <- i
				l.release(s, outcomeOK)
			}
		})
		for _, _, w := l.snapshot(); w != i+1; _, _, w = l.snapshot() {
			time.Sleep(time.Millisecond)
		}
	}
	l.release(a, outcomeThrottled) // limit 2 → 1: still full
	select {
	case i := <-got:
		t.Fatalf("waiter %d granted above the shrunk limit", i)
	case <-time.After(20 * time.Millisecond):
	}
	l.release(b, outcomeServerError) // frees one slot: waiter 0 only
	if first := <-got; first != 0 {
		t.Fatalf("waiter %d served first, want 0", first)
	}
	// Waiter 0's success grows the limit to 2, which admits waiter 1.
	if second := <-got; second != 1 {
		t.Fatalf("waiter %d served second, want 1", second)
	}
	wg.Wait()
	check(2, 0)
}
