package rollout

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// PoolOptions configure a Pool.
type PoolOptions struct {
	// MaxConcurrency is the per-backend ceiling of requests in flight, and
	// the starting limit; default 64.
	MaxConcurrency int
	// MinConcurrency is the floor the limit never shrinks below; default 1.
	MinConcurrency int
	// DownFor is how long a backend that looks dead (connection refused, or
	// DownAfter consecutive 5xx / timeouts / broken responses) is skipped;
	// default 10s.
	DownFor time.Duration
	// DownAfter is the number of consecutive failures that mark a backend
	// down; default 3. A refused connection marks it down at once.
	DownAfter int
	// Observer sees every attempt (nil: none). Backends gives the
	// per-backend gauges (limit, in flight) to read at scrape time.
	Observer Observer
	// OnBackendState, when set, hears when a backend leaves rotation for
	// a fault of its own (reason says which, in the server's words) and
	// when it comes back (reason "").
	OnBackendState func(backend, reason string)
	// LoadBound is consistent hashing with bounded loads (Mirrokni et al.):
	// a request goes to its key's first rendezvous choice unless that
	// backend is full (as many samples assigned as it has sequence slots)
	// and holds more than LoadBound x the average load, counted in samples
	// assigned; it then spills to the next choice in the key's same stable
	// order. 0 means DefaultLoadBound; below 1 (say -1) turns it off.
	LoadBound float64
	// BackendSeqs is each backend's bound on sequences generated at once
	// (its max_num_seqs), in NewPool's client order; a missing or zero
	// entry means DefaultBackendSeqs. Capacity adds them up.
	BackendSeqs []int
}

// outAfterFailures is how many consecutive failed attempts, with no
// success between them, make a backend's 5xx / timeouts / broken
// responses its own fault rather than bad luck: it leaves rotation until
// a probe passes.
const outAfterFailures = 4

// Defaults of PoolOptions.
const (
	DefaultMaxConcurrency = 64
	DefaultMinConcurrency = 1
	DefaultDownFor        = 10 * time.Second
	DefaultDownAfter      = 3
)

// Pool spreads requests over several backends serving the same model.
//
// Routing is rendezvous (highest-random-weight) hashing of RouteKey: each
// backend scores hash(key, backend) and the key goes to the highest-scoring
// backend that is up. Compared with a ring of virtual nodes this needs no
// tuning (no virtual-node count, no ring to rebuild), balances keys evenly
// by construction, moves exactly the keys the new backend wins (~1/k) when
// a backend is added, and when a backend is down its keys fall to each
// key's own second choice, so they spread over all survivors instead of
// piling onto one ring neighbour. The O(k) scoring per request is nothing
// next to an inference call for the handful of backends a pool holds.
// Scores hash the base URL, so routing is the same in every worker process
// whatever order the backends are listed in.
//
// Each backend has an AIMD concurrency limit: it halves on 429/503 (once per
// generation of requests, so a burst of throttled responses to requests that
// were all in flight together halves it once) and grows by one after as
// many successes as the current limit; below the level it was halved from
// it grows by one per success, so it recovers within one generation. Other
// errors say nothing about load and leave it alone.
//
// A backend at fault (the model is not served, the key is refused, nothing
// listens, or outAfterFailures*DownAfter failures in a row) is out of
// rotation: it is skipped, and when every backend is out, Generate fails
// at once with an error wrapping ErrNoUsableBackend (IsBackendFault) so the
// task goes back to the queue for workers that can run it. Probe and
// Recheck put backends back.
//
// Pool is safe for concurrent use.
type Pool struct {
	backends []*poolBackend
	opt      PoolOptions
	obs      Observer
	retry    retryPolicy
	rr       atomic.Uint64 // rotates ties for requests without a RouteKey
	now      func() time.Time
}

// Backend is one inference server a Pool routes to; *Client, which speaks
// HTTP through a Wire, is the one there is. Beyond answering and probing,
// a backend makes single classified attempts and states its retry budget,
// so the pool runs the retries itself and can fail over between attempts.
type Backend interface {
	Generator
	BaseURL() string
	Probe(ctx context.Context) error
	attempt(ctx context.Context, req GenerateRequest) (GenerateResult, attemptOutcome)
	retryPolicy() retryPolicy
}

