package redisq

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/rollout"
)

// TestConcurrentCompletesAreBatched: many concurrent Complete calls, for
// tasks of two jobs and two models, some of them twice at once, are
// written in fewer script calls than calls, each result once, with every
// counter and acknowledgement as if they had been written one by one.
func TestConcurrentCompletesAreBatched(t *testing.T) {
	ctx, _, q := queueFor(t, 30*time.Second, Options{})
	const perJob = 300 // more than completeBatch over both jobs
	var in []rollout.Task
	for _, job := range []string{"ja", "jb"} {
		for i := range perJob {
			in = append(in, task(job, fmt.Sprint("t", i), []string{"m1", "m2"}[i%2]))
		}
	}
	enqueue(t, ctx, q, in...)
	var reserved []rollout.Task
	for _, m := range []string{"m1", "m2"} {
		reserved = append(reserved, reserveN(t, ctx, q, m, perJob)...)
	}
	before := scriptCalls(t, q)
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(reserved))
	for i, tk := range reserved {
		calls := 1
		if i%10 == 0 {
			calls = 2 // the same delivery completed twice at once
		}
		for range calls {
			wg.Go(func() { errs <- q.Complete(ctx, tk, result(2)) })
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if calls := scriptCalls(t, q) - before; calls >= int64(len(reserved)) {
		t.Errorf("%d script calls for %d completions: not batched", calls, len(reserved))
	}
	for _, job := range []string{"ja", "jb"} {
		rs := collect(t, ctx, q, job, perJob)
		seen := map[string]bool{}
		for _, r := range rs {
			if seen[r.TaskID] || len(r.Samples) != 2 || r.JobID != job {
				t.Fatalf("job %s: result %+v (seen before: %v)", job, r, seen[r.TaskID])
			}
			seen[r.TaskID] = true
		}
		expectNoResults(t, q, job)
		st, err := q.Stats(ctx, job)
		if err != nil {
			t.Fatal(err)
		}
		if st.TasksDone != perJob || st.Samples != 2*perJob || st.PromptTokens != 10*perJob ||
			st.CompletionTokens != 20*perJob || st.CachedTokens != 5*perJob || st.TasksFailed != 0 {
			t.Errorf("job %s: stats %+v", job, st)
		}
	}
	for _, m := range []string{"m1", "m2"} {
		ps, err := q.Pending(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if ps.Length != 0 || ps.Pending != 0 {
			t.Errorf("model %s: work stream not emptied: %+v", m, ps)
		}
	}
}

// scriptCalls is how many scripts Redis has run so far.
func scriptCalls(t *testing.T, q *Queue) int64 {
	t.Helper()
	st, err := q.rdb.Info(ctxFor(t, 5*time.Second), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, cmd := range []string{"cmdstat_evalsha:calls=", "cmdstat_eval:calls="} {
		var c int64
		if i := strings.Index(st, cmd); i >= 0 {
			_, _ = fmt.Sscanf(st[i+len(cmd):], "%d", &c)
		}
		n += c
	}
	return n
}

// TestReleaseDoesNotCountTheDelivery: a task handed back by a worker that
// cannot run it is delivered again at once with its delivery count
// unchanged, however often that happens; a Retry after it still counts.
func TestReleaseDoesNotCountTheDelivery(t *testing.T) {
	ctx, _, q := queueFor(t, 20*time.Second, Options{MaxDeliveries: 2})
	enqueue(t, ctx, q, task("j", "t1", "m"))
	for range 5 {
		tk := reserveN(t, ctx, q, "m", 1)[0]
		if tk.Deliveries != 1 {
			t.Fatalf("after releases: %+v, want delivery 1", tk)
		}
		if err := q.Release(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	tk := reserveN(t, ctx, q, "m", 1)[0]
	if err := q.Retry(ctx, tk, errors.New("backend 503")); err != nil {
		t.Fatal(err)
	}
	if tk = reserveN(t, ctx, q, "m", 1)[0]; tk.Deliveries != 2 {
		t.Fatalf("after a retry: %+v, want delivery 2", tk)
	}
	complete(t, ctx, q, tk, result(2))
	if rs := collect(t, ctx, q, "j", 1); rs[0].Failed {
		t.Fatalf("result %+v", rs[0])
	}
	if ps, _ := q.Pending(ctx, "m"); ps.Length != 0 || ps.Pending != 0 {
		t.Fatalf("work stream %+v", ps)
	}
}
