package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/redisq"
	"github.com/shepherd-prm/shepherd/server"
	"github.com/shepherd-prm/shepherd/server/metrics"
)

// redisFlags are the Redis connection and queue flags shared by serve and
// worker: one Redis (--redis URL) or a Redis Cluster (--redis-cluster
// seed nodes).
type redisFlags struct {
	url       string
	cluster   string
	password  string
	poolSize  int
	group     string
	pingWait  time.Duration
	queueWait time.Duration
}

const defaultRedisURL = "redis://127.0.0.1:6379/0"

// register adds the flags; poolSize is --redis-pool-size's default and
// poolDoc says what 0 means.
func (r *redisFlags) register(fs *flag.FlagSet, poolSize int, poolDoc string) {
	fs.StringVar(&r.url, "redis", defaultRedisURL, "Redis URL: redis://[user:password@]host:port/db, rediss:// for TLS (ignored with --redis-cluster)")
	fs.StringVar(&r.cluster, "redis-cluster", "", "Redis Cluster seed nodes, host:port,host:port,... (instead of --redis)")
	fs.StringVar(&r.password, "redis-password", "", "Redis password (prefer SHEPHERD_REDIS_PASSWORD); overrides one in --redis")
	fs.IntVar(&r.poolSize, "redis-pool-size", poolSize, "Redis connections at most, per node with --redis-cluster; "+poolDoc)
	fs.StringVar(&r.group, "queue-group", redisq.DefaultGroup, "consumer group of the work streams; serve and its workers must agree")
	fs.DurationVar(&r.pingWait, "redis-wait", 30*time.Second, "how long to wait at start for Redis to answer")
	fs.DurationVar(&r.queueWait, "queue-block", time.Second, "longest blocking read on a stream; bounds how soon a stopping process notices")
}

// open connects to Redis and waits up to --redis-wait for it to answer,
// so that a wrong address fails at start rather than in the first job.
// go-redis's own messages (a failed dial for every pooled connection during
// an outage) go to log at debug level; the commands report outages
// themselves.
func (r *redisFlags) open(ctx context.Context, log *slog.Logger) (redis.UniversalClient, string, error) {
	redis.SetLogger(redisLogger{log})
	var rdb redis.UniversalClient
	var where string
	if r.cluster != "" {
		var addrs []string
		for _, a := range strings.Split(r.cluster, ",") {
			if a = strings.TrimSpace(a); a != "" {
				addrs = append(addrs, a)
			}
		}
		if len(addrs) == 0 {
			return nil, "", usageErrorf("--redis-cluster: no node address in %q", r.cluster)
		}
		rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, Password: r.password, PoolSize: max(r.poolSize, 0)})
		where = "Redis Cluster " + strings.Join(addrs, ",")
	} else {
		opt, err := redis.ParseURL(r.url)
		if err != nil {
			return nil, "", usageErrorf("--redis: %v", err)
		}
		if r.password != "" {
			opt.Password = r.password
		}
		if r.poolSize > 0 {
			opt.PoolSize = r.poolSize
		}
		rdb = redis.NewClient(opt)
		where = "Redis " + opt.Addr
	}
	deadline := time.Now().Add(r.pingWait)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := rdb.Ping(pctx).Err()
		cancel()
		if err == nil {
			return rdb, where, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			rdb.Close()
			return nil, "", fmt.Errorf("%s does not answer: %w", where, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// redisLogger passes go-redis's messages to a slog.Logger.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// sharedQueue is what serve and worker use of the work queue they share:
// the server's scheduling and admin operations, the worker's deliveries
// and its routing registration (Register, Withdraw, Rejoin: see
// redisq.Queue; a queue without routing accepts them and does nothing),
// and the depth and lag metrics.
type sharedQueue interface {
	server.Queue
	rollout.Queue
	metrics.QueueInspector
	Register(ctx context.Context, model string, capacity int) error
	Withdraw(ctx context.Context, model string) error
	Rejoin(ctx context.Context, model string) error
	// Consumer is this process's name among the queue's consumers.
	Consumer() string
}

// queueSettings are a command's own settings of the work queue, besides
// the shared flags (zero: the queue's defaults).
type queueSettings struct {
	leaseTTL      time.Duration // worker: how long a delivered task stays leased to it
	maxDeliveries int           // worker: deliveries before a task is dead-lettered
	consumer      string        // worker: its name among the consumers
	loadBound     float64       // serve: how far a worker's backlog may exceed its share before routing spills
}

// newQueue is the one place serve and worker choose the work queue's
// implementation: the Redis Streams queue, configured from the flags.
func (r *redisFlags) newQueue(rdb redis.UniversalClient, s queueSettings) sharedQueue {
	return redisq.New(rdb, redisq.Options{Group: r.group, Block: r.queueWait,
		LeaseTTL: s.leaseTTL, MaxDeliveries: s.maxDeliveries, Consumer: s.consumer, LoadBound: s.loadBound})
}
