package rollout

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
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
// were all in flight together halves it once) and grows by one after a run
// of as many successes as the current limit.
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

type poolBackend struct {
	client *Client
	seed   uint64 // hash of the base URL: the backend's identity for routing
	lim    *aimdLimiter
	seqs   int          // sequence slots (PoolOptions.BackendSeqs)
	load   atomic.Int64 // samples of the requests assigned to it now

	mu          sync.Mutex
	downUntil   time.Time
	consecFails int
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
	// Attempts counts HTTP attempts by outcome: the status code ("200",
	// "429", "503", …) or the transport failure ("timeout", "unreachable",
	// "conn_error", "bad_response", "canceled"). The set is bounded, so the
	// keys can be metric label values.
	Attempts map[string]uint64
}

// NewPool builds a pool over clients, which must have distinct base URLs.
func NewPool(clients []*Client, opt PoolOptions) (*Pool, error) {
	if len(clients) == 0 {
		return nil, errors.New("rollout: NewPool needs at least one backend")
	}
	if opt.MaxConcurrency < 0 || opt.MinConcurrency < 0 || opt.DownFor < 0 || opt.DownAfter < 0 {
		return nil, errors.New("rollout: PoolOptions values must be >= 0")
	}
	if err := checkBackendSeqs(opt.BackendSeqs, len(clients)); err != nil {
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
	seen := make(map[string]bool, len(clients))
	for i, c := range clients {
		if c == nil {
			return nil, fmt.Errorf("rollout: NewPool: client %d is nil", i)
		}
		if seen[c.base] {
			return nil, fmt.Errorf("rollout: NewPool: backend %s listed twice", c.base)
		}
		seen[c.base] = true
		p.backends = append(p.backends, &poolBackend{
			client: c,
			seed:   hashString(c.base),
			lim:    newAIMDLimiter(opt.MinConcurrency, opt.MaxConcurrency),
			seqs:   backendSeqs(opt.BackendSeqs, i),
			counts: make(map[string]uint64),
		})
		// The pool retries on its own (so it can fail over between
		// attempts): the budget is the most generous client's, the
		// backoff the first client's.
		if i == 0 || c.retry.maxRetries > p.retry.maxRetries {
			p.retry.maxRetries = c.retry.maxRetries
		}
		if i == 0 {
			p.retry.backoff = c.retry.backoff
		}
	}
	return p, nil
}

// Generate routes req by RouteKey and runs it with retries. Between attempts
// the request may move to another backend if the one it used is now down;
// throttled requests (429/503) stay where their prefix is cached and wait.
func (p *Pool) Generate(ctx context.Context, req GenerateRequest) (GenerateResult, error) {
	if err := validateRequest(req); err != nil {
		return GenerateResult{}, &APIError{Message: err.Error(), Permanent: true, Err: err}
	}
	return p.retry.run(ctx, func(ctx context.Context, _ int) (GenerateResult, attemptOutcome, bool) {
		b := p.pickLoaded(req.RouteKey, req.N)
		defer b.load.Add(-int64(req.N))
		slot, err := b.lim.acquire(ctx)
		if err != nil {
			return GenerateResult{}, attemptOutcome{kind: outcomeCanceled, backend: b.client.base, err: err}, false
		}
		start := time.Now()
		res, o := b.client.attempt(ctx, req)
		d := time.Since(start)
		b.lim.release(slot, o.kind)
		p.observe(b, o)
		observeAttempt(p.obs, o, res, d)
		failover := o.kind.unhealthy() && p.pick(req.RouteKey) != b
		return res, o, failover
	})
}

// observe updates a backend's health and counts after an attempt.
func (p *Pool) observe(b *poolBackend, o attemptOutcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.counts[o.label()]++
	switch {
	case o.kind == outcomeUnreachable:
		b.downUntil = p.now().Add(p.opt.DownFor)
		b.consecFails = 0
	case o.kind.unhealthy():
		b.consecFails++
		if b.consecFails >= p.opt.DownAfter {
			b.downUntil = p.now().Add(p.opt.DownFor)
			b.consecFails = 0
		}
	case o.kind == outcomeOK || o.kind == outcomePermanent:
		// The server answered coherently: it is alive.
		b.consecFails = 0
	}
}

func (b *poolBackend) up(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !now.Before(b.downUntil)
}

// pick chooses the backend for key: the highest rendezvous score among the
// backends that are up, or among all of them if none is. An empty key takes
// the up backend with the most free slots.
func (p *Pool) pick(key string) *poolBackend {
	now := p.now()
	if key == "" {
		return p.pickLeastLoaded(now)
	}
	kh := hashString(key)
	var best, bestAny *poolBackend
	var bestScore, bestAnyScore uint64
	for _, b := range p.backends {
		s := mix64(kh ^ b.seed)
		if bestAny == nil || s > bestAnyScore {
			bestAny, bestAnyScore = b, s
		}
		if b.up(now) && (best == nil || s > bestScore) {
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
		up := b.up(now)
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
			BaseURL:  b.client.base,
			Limit:    limit,
			InFlight: inflight,
			Waiting:  waiting,
			Up:       !now.Before(b.downUntil),
			Attempts: make(map[string]uint64, len(b.counts)),
		}
		if !st.Up {
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

func hashString(s string) uint64 {
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
	waiters  []*aimdWaiter
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

// release returns a slot and adapts the limit to the attempt's outcome.
func (l *aimdLimiter) release(s aimdSlot, k outcomeKind) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inflight--
	switch k {
	case outcomeOK:
		l.streak++
		if l.streak >= l.limit && l.limit < l.max {
			l.limit++
			l.streak = 0
		}
	case outcomeThrottled:
		// Only a slot granted since the last decrease may decrease again:
		// the requests already in flight when the server began throttling
		// are answered by one halving, not one each.
		if s.epoch == l.epoch {
			l.limit = max(l.min, l.limit/2)
			l.epoch++
		}
		l.streak = 0
	case outcomeCanceled:
		// Says nothing about the server.
	default:
		l.streak = 0
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