type poolBackend struct {
	client Backend
	seed   uint64 // hash of the base URL: the backend's identity for routing
	lim    *aimdLimiter
	seqs   int          // sequence slots (PoolOptions.BackendSeqs)
	load   atomic.Int64 // samples of the requests assigned to it now

	mu          sync.Mutex
	downUntil   time.Time
	consecFails int // unhealthy attempts since the last healthy one or the last time it went down
	failStreak  int // unhealthy attempts since the last success
	outReason   string
	counts      map[string]uint64
}

// BackendStats is a snapshot of one backend's state.
type BackendStats struct {
	BaseURL   string
	Limit     int       // current concurrency limit
	InFlight  int       // attempts holding a slot
	Waiting   int       // attempts queued for a slot
	Up        bool      // false while the backend is skipped
	DownUntil time.Time // zero when up
	// OutReason says why the backend is out of rotation for a fault of
	// its own; "" while it is in.
	OutReason string
	// Attempts counts HTTP attempts by outcome: the status code ("200",
	// "429", "503", …) or the transport failure ("timeout", "unreachable",
	// "conn_error", "bad_response", "canceled"). The set is bounded, so the
	// keys can be metric label values.
	Attempts map[string]uint64
}

// NewPool builds a pool over backends, which must have distinct base URLs.
func NewPool[B Backend](backends []B, opt PoolOptions) (*Pool, error) {
	if len(backends) == 0 {
		return nil, errors.New("rollout: NewPool needs at least one backend")
	}
	if opt.MaxConcurrency < 0 || opt.MinConcurrency < 0 || opt.DownFor < 0 || opt.DownAfter < 0 {
		return nil, errors.New("rollout: PoolOptions values must be >= 0")
	}
	if err := checkBackendSeqs(opt.BackendSeqs, len(backends)); err != nil {
		return nil, err
	}
	if opt.MaxConcurrency == 0 {
		opt.MaxConcurrency = DefaultMaxConcurrency
	}
	if opt.MinConcurrency == 0 {
		opt.MinConcurrency = DefaultMinConcurrency
	}
	if opt.MinConcurrency > opt.MaxConcurrency {
		return nil, fmt.Errorf("rollout: PoolOptions.MinConcurrency (%d) exceeds MaxConcurrency (%d)", opt.MinConcurrency, opt.MaxConcurrency)
	}
	if opt.DownFor == 0 {
		opt.DownFor = DefaultDownFor
	}
	if opt.DownAfter == 0 {
		opt.DownAfter = DefaultDownAfter
	}
	if opt.LoadBound == 0 {
		opt.LoadBound = DefaultLoadBound
	}
	p := &Pool{opt: opt, obs: observerOr(opt.Observer), now: time.Now}
	seen := make(map[string]bool, len(backends))
	var none B // a nil *Client is a nil Backend too
	for i, c := range backends {
		if any(c) == any(none) {
			return nil, fmt.Errorf("rollout: NewPool: client %d is nil", i)
		}
		base := c.BaseURL()
		if seen[base] {
			return nil, fmt.Errorf("rollout: NewPool: backend %s listed twice", base)
		}
		seen[base] = true
		p.backends = append(p.backends, &poolBackend{
			client: c,
			seed:   HashKey(base),
			lim:    newAIMDLimiter(opt.MinConcurrency, opt.MaxConcurrency),
			seqs:   backendSeqs(opt.BackendSeqs, i),
			counts: make(map[string]uint64),
		})
		// The pool retries on its own (so it can fail over between
		// attempts): the budget is the most generous backend's, the
		// backoff the first backend's.
		r := c.retryPolicy()
		if i == 0 || r.MaxRetries > p.retry.MaxRetries {
			p.retry.MaxRetries = r.MaxRetries
		}
		if i == 0 {
			p.retry.Backoff = r.Backoff
		}
	}
	return p, nil
}

