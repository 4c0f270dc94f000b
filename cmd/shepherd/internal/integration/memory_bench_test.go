package integration

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/client"
	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
)

// Redis memory benchmark: a 1,600-solution job (400 simulator problems x 4
// solutions) with the default spec.
const (
	memProblems   = 400
	memPerProblem = 4
)

// BenchmarkRedisMemory measures what a finished job leaves in Redis: a
// private redis-server, `shepherd serve` and one `shepherd worker
// --backend sim` label 1,600 solutions with default flags, one job per
// iteration; it reports
//
//   - label-MB: the size of a job's label records as JSON lines;
//   - first-MB, first-ratio: how much Redis's used_memory rose over the
//     first job, from Redis with serve and the worker connected and no
//     job yet, and its ratio to label-MB (the measure; the bound
//     is 2);
//   - redis-MB, ratio: the same for each later job (with -benchtime 2x or
//     more);
//   - first-hists, hist-kB: the per-command latency histograms Redis
//     created during the first job, and the bytes one holds (see below);
//   - keys-MB: how much the MEMORY USAGE (all samples) of every key rose
//     over a job;
//   - peak-MB: the most used_memory rose above its value at a job's start,
//     sampled every 50 ms: what is in flight.
//
// Redis 7 keeps, for every command name it has executed at least once
// (subcommands and commands run by scripts included), an HdrHistogram of
// its latencies (config latency-tracking, on by default; server.c,
// updateCommandLatencyHistogram: hdr_init(1, 1e9 ns, 2 significant
// figures), allocated with zmalloc so counted in used_memory, freed only by
// CONFIG RESETSTAT). That is about 25 kB per command name, paid once per
// server whoever sends the command: the first job on a fresh Redis sends
// some 30 names serve and the worker had not sent yet (~0.7 MB), later
// jobs none. The sub-benchmark latency-tracking=no runs redis-server with
// that setting, so the same measure shows what the job itself leaves.
func BenchmarkRedisMemory(b *testing.B) {
	for _, tracking := range []string{"yes", "no"} {
		b.Run("latency-tracking="+tracking, func(b *testing.B) {
			benchRedisMemory(b, "--latency-tracking", tracking)
		})
	}
}

func benchRedisMemory(b *testing.B, redisFlags ...string) {
	rs := redistest.Start(b, redisFlags...)
	redisArgs := redisURL(rs.Addr)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	b.Cleanup(func() { rdb.Close() })
	_, addr := startServe(b, "serve", "127.0.0.1:0", redisArgs, "--log-level", "info")
	startWorker(b, "worker", "sim", redisArgs, "--log-level", "info")
	c := dial(b, addr)
	problems := newDataset(b, 1, memProblems, memPerProblem).problems
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// The benchmark's own commands get their latency histograms now, so
	// that the first job's figures count only what serve and the worker
	// send.
	latencyHistograms(b, rdb)
	keysMemory(b, rdb)
	rdb.SCard(ctx, "shepherd:{jobs}:live")
	rdb.Ping(ctx)

	var labelBytes, firstBytes, laterBytes, keyBytes, peakBytes float64
	firstHists := 0
	b.ResetTimer()
	for i := range b.N {
		histsBefore := latencyHistograms(b, rdb)
		before, keysBefore := usedMemory(b, rdb), keysMemory(b, rdb)
		peak := before
		done := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for {
				select {
				case <-done:
					return
				case <-time.After(50 * time.Millisecond):
				}
				if m, err := readUsedMemory(rdb); err == nil {
					peak = max(peak, m)
				}
			}
		}()
		s := c.LabelSolutions(ctx, client.Request{Model: "sim", Problems: problems})
		n := 0
		for s.Next() {
			if r := s.Event().Record; r != nil {
				line, _ := json.Marshal(r)
				labelBytes += float64(len(line) + 1)
				n++
			}
		}
		close(done)
		<-sampled
		if err := s.Err(); err != nil {
			b.Fatal(err)
		}
		if n != memProblems*memPerProblem {
			b.Fatalf("%d records, want %d", n, memProblems*memPerProblem)
		}
		// The stream ends with the job's terminal state; its finalizer
		// may still be running: wait until the job has left the live set.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if k, _ := rdb.SCard(ctx, "shepherd:{jobs}:live").Result(); k == 0 {
				break
			}
		}
		grew := float64(usedMemory(b, rdb) - before)
		if i == 0 {
			firstBytes = grew
			firstHists = latencyHistograms(b, rdb) - histsBefore
		} else {
			laterBytes += grew
		}
		keyBytes += float64(keysMemory(b, rdb) - keysBefore)
		peakBytes += float64(peak - before)
	}
	b.StopTimer()
	perJob := labelBytes / float64(b.N)
	b.ReportMetric(perJob/1e6, "label-MB")
	b.ReportMetric(firstBytes/1e6, "first-MB")
	b.ReportMetric(firstBytes/perJob, "first-ratio")
	if b.N > 1 {
		later := laterBytes / float64(b.N-1)
		b.ReportMetric(later/1e6, "redis-MB")
		b.ReportMetric(later/perJob, "ratio")
	}
	b.ReportMetric(float64(firstHists), "first-hists")
	if h := latencyHistograms(b, rdb); h > 0 {
		// CONFIG RESETSTAT frees every histogram (and nothing a key
		// holds): what used_memory drops by is what they held.
		held := usedMemory(b, rdb)
		if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		freed := held - usedMemory(b, rdb)
		b.ReportMetric(float64(freed)/float64(h)/1e3, "hist-kB")
	}
	b.ReportMetric(keyBytes/float64(b.N)/1e6, "keys-MB")
	b.ReportMetric(peakBytes/float64(b.N)/1e6, "peak-MB")
}

// latencyHistograms counts the commands Redis keeps a latency histogram
// for (INFO latencystats: one line each).
func latencyHistograms(b *testing.B, rdb *redis.Client) int {
	info, err := rdb.Info(context.Background(), "latencystats").Result()
	if err != nil {
		b.Fatal(err)
	}
	return strings.Count(info, "latency_percentiles_usec_")
}

// keysMemory sums the MEMORY USAGE of every key, all samples.
func keysMemory(b *testing.B, rdb *redis.Client) int64 {
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		b.Fatal(err)
	}
	var sum int64
	for _, k := range keys {
		u, err := rdb.MemoryUsage(ctx, k, 0).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			b.Fatal(err)
		}
		sum += u
	}
	return sum
}

var usedMemoryRE = regexp.MustCompile(`(?m)^used_memory:(\d+)`)

func usedMemory(b *testing.B, rdb *redis.Client) int64 {
	n, err := readUsedMemory(rdb)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func readUsedMemory(rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		return 0, err
	}
	m := usedMemoryRE.FindStringSubmatch(info)
	if m == nil {
		return 0, errors.New("no used_memory in INFO memory")
	}
	return strconv.ParseInt(m[1], 10, 64)
}
