package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"

	"github.com/shepherd-prm/shepherd/internal/clock"
	"github.com/shepherd-prm/shepherd/labeler/grade"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout"
)

// Defaults of Options. The Max* ones are caps on what a request may ask
// for, not what a job gets when it asks for nothing: DefaultMaxStepsCap
// (1024 steps) bounds spec.max_steps, whose own default is
// labeler.DefaultMaxSteps (128).
const (
	DefaultMaxN                   = 1024
	DefaultMaxProblems            = 10000
	DefaultMaxSolutionsPerProblem = 256
	DefaultMaxStepsCap            = 1024
	DefaultMaxTokensCap           = 32768
	DefaultMaxQueuedTasks         = 1 << 20
	DefaultMaxMessageBytes        = 64 << 20
	DefaultJobTTL                 = 7 * 24 * time.Hour
	DefaultLeaseTTL               = 30 * time.Second
	DefaultWindow                 = 256
	DefaultProgressInterval       = time.Second
	DefaultSnapshotInterval       = time.Second
	DefaultStreamBlock            = time.Second
	DefaultShutdownTimeout        = 10 * time.Second
	DefaultRunAttempts            = 3
	DefaultConsumerIdleTTL        = time.Hour
)

// Scorer serves the Score RPC. A server without one answers Score with
// UNIMPLEMENTED.
type Scorer interface {
	Score(ctx context.Context, req *shepherdv1.ScoreRequest) (*shepherdv1.ScoreResponse, error)
}

// RPCObserver sees every finished RPC: the full method name, its status
// code and duration (for logs and metrics).
type RPCObserver func(ctx context.Context, method string, code codes.Code, d time.Duration)

// JobObserver sees a job reach a terminal state (for metrics).
type JobObserver func(state shepherdv1.JobState)

// Options configure a Server. Zero values take the defaults.
type Options struct {
	// Redis is the shared Redis (a *redis.Client, *redis.ClusterClient or
	// failover client); required. Its pool must hold a connection per
	// running job and per open label stream besides the usual traffic.
	Redis redis.UniversalClient
	// WorkQueue is the queue between the job schedulers and the workers;
	// required. The caller chooses its implementation (`shepherd serve`:
	// the Redis Streams queue, rollout/redisq, sharing the workers'
	// consumer group). Shutdown closes it.
	WorkQueue Queue

	// Tokens are the accepted bearer tokens; empty turns authentication
	// off. LoadTokens reads them from a file.
	Tokens []string
	// ReflectionWithoutAuth exempts server reflection from authentication
	// (health is always exempt).
	ReflectionWithoutAuth bool
	// TLS, when set, is used by Serve (see TLSConfig).
	TLS *tls.Config

	// Models, when set, are the only models jobs may name (the models the
	// workers' backends serve); empty accepts any model name.
	Models []string

	// Request limits (INVALID_ARGUMENT beyond them).
	MaxN                   int // rollouts per step (DefaultMaxN)
	MaxProblems            int // problems per request (DefaultMaxProblems)
	MaxSolutionsPerProblem int // (DefaultMaxSolutionsPerProblem)
	MaxSteps               int // largest spec.max_steps accepted (DefaultMaxStepsCap)
	MaxTokens              int // largest spec.max_tokens accepted (DefaultMaxTokensCap)
	MaxMessageBytes        int // largest request message (DefaultMaxMessageBytes)
	// MaxQueuedTasks is the admission bound: SubmitJob fails with
	// RESOURCE_EXHAUSTED while the model's work stream holds this many
	// tasks or more (DefaultMaxQueuedTasks; negative: no bound).
	MaxQueuedTasks int

	// JobTTL is how long a finished job (its records and state) stays
	// readable (DefaultJobTTL).
	JobTTL time.Duration
	// LeaseTTL is how long a job stays owned by a server that stopped
	// renewing its lease, i.e. how soon another server adopts the jobs of
	// one that crashed (DefaultLeaseTTL).
	LeaseTTL time.Duration
	// AdoptInterval is how often the server looks for jobs without a live
	// lease (default LeaseTTL/2).
	AdoptInterval time.Duration
	// MaxRunningJobs bounds the jobs this server schedules at once; 0 means
	// no bound. Jobs beyond it stay QUEUED until a server has room.
	MaxRunningJobs int
	// Window bounds the solutions a job labels at once. 0: as many as keep
	// the registered workers' capacity busy (rollout.CapacityReporter), up
	// to rollout.DefaultMaxWindow, or DefaultWindow when no worker
	// registered.
	Window int
	// ConsumerIdleTTL is how long a consumer of the workers' group may go
	// without reading, holding no task, before it is deleted from the
	// group as the trace of a worker that stopped or died
	// (DefaultConsumerIdleTTL).
	ConsumerIdleTTL time.Duration
	// RunAttempts is how often a job's scheduler is started again after an
	// error before the job is FAILED (DefaultRunAttempts).
	RunAttempts int

	// ProgressInterval throttles the writes of running jobs' counters
	// (DefaultProgressInterval).
	ProgressInterval time.Duration
	// SnapshotInterval is the least time between two progress snapshots on
	// one label stream (DefaultSnapshotInterval).
	SnapshotInterval time.Duration
	// StreamBlock bounds one blocking read of a label stream
	// (DefaultStreamBlock).
	StreamBlock time.Duration
	// ShutdownTimeout bounds Serve's graceful stop (DefaultShutdownTimeout).
	ShutdownTimeout time.Duration

	// ID names this server in job leases (default host-pid-random).
	ID string
	// Logger receives the server's logs (default slog.Default()).
	Logger *slog.Logger
	// Grader grades solutions (default grade.New).
	Grader *grade.Grader
	// Scorer serves Score; nil answers UNIMPLEMENTED.
	Scorer Scorer
	// OnRPC, when set, sees every finished RPC.
	OnRPC RPCObserver
	// Observer, when set, sees the work of the jobs this server schedules:
	// their dead-lettered tasks and the steps of every record committed.
	Observer rollout.Observer
	// OnJobFinished, when set, sees every terminal transition this server
	// makes (LiveJobs counts the jobs still live).
	OnJobFinished JobObserver

	// Clock is the time the server keeps itself (default clock.Real): job
	// times and the expiry index, lease renewals, snapshot spacing, the
	// pause between a scheduler's attempts, its tasks' queueing overhead.
	// Tests move a clock.Fake. What Redis times (key expiry, leases,
	// consumers' idle time) and the background loops' periods stay real.
	Clock clock.Clock
}

