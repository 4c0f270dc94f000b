package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/labeler"
)

// BenchmarkFleetOverRedis labels sim.BenchFleetDataset (3,200 solutions,
// --n 8, default flags otherwise) through `shepherd serve` and `shepherd
// worker` processes over a private redis-server, on the simulated GPU
// fleet of sim.BenchFleetSpec (16 servers x 64 sequences) served from this
// process so that their counters can be read:
//
//   - workers=4,load-bound=B: 4 workers, each with its own 4 servers (the
//     setup of issue 10), serve started with --route-load-bound B (1.25 is
//     the default, -1 no bound);
//   - workers=4,affinity=false: the same, the workers started with
//     --affinity=false (any worker takes any task, as before workers
//     registered);
//   - one-backend: 1 worker with one server of the same total capacity
//     (1,024 sequences), which holds every problem's prefixes.
//
// It reports cached (the job's cached prompt tokens over its prompt
// tokens), util (sequence-seconds generated over slots x wall time),
// wall-s, and spread: the most requests one worker's servers got over the
// mean per worker (1 is even). Run with -benchtime 1x.
func BenchmarkFleetOverRedis(b *testing.B) {
	opt, count, err := sim.ParseSpec(sim.BenchFleetSpec)
	if err != nil {
		b.Fatal(err)
	}
	opt.Model = "sim"
	problems := fleetProblems()
	for _, bound := range []string{"1.25", "1.1", "-1"} {
		b.Run("workers=4,load-bound="+bound, func(b *testing.B) {
			benchFleet(b, problems, opt, 4, count/4, true, "--route-load-bound", bound)
		})
	}
	b.Run("workers=4,affinity=false", func(b *testing.B) {
		benchFleet(b, problems, opt, 4, count/4, false)
	})
	b.Run("one-backend", func(b *testing.B) {
		one := opt
		one.MaxNumSeqs *= count
		benchFleet(b, problems, one, 1, 1, true)
	})
}

func fleetProblems() []labeler.Problem {
	return simtest.LabelerProblems(sim.GenerateDataset(sim.BenchFleetDataset))
}

func benchFleet(b *testing.B, problems []labeler.Problem, opt sim.Options, workers, perWorker int, affinity bool, serveArgs ...string) {
	rs := redistest.Start(b)
	redisArgs := redisURL(rs.Addr)
	serveArgs = append([]string{"--job-lease-ttl", "30s", "--queue-block", "1s", "--log-level", "info"}, serveArgs...)
	_, addr := startServe(b, "serve", "127.0.0.1:0", redisArgs, serveArgs...)
	var fleets []*sim.Fleet
	for i := range workers {
		f, err := sim.StartFleet(perWorker, opt)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(f.Stop)
		fleets = append(fleets, f)
		startWorker(b, fmt.Sprintf("worker-%d", i+1), strings.Join(f.URLs, ","), redisArgs,
			"--lease-ttl", "30s", "--queue-block", "1s", "--log-level", "info", fmt.Sprintf("--affinity=%t", affinity))
	}
	c := dial(b, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var cached, prompt, seqSeconds, capacity, wall float64
	b.ResetTimer()
	for range b.N {
		var seq0 float64
		for _, f := range fleets {
			seq0 += f.Stats().SeqSeconds
		}
		begin := time.Now()
		job, err := c.Submit(ctx, client.Request{Model: "sim", Problems: problems, Spec: &shepherdv1.JobSpec{N: proto.Int32(8)}})
		if err != nil {
			b.Fatal(err)
		}
		for job.GetFinishTime() == nil {
			time.Sleep(100 * time.Millisecond)
			if job, err = c.Get(ctx, job.GetId()); err != nil {
				b.Fatal(err)
			}
		}
		elapsed := time.Since(begin).Seconds()
		if job.GetState() != shepherdv1.JobState_JOB_STATE_SUCCEEDED {
			b.Fatalf("job ended %v", job)
		}
		for _, f := range fleets {
			seqSeconds += f.Stats().SeqSeconds
			capacity += float64(f.Slots()) * elapsed
		}
		seqSeconds -= seq0
		cached += float64(job.GetCachedTokens())
		prompt += float64(job.GetPromptTokens())
		wall += elapsed
	}
	b.StopTimer()
	var most, total int64
	for _, f := range fleets {
		n := f.Stats().Requests
		most, total = max(most, n), total+n
	}
	b.ReportMetric(float64(most)*float64(len(fleets))/float64(total), "spread")
	b.ReportMetric(cached/prompt, "cached")
	b.ReportMetric(seqSeconds/capacity, "util")
	b.ReportMetric(wall/float64(b.N), "wall-s")
}
