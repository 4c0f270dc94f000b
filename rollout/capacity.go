package rollout

import (
	"fmt"
	"sort"
)

// DefaultBackendSeqs is a backend's sequence capacity when it is not given:
// vLLM's long-standing default max_num_seqs.
const DefaultBackendSeqs = 256

// DefaultLoadBound is PoolOptions.LoadBound's default: a backend takes up
// to 1.25 times the average load before its keys spill, the bound with
// which Mirrokni et al. report most of the balance gained for little
// movement.
const DefaultLoadBound = 1.25

func checkBackendSeqs(seqs []int, backends int) error {
	if len(seqs) > backends {
		return fmt.Errorf("rollout: PoolOptions.BackendSeqs has %d entries for %d backends", len(seqs), backends)
	}
	for i, n := range seqs {
		if n < 0 {
			return fmt.Errorf("rollout: PoolOptions.BackendSeqs[%d] = %d: must not be negative", i, n)
		}
	}
	return nil
}

func backendSeqs(seqs []int, i int) int {
	if i < len(seqs) && seqs[i] > 0 {
		return seqs[i]
	}
	return DefaultBackendSeqs
}

// Capacity is how many samples the pool's backends generate at once: the
// sequence slots of the backends that are up (of all those in rotation
// when none is). A job sizes its admission by it (CapacityReporter).
func (p *Pool) Capacity() int {
	now := p.now()
	up, all := 0, 0
	for _, b := range p.backends {
		up1, in := b.state(now)
		if !in {
			continue // out of rotation: its slots serve nobody
		}
		all += b.seqs
		if up1 {
			up += b.seqs
		}
	}
	if up == 0 {
		return all
	}
	return up
}

// pickLoaded chooses the backend for a request of n samples and counts
// them in its load until the caller subtracts them. Consistent hashing with
// bounded loads (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with
// Bounded Loads", SODA 2018) over the rendezvous order of key: the first
// choice unless it is full (its load has reached its sequence slots: new
// work would queue there) and above LoadBound x the average load of the
// backends that are up; then the next choice in the same order, so a
// problem's prefixes spill to one stable second backend whose cache warms.
// SGLang's router balances the same way (cache-aware routing unless the
// load imbalance passes a threshold). While the backends together have
// slots to spare, a request that would queue at that choice goes to the
// first backend in the same order with room for it now instead: at the
// end of a job the bound (relative to a falling average) would otherwise
// keep requests queued on some backends while others idle.
func (p *Pool) pickLoaded(key string, n int) *poolBackend {
	first := p.pick(key)
	if first == nil {
		return nil // every backend is out of rotation
	}
	if key == "" || p.opt.LoadBound < 1 || len(p.backends) == 1 {
		first.load.Add(int64(n))
		return first
	}
	now := p.now()
	type choice struct {
		b     *poolBackend
		score uint64
	}
	kh := HashKey(key)
	order := make([]choice, 0, len(p.backends))
	var total, slots int64
	for _, b := range p.backends {
		if up, in := b.state(now); (up && in) || b == first {
			order = append(order, choice{b, mix64(kh ^ b.seed)})
			total += b.load.Load()
			slots += int64(b.seqs)
		}
	}
	bound := p.opt.LoadBound * float64(total+int64(n)) / float64(len(order))
	sort.Slice(order, func(i, j int) bool { return order[i].score > order[j].score })
	pick := order[0].b
	for _, c := range order {
		l := c.b.load.Load()
		if l < int64(c.b.seqs) || float64(l) < bound {
			pick = c.b
			break
		}
	}
	if l := pick.load.Load(); l+int64(n) > int64(pick.seqs) && total+int64(n) <= slots {
		// The request would queue there while the backends have slots to
		// spare (at the end of a job, say): it goes to the next one in the
		// same order with room for it now rather than leave those slots
		// idle. A saturated fleet queues everywhere and keeps the bound.
		for _, c := range order {
			if c.b.load.Load()+int64(n) <= int64(c.b.seqs) {
				pick = c.b
				break
			}
		}
	}
	pick.load.Add(int64(n))
	return pick
}
