package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	"github.com/shepherd-prm/shepherd/labeler"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout"
)

// runner schedules one job on this server while it holds the job's lease:
// it runs rollout.RunJob over the work queue with the job's stored input
// as the source (solutions already committed are skipped) and commits each
// record with the emit script. It sets the job's terminal state when
// RunJob returns, unless it was stopped (shutdown, lost lease, cancel).
type runner struct {
	s      *Server
	jobID  string
	token  string // lease owner token
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	release    bool // release the lease when stopping
	renewed    time.Time
	stats      rollout.JobStats        // of the current run
	delivering int                     // samples handed to the solution being emitted
	dirty      bool                    // stats changed since the last progress write
	firstFail  string                  // cause of the first failed task seen
	lastDone   int64                   // solutions_done after this run's last commit
	rerun      context.CancelCauseFunc // ends the current run with errStoreRewound
}

// restart ends the current run with errStoreRewound, so that the
// scheduler starts again from what the job store holds.
func (r *runner) restart() {
	r.mu.Lock()
	rerun := r.rerun
	r.mu.Unlock()
	if rerun != nil {
		rerun(errStoreRewound)
	}
}

// errStoreRewound: the job's committed count went backwards under a
// running scheduler, so the job store lost commits (Redis restarted
// without the end of its append-only file). The scheduler starts again
// from what the store still holds, labelling the lost solutions again.
var errStoreRewound = errors.New("the job store lost committed records (Redis restarted without the end of its append-only file)")

// tryStart takes a job's lease and starts scheduling it, unless this
// server runs it already, is stopping or is at MaxRunningJobs.
func (s *Server) tryStart(jobID string) bool {
	s.mu.Lock()
	full := s.opt.MaxRunningJobs > 0 && len(s.runners) >= s.opt.MaxRunningJobs
	if s.stopping || full || s.runners[jobID] != nil {
		s.mu.Unlock()
		return false
	}
	s.mu.Unlock()
	token := s.opt.ID + "/" + randomHex(6)
	ctx, cancel := context.WithTimeout(s.runCtx, 5*time.Second)
	ok, err := s.store.acquireLease(ctx, jobID, token, s.opt.LeaseTTL)
	cancel()
	if err != nil || !ok {
		if err != nil && s.runCtx.Err() == nil {
			s.log.Warn("taking a job lease", "job", jobID, "error", err)
		}
		return false
	}
	rctx, rcancel := context.WithCancel(s.runCtx)
	r := &runner{s: s, jobID: jobID, token: token, ctx: rctx, cancel: rcancel, done: make(chan struct{}), release: true, renewed: s.opt.Clock.Now()}
	s.mu.Lock()
	if s.stopping || s.runners[jobID] != nil {
		s.mu.Unlock()
		rcancel()
		_ = s.store.releaseLease(context.WithoutCancel(rctx), jobID, token)
		return false
	}
	s.runners[jobID] = r
	s.mu.Unlock()
	go r.run()
	return true
}

// stop makes the runner return soon, releasing its lease or not.
func (r *runner) stop(release bool) {
	r.mu.Lock()
	r.release = release
	r.mu.Unlock()
	r.cancel()
}