// Generate routes req by RouteKey and runs it with retries. Between attempts
// the request may move to another backend if the one it used is now down;
// throttled requests (429/503) stay where their prefix is cached and wait.
func (p *Pool) Generate(ctx context.Context, req GenerateRequest) (GenerateResult, error) {
	if err := validateRequest(req); err != nil {
		return GenerateResult{}, invalidRequest("", err)
	}
	return p.retry.run(ctx, func(ctx context.Context, _ int) (GenerateResult, attemptOutcome, bool) {
		b := p.pickLoaded(req.RouteKey, req.N)
		if b == nil {
			msg := strings.Join(p.OutReasons(), "; ")
			return GenerateResult{}, attemptOutcome{kind: outcomeMisconfigured, backend: "no usable backend", message: msg, err: fmt.Errorf("%w: %s", ErrNoUsableBackend, msg)}, false
		}
		defer b.load.Add(-int64(req.N))
		slot, err := b.lim.acquire(ctx)
		if err != nil {
			return GenerateResult{}, attemptOutcome{kind: outcomeCanceled, backend: b.client.BaseURL(), err: err}, false
		}
		start := time.Now()
		res, o := b.client.attempt(ctx, req)
		d := time.Since(start)
		if o.kind == outcomeOK {
			b.lim.observeLatency(d)
		}
		b.lim.release(slot, o.kind)
		p.observe(b, o)
		observeAttempt(p.obs, o, res, d)
		next := p.pick(req.RouteKey)
		failover := o.kind.unhealthy() && next != nil && next != b
		return res, o, failover
	})
}

// observe updates a backend's health and counts after an attempt.
func (p *Pool) observe(b *poolBackend, o attemptOutcome) {
	b.mu.Lock()
	b.counts[o.label()]++
	var out error
	switch {
	case o.kind == outcomeUnreachable || o.kind == outcomeMisconfigured:
		out = errors.New(outcomeReason(o))
	case o.kind.unhealthy():
		b.consecFails++
		b.failStreak++
		if b.consecFails >= p.opt.DownAfter {
			b.downUntil = p.now().Add(p.opt.DownFor)
			b.consecFails = 0
		}
		if b.failStreak >= outAfterFailures*p.opt.DownAfter {
			out = fmt.Errorf("backend %s: %d failed requests in a row, the last: %s", o.backend, b.failStreak, o.message)
		}
	case o.kind == outcomeOK || o.kind == outcomePermanent:
		// The server answered coherently: it is alive and serves the
		// model.
		b.consecFails, b.failStreak = 0, 0
		if b.outReason != "" {
			b.mu.Unlock()
			p.setOut(b, nil)
			return
		}
	}
	b.mu.Unlock()
	if out != nil {
		p.setOut(b, out)
	}
}

// state reports whether b may take a request now (up) and whether it is in
// rotation. A backend out of rotation is up again once its down time has
// passed: that request is its trial.
func (b *poolBackend) state(now time.Time) (up, in bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !now.Before(b.downUntil), b.outReason == ""
}

// pick chooses the backend for key: the highest rendezvous score among the
// backends that are up, or among those in rotation if none is; nil when
// every backend is out of rotation. An empty key takes the up backend with
// the most free slots.
func (p *Pool) pick(key string) *poolBackend {
	now := p.now()
	if key == "" {
		return p.pickLeastLoaded(now)
	}
	kh := HashKey(key)
	var best, bestAny *poolBackend
	var bestScore, bestAnyScore uint64
	for _, b := range p.backends {
		s := mix64(kh ^ b.seed)
		up, in := b.state(now)
		if in && (bestAny == nil || s > bestAnyScore) {
			bestAny, bestAnyScore = b, s
		}
		if up && (best == nil || s > bestScore) {
			best, bestScore = b, s
		}
	}
	if best == nil {
		return bestAny
	}
	return best
}

func (p *Pool) pickLeastLoaded(now time.Time) *poolBackend {
	n := len(p.backends)
	start := int(p.rr.Add(1) % uint64(n))
	var best *poolBackend
	bestFree, bestUp := 0, false
	for i := range n {
		b := p.backends[(start+i)%n]
		free := b.lim.free()
		up, in := b.state(now)
		if !up && !in {
			continue
		}
		if best == nil || (up && !bestUp) || (up == bestUp && free > bestFree) {
			best, bestFree, bestUp = b, free, up
		}
	}
	return best
}

// Backends returns a snapshot of every backend, in the order given to
// NewPool.
func (p *Pool) Backends() []BackendStats {
	now := p.now()
	out := make([]BackendStats, 0, len(p.backends))
	for _, b := range p.backends {
		limit, inflight, waiting := b.lim.snapshot()
		b.mu.Lock()
		st := BackendStats{
			BaseURL:   b.client.BaseURL(),
			Limit:     limit,
			InFlight:  inflight,
			Waiting:   waiting,
			Up:        !now.Before(b.downUntil) && b.outReason == "",
			OutReason: b.outReason,
			Attempts:  make(map[string]uint64, len(b.counts)),
		}
		if now.Before(b.downUntil) {
			st.DownUntil = b.downUntil
		}
		for k, v := range b.counts {
			st.Attempts[k] = v
		}
		b.mu.Unlock()
		out = append(out, st)
	}
	return out
}