func (o Options) withDefaults() (Options, error) {
	if o.Redis == nil {
		return o, errors.New("server: Options.Redis is required")
	}
	if o.WorkQueue == nil {
		return o, errors.New("server: Options.WorkQueue is required (the queue between the job schedulers and the workers, such as a redisq.Queue)")
	}
	setInt := func(p *int, d int) {
		if *p <= 0 {
			*p = d
		}
	}
	setDur := func(p *time.Duration, d time.Duration) {
		if *p <= 0 {
			*p = d
		}
	}
	setInt(&o.MaxN, DefaultMaxN)
	setInt(&o.MaxProblems, DefaultMaxProblems)
	setInt(&o.MaxSolutionsPerProblem, DefaultMaxSolutionsPerProblem)
	setInt(&o.MaxSteps, DefaultMaxStepsCap)
	setInt(&o.MaxTokens, DefaultMaxTokensCap)
	setInt(&o.MaxMessageBytes, DefaultMaxMessageBytes)
	if o.MaxQueuedTasks == 0 {
		o.MaxQueuedTasks = DefaultMaxQueuedTasks
	}
	setInt(&o.RunAttempts, DefaultRunAttempts)
	setDur(&o.JobTTL, DefaultJobTTL)
	setDur(&o.LeaseTTL, DefaultLeaseTTL)
	setDur(&o.AdoptInterval, o.LeaseTTL/2)
	setDur(&o.ProgressInterval, DefaultProgressInterval)
	setDur(&o.SnapshotInterval, DefaultSnapshotInterval)
	setDur(&o.StreamBlock, DefaultStreamBlock)
	setDur(&o.ShutdownTimeout, DefaultShutdownTimeout)
	setDur(&o.ConsumerIdleTTL, DefaultConsumerIdleTTL)
	if o.LeaseTTL < 30*time.Millisecond {
		return o, fmt.Errorf("server: Options.LeaseTTL %v is too short (at least 30ms)", o.LeaseTTL)
	}
	if o.ID == "" {
		o.ID = defaultID()
	}
	o.Clock = clock.Or(o.Clock)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Grader == nil {
		o.Grader = grade.New(grade.Options{})
	}
	for i, t := range o.Tokens {
		if t == "" {
			return o, fmt.Errorf("server: Options.Tokens[%d] is empty", i)
		}
	}
	return o, nil
}

// defaultID is unique per process: the random part tells apart processes
// that reuse a pid.
func defaultID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomHex(4))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