func (r *runner) run() {
	log := r.s.log.With("job", r.jobID)
	defer func() {
		r.mu.Lock()
		release := r.release
		r.mu.Unlock()
		if release {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 5*time.Second)
			if err := r.s.store.releaseLease(ctx, r.jobID, r.token); err != nil {
				log.Warn("releasing the job lease", "error", err)
			} else {
				r.s.announceReleased(ctx, r.jobID)
			}
			cancel()
		}
		r.s.mu.Lock()
		if r.s.runners[r.jobID] == r {
			delete(r.s.runners, r.jobID)
		}
		r.s.mu.Unlock()
		if r.s.opt.MaxRunningJobs > 0 {
			select {
			case r.s.adoptNow <- struct{}{}:
			default:
			}
		}
		r.cancel()
		close(r.done)
	}()
	log.Info("scheduling job")
	failures := 0
	for round := 1; ; round++ {
		err := r.runOnce()
		switch {
		case r.ctx.Err() != nil:
			log.Info("stopped scheduling job")
			return
		case err == nil:
			return
		case errors.Is(err, errNotLive), errors.Is(err, errJobNotFound):
			log.Info("stopped scheduling job", "reason", err)
			return
		case errors.Is(err, errStoreRewound):
			// Not the job's fault: start again at once.
			log.Warn("job store lost committed records; scheduling the job again from what it holds", "error", err)
			continue
		}
		// An error while the job store is unreachable is the store's, not
		// the job's: it does not count towards FAILED. (If the lease cannot
		// be renewed meanwhile, the heartbeat stops this runner and the job
		// is adopted again later.)
		if perr := r.s.rdb.Ping(r.ctx).Err(); perr != nil {
			log.Warn("job scheduler error with the job store unreachable; starting it again", "error", err, "ping", perr)
		} else {
			failures++
			if failures >= r.s.opt.RunAttempts {
				log.Error("job failed", "error", err, "attempts", failures)
				if err := r.s.finishJob(r.ctx, r.jobID, shepherdv1.JobState_JOB_STATE_FAILED, err.Error(), r.inflight()); err != nil {
					log.Warn("recording the job's failure", "error", err)
				}
				return
			}
			log.Warn("job scheduler error; starting it again", "error", err, "attempt", failures)
		}
		select {
		case <-r.ctx.Done():
			return
		case <-r.s.opt.Clock.After(time.Duration(min(round, 5)) * time.Second):
		}
	}
}

// runOnce runs the job's scheduler over what is left of the job and sets
// its terminal state.
func (r *runner) runOnce() error {
	ctx, cancel := context.WithCancelCause(r.ctx)
	defer cancel(nil)
	r.mu.Lock()
	r.rerun = cancel
	r.mu.Unlock()
	err := r.runWith(ctx)
	if err != nil && r.ctx.Err() == nil && errors.Is(context.Cause(ctx), errStoreRewound) {
		return errStoreRewound
	}
	return err
}

func (r *runner) runWith(ctx context.Context) error {
	m, err := r.s.store.get(ctx, r.jobID)
	if err != nil {
		return err
	}
	if !isLive(m.State) {
		return r.s.finalize(ctx, m)
	}
	if _, err := r.s.store.start(ctx, r.jobID); err != nil {
		return err
	}
	src, err := newStoredSource(ctx, r.s.store, r.jobID)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.stats, r.lastDone = rollout.JobStats{}, 0
	r.mu.Unlock()

	// A queue of its own per run: its results cursor starts fresh, as a
	// restarted scheduler's must.
	q, closeQueue := r.s.openQueue()
	defer closeQueue()
	opts := jobOptions(m, r.s.opt.Window, r.onProgress)
	opts.Observer, opts.Clock = r.s.opt.Observer, r.s.opt.Clock
	opts.BeforeEmit = func(delivered int) { r.delivering = delivered } // the emit below follows at once
	wq := &watchedQueue{Queue: q, r: r, capacity: r.s.capacityOf(m.Model)}
	_, err = rollout.RunJob(ctx, wq, r.s.grader, opts, src,
		func(rec labeler.Record) error {
			id, done, err := r.s.store.emit(ctx, r.jobID, rec.Key, rec, r.delivering)
			if id != "" {
				rollout.ObserveRecord(r.s.opt.Observer, rec) // committed now, not before
				// This scheduler is the job's only committer: each commit
				// adds one to solutions_done, unless commits were lost.
				r.mu.Lock()
				rewound := r.lastDone > 0 && done <= r.lastDone
				r.lastDone = done
				r.mu.Unlock()
				if rewound {
					return errStoreRewound
				}
			}
			return err
		})
	if err != nil {
		return err
	}
	return r.complete(ctx)
}

// complete sets the terminal state of a job whose every record is
// committed: PARTIAL if some steps failed, else SUCCEEDED.
func (r *runner) complete(ctx context.Context) error {
	m, err := r.s.store.get(ctx, r.jobID)
	if err != nil {
		return err
	}
	stats, err := r.s.q.Stats(ctx, r.jobID)
	if err != nil {
		return err
	}
	state, errText := shepherdv1.JobState_JOB_STATE_SUCCEEDED, ""
	if stats.TasksFailed > 0 || m.SolutionsFailed > 0 {
		state = shepherdv1.JobState_JOB_STATE_PARTIAL
		errText = fmt.Sprintf("%d rollout tasks failed permanently; %d of %d solutions have failed steps (see their failed_steps)",
			stats.TasksFailed, m.SolutionsFailed, m.SolutionsTotal)
		r.mu.Lock()
		if r.firstFail != "" {
			errText += "; first error: " + r.firstFail
		}
		r.mu.Unlock()
	}
	return r.s.finishJob(ctx, r.jobID, state, errText, 0)
}