// HashKey hashes a routing key (FNV-1a, then mix64 so that similar keys
// spread): the one hash of the pool's and the Redis queue's rendezvous
// routing.
func HashKey(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return mix64(h.Sum64())
}

// mix64 is the splitmix64 finalizer: a bijection with full avalanche, so
// scores of one key on different backends are independent.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// aimdLimiter is a FIFO semaphore whose size adapts: additive increase
// after a run of successes, multiplicative decrease on throttling.
type aimdLimiter struct {
	mu       sync.Mutex
	min, max int
	limit    int
	inflight int
	streak   int    // successes since the limit last changed
	epoch    uint64 // bumped on every decrease
	recover  int    // the limit before the last decrease: growth is fast up to it
	// rtt is a moving average of successful attempts' latency; decreases
	// are at least that far apart, so a server that throttles a random
	// share of requests costs one halving per round trip, which fast
	// recovery makes up within the round trip, instead of a halving per
	// throttled response that ratchets the limit down to its floor.
	rtt          time.Duration
	lastDecrease time.Time
	waiters      []*aimdWaiter
}

type aimdWaiter struct {
	ready   chan struct{}
	granted bool
	epoch   uint64
}

// aimdSlot is held by one attempt; epoch is the limiter's epoch when the
// slot was granted.
type aimdSlot struct{ epoch uint64 }

func newAIMDLimiter(minLimit, maxLimit int) *aimdLimiter {
	return &aimdLimiter{min: minLimit, max: maxLimit, limit: maxLimit}
}

// acquire waits for a slot, in arrival order, or until ctx is done.
func (l *aimdLimiter) acquire(ctx context.Context) (aimdSlot, error) {
	if err := ctx.Err(); err != nil {
		return aimdSlot{}, err
	}
	l.mu.Lock()
	if len(l.waiters) == 0 && l.inflight < l.limit {
		l.inflight++
		s := aimdSlot{epoch: l.epoch}
		l.mu.Unlock()
		return s, nil
	}
	w := &aimdWaiter{ready: make(chan struct{})}
	l.waiters = append(l.waiters, w)
	l.mu.Unlock()

	select {
	case <-w.ready:
		return aimdSlot{epoch: w.epoch}, nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		if w.granted {
			// Granted while giving up: hand the slot on.
			l.inflight--
			l.grantLocked()
		} else {
			for i, x := range l.waiters {
				if x == w {
					l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
					break
				}
			}
		}
		return aimdSlot{}, ctx.Err()
	}
}

// observeLatency feeds a successful attempt's duration to the round-trip
// average (weight 1/8, as TCP's SRTT).
func (l *aimdLimiter) observeLatency(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rtt == 0 {
		l.rtt = d
		return
	}
	l.rtt += (d - l.rtt) / 8
}

// release returns a slot and adapts the limit to the attempt's outcome.
func (l *aimdLimiter) release(s aimdSlot, k outcomeKind) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	switch k {
	case outcomeOK:
		l.streak++
		if l.limit < l.max && (l.limit < l.recover || l.streak >= l.limit) {
			l.limit++
			l.streak = 0
		}
	case outcomeThrottled:
		// Only a slot granted since the last decrease may decrease again:
		// the requests already in flight when the server began throttling
		// are answered by one halving, not one each.
		if now := time.Now(); s.epoch == l.epoch && now.Sub(l.lastDecrease) >= l.rtt {
			l.lastDecrease = now
			l.recover = l.limit
			l.limit = max(l.min, l.limit/2)
			l.epoch++
		}
		l.streak = 0
	default:
		// 5xx, timeouts, broken responses and cancellations say nothing
		// about load: resetting the growth on them would pin the limit
		// near its floor on a server that throttles now and then and
		// errs now and then (the backend's health deals with them).
	}
	l.grantLocked()
}

func (l *aimdLimiter) grantLocked() {
	for len(l.waiters) > 0 && l.inflight < l.limit {
		w := l.waiters[0]
		l.waiters[0] = nil
		l.waiters = l.waiters[1:]
		w.granted = true
		w.epoch = l.epoch
		l.inflight++
		close(w.ready)
	}
}

func (l *aimdLimiter) free() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit - l.inflight - len(l.waiters)
}

func (l *aimdLimiter) snapshot() (limit, inflight, waiting int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit, l.inflight, len(l.waiters)
}
