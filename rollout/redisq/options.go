package redisq

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/shepherd-prm/shepherd/rollout"
)

// Defaults of Options.
const (
	DefaultGroup         = "shepherd-workers"
	DefaultLeaseTTL      = 30 * time.Second
	DefaultDeadLetterMax = 10000
	DefaultBlock         = 2 * time.Second
	DefaultLoadBound     = 1.25
)

// Options configure a Queue. Zero values take the defaults.
type Options struct {
	// Group is the consumer group of every work stream (DefaultGroup).
	Group string
	// Consumer names this process in the group; it must be unique among
	// live workers (default hostname-pid-random).
	Consumer string
	// LeaseTTL is how long a delivery stays leased without a heartbeat
	// before another consumer may reclaim it (DefaultLeaseTTL).
	LeaseTTL time.Duration
	// MaxDeliveries bounds how often a task is handed out before it is
	// dead-lettered (rollout.DefaultMaxDeliveries).
	MaxDeliveries int
	// DeadLetterMax bounds each dead-letter stream, approximately
	// (DefaultDeadLetterMax).
	DeadLetterMax int64
	// Block is how long one XREADGROUP or XREAD waits before Reserve and
	// Results check their context and look for expired leases again
	// (DefaultBlock).
	Block time.Duration
	// LoadBound is how far a registered worker's backlog (the entries in
	// its stream, waiting or leased) may exceed its capacity's share of
	// all workers' backlog before Enqueue sends a task of its route keys
	// to the next worker in the key's rendezvous order instead: consistent
	// hashing with bounded loads (Mirrokni et al.). It trades prefix-cache
	// hits for balance; 1 balances strictly. DefaultLoadBound; negative:
	// no bound (pure affinity).
	LoadBound float64
}

func (o Options) withDefaults() Options {
	if o.Group == "" {
		o.Group = DefaultGroup
	}
	if o.Consumer == "" {
		o.Consumer = defaultConsumer()
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.MaxDeliveries <= 0 {
		o.MaxDeliveries = rollout.DefaultMaxDeliveries
	}
	if o.DeadLetterMax <= 0 {
		o.DeadLetterMax = DefaultDeadLetterMax
	}
	if o.Block <= 0 {
		o.Block = DefaultBlock
	}
	if o.LoadBound == 0 {
		o.LoadBound = DefaultLoadBound
	}
	return o
}

// defaultConsumer is unique per process: the random part tells apart
// processes that reuse a pid (containers restarting on one host).
func defaultConsumer() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