func (r *runner) onProgress(st rollout.JobStats) {
	r.mu.Lock()
	r.stats = st
	r.dirty = true
	r.mu.Unlock()
}

// inflight is the samples this run handed to solutions not committed yet:
// with the samples handed to committed solutions (in Redis) and the
// samples generated, the job's shared rollouts (see Server.counts).
func (r *runner) inflight() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int64(max(0, r.stats.Delivered-r.stats.DeliveredEmitted))
}

// watchedQueue notes the cause of the first failed task a job sees.
type watchedQueue struct {
	rollout.Queue
	r        *runner
	capacity rollout.CapacityReporter
}

// Capacity lets the job admit solutions by the registered workers'
// capacity (rollout.CapacityReporter).
func (w *watchedQueue) Capacity() int { return w.capacity.Capacity() }

// ReleaseResults lets the job release its committed solutions' results (the
// embedded queue hides the Redis queue's rollout.ResultReleaser).
func (w *watchedQueue) ReleaseResults(ctx context.Context, jobID string, taskIDs []string) error {
	if r, ok := w.Queue.(rollout.ResultReleaser); ok {
		return r.ReleaseResults(ctx, jobID, taskIDs)
	}
	return nil
}

func (w *watchedQueue) Results(ctx context.Context, jobID string) ([]rollout.TaskResult, error) {
	res, err := w.Queue.Results(ctx, jobID)
	for _, tr := range res {
		if tr.Failed {
			w.r.mu.Lock()
			if w.r.firstFail == "" {
				w.r.firstFail = tr.Error
			}
			w.r.mu.Unlock()
			break
		}
	}
	return res, err
}

// finishJob moves a live job to a terminal state with its final counts
// and finalizes it.
func (s *Server) finishJob(ctx context.Context, jobID string, to shepherdv1.JobState, errText string, inflight int64) error {
	pairs, err := s.counts(ctx, jobID, inflight)
	if err != nil {
		return err
	}
	st, err := s.store.finish(ctx, jobID, to, errText, pairs)
	if err != nil {
		return err
	}
	if st == to && s.opt.OnJobFinished != nil {
		s.opt.OnJobFinished(to)
	}
	m, err := s.store.get(ctx, jobID)
	if err != nil {
		return err
	}
	return s.finalize(ctx, m)
}

// counts are a job's task, rollout and token counters as meta fields,
// from the queue's per-job counters (exact across restarts).
//
// Shared rollouts are the samples handed to solutions (committed ones, from
// Redis, plus inflight, those a local scheduler handed to solutions it has
// not committed yet) less the samples generated: exact once every solution
// is committed, across restarts, since the samples a solution is handed
// do not depend on which run labelled it. inflight < 0 (not known: another
// server schedules the job) keeps the stored count.
func (s *Server) counts(ctx context.Context, jobID string, inflight int64) ([]any, error) {
	st, err := s.q.Stats(ctx, jobID)
	if err != nil {
		return nil, err
	}
	var shared int64
	if inflight < 0 {
		shared, err = s.rdb.HGet(ctx, rediskeys.OfJob(jobID).Meta(), fSharedRollouts).Int64()
	} else {
		var committed int64
		committed, err = s.rdb.HGet(ctx, rediskeys.OfJob(jobID).Meta(), fDeliveredCommitted).Int64()
		shared = max(0, committed+inflight-st.Samples)
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	enq, err := s.q.Enqueued(ctx, jobID)
	if err != nil {
		return nil, err
	}
	return []any{
		fTasksTotal, enq,
		fTasksDone, st.TasksDone + st.TasksFailed,
		fTasksFailed, st.TasksFailed,
		fRollouts, st.Samples,
		fSharedRollouts, shared,
		fPromptTokens, st.PromptTokens,
		fCompletionTokens, st.CompletionTokens,
		fCachedTokens, st.CachedTokens,
	}, nil
}
