package rollout

import (
	"sort"
	"sync"
	"testing"
)

// rendezvousOrder is key's backends from first to last choice.
func rendezvousOrder(p *Pool, key string) []*poolBackend {
	kh := HashKey(key)
	order := append([]*poolBackend(nil), p.backends...)
	sort.Slice(order, func(i, j int) bool { return mix64(kh^order[i].seed) > mix64(kh^order[j].seed) })
	return order
}

// Under skewed load (every request for one problem, none finishing) the
// problem's first backend takes requests until it is full and above the
// bound, then they spill to its second choice, then its third, in the key's
// stable rendezvous order; another problem keeps its own backend; once the
// load is gone, the problem's requests go home again.
func TestPoolSpillsUnderSkewedLoad(t *testing.T) {
	p := mustPool(t, offlineClients(t, 4), PoolOptions{BackendSeqs: []int{8, 8, 8, 8}})
	const key = "problem-hot"
	order := rendezvousOrder(p, key)
	var got []*poolBackend
	for range 6 {
		got = append(got, p.pickLoaded(key, 4))
	}
	// Loads (first, second, third choice) after each pick, bound 1.25 x
	// average: 4; 8 (full, above 1.25*12/4); spill 8,4; 8,8; then the
	// second is full and above 1.25*20/4 = 6.25 too: third; third.
	want := []*poolBackend{order[0], order[0], order[1], order[1], order[2], order[2]}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("pick %d went to %s, want %s (rendezvous choice %d)", i, got[i].client.BaseURL(), want[i].client.BaseURL(), []int{0, 0, 1, 1, 2, 2}[i])
		}
	}
	// A problem whose first choice is idle stays there.
	other := ""
	for i := 0; other == ""; i++ {
		k := "problem-" + string(rune('a'+i))
		if rendezvousOrder(p, k)[0] == order[3] {
			other = k
		}
	}
	if b := p.pickLoaded(other, 4); b != order[3] {
		t.Errorf("a cold problem went to %s, want its first choice %s", b.client.BaseURL(), order[3].client.BaseURL())
	}
	for _, b := range append(got, order[3]) {
		b.load.Add(-4)
	}
	if b := p.pickLoaded(key, 4); b != order[0] {
		t.Errorf("after the load went, the problem went to %s, want home %s", b.client.BaseURL(), order[0].client.BaseURL())
	}
	order[0].load.Add(-4)

	// Without a bound, everything stays home however loaded.
	p = mustPool(t, offlineClients(t, 4), PoolOptions{BackendSeqs: []int{8, 8, 8, 8}, LoadBound: -1})
	home := rendezvousOrder(p, key)[0]
	for i := range 10 {
		if b := p.pickLoaded(key, 4); b != home {
			t.Fatalf("unbounded pick %d went to %s, want %s", i, b.client.BaseURL(), home.client.BaseURL())
		}
	}
}

// Concurrent picks and releases keep the loads consistent (run with -race),
// and requests of a hot key held at once use more than one backend.
func TestPoolLoadBoundConcurrent(t *testing.T) {
	p := mustPool(t, offlineClients(t, 8), PoolOptions{BackendSeqs: []int{4, 4, 4, 4, 4, 4, 4, 4}})
	for round := range 20 {
		var picked, release sync.WaitGroup
		var mu sync.Mutex
		used := map[*poolBackend]bool{}
		hold := make(chan struct{})
		for g := range 16 {
			picked.Add(1)
			release.Go(func() {
				key := "hot"
				if g%4 == 0 {
					key = "cold-" + string(rune('a'+g))
				}
				b := p.pickLoaded(key, 2)
				if key == "hot" {
					mu.Lock()
					used[b] = true
					mu.Unlock()
				}
				picked.Done()
				<-hold
				b.load.Add(-2)
			})
		}
		picked.Wait()
		close(hold)
		release.Wait()
		if len(used) < 2 {
			t.Errorf("round %d: 12 requests of a hot key held at once used %d backend(s)", round, len(used))
		}
	}
	for _, b := range p.backends {
		if l := b.load.Load(); l != 0 {
			t.Errorf("%s: load %d after every request ended", b.client.BaseURL(), l)
		}
	}
}

func TestPoolCapacity(t *testing.T) {
	p := mustPool(t, offlineClients(t, 3), PoolOptions{BackendSeqs: []int{64, 0}})
	if c := p.Capacity(); c != 64+2*DefaultBackendSeqs {
		t.Errorf("Capacity = %d, want %d", c, 64+2*DefaultBackendSeqs)
	}
	p.backends[0].downUntil = p.now().Add(DefaultDownFor)
	if c := p.Capacity(); c != 2*DefaultBackendSeqs {
		t.Errorf("with a backend down, Capacity = %d, want %d", c, 2*DefaultBackendSeqs)
	}
	if _, err := NewPool(offlineClients(t, 1), PoolOptions{BackendSeqs: []int{1, 2}}); err == nil {
		t.Error("more BackendSeqs than backends accepted")
	}
	if _, err := NewPool(offlineClients(t, 1), PoolOptions{BackendSeqs: []int{-1}}); err == nil {
		t.Error("a negative BackendSeqs accepted")
	}
}

// A request that would queue on its first choice while the fleet has slots
// to spare goes to the next backend in the key's order with room for it
// now; on a saturated fleet it stays within the bound at home.
func TestPoolSpillsToRoomWhileSlotsIdle(t *testing.T) {
	p := mustPool(t, offlineClients(t, 4), PoolOptions{BackendSeqs: []int{8, 8, 8, 8}})
	const key = "problem-hot"
	order := rendezvousOrder(p, key)
	order[0].load.Store(6)
	if b := p.pickLoaded(key, 4); b != order[1] {
		t.Errorf("with 26 of 32 slots free, a request of 4 that would queue at home went to %s, want the second choice %s", b.client.BaseURL(), order[1].client.BaseURL())
	}
	// Saturated: every backend's slots taken but home's 2, which is within
	// the bound; the request queues at home rather than wander.
	for _, b := range order {
		b.load.Store(8)
	}
	order[0].load.Store(6)
	if b := p.pickLoaded(key, 4); b != order[0] {
		t.Errorf("saturated fleet: the request went to %s, want home %s", b.client.BaseURL(), order[0].client.BaseURL())
	}
	// A request that fits at home stays there.
	for _, b := range order {
		b.load.Store(0)
	}
	order[0].load.Store(4)
	if b := p.pickLoaded(key, 4); b != order[0] {
		t.Errorf("a request that fits at home went to %s", b.client.BaseURL())
	}
}
