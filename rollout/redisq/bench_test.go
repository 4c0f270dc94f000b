package redisq

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/rollout"
)

// BenchmarkRoundTrip pushes tasks through one local Redis: enqueue,
// reserve, complete and read the result, one task per round
// (batch=1) or 64 tasks per round (batch=64, as a scheduler and a worker
// with free slots do). It reports tasks/s
// (go test -run '^$' -bench RoundTrip ./rollout/redisq/).
func BenchmarkRoundTrip(b *testing.B) {
	for _, batch := range []int{1, 64} {
		b.Run(fmt.Sprint("batch=", batch), func(b *testing.B) {
			rdb := startRedis(b)
			q := newQueue(b, rdb, Options{})
			ctx := context.Background()
			res := result(4)
			job := "bench"
			b.ResetTimer()
			start := time.Now()
			for done := 0; done < b.N; {
				k := min(batch, b.N-done)
				ts := make([]rollout.Task, k)
				for i := range ts {
					ts[i] = task(job, fmt.Sprint("t", done+i), "m")
				}
				if err := q.Enqueue(ctx, ts...); err != nil {
					b.Fatal(err)
				}
				got := 0
				for got < k {
					rs, err := q.Reserve(ctx, "m", k-got)
					if err != nil {
						b.Fatal(err)
					}
					for _, t := range rs {
						if err := q.Complete(ctx, t, res); err != nil {
							b.Fatal(err)
						}
					}
					got += len(rs)
				}
				for seen := 0; seen < k; {
					rs, err := q.Results(ctx, job)
					if err != nil {
						b.Fatal(err)
					}
					seen += len(rs)
				}
				done += k
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tasks/s")
		})
	}
}
