package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/rollout/redisq/redistest"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/server/servertest"
)

// incrAOF is the file Redis 7 appends its writes to (multi-part AOF).
func incrAOF(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "appendonlydir", "*.incr.aof"))
	if err != nil || len(m) != 1 {
		t.Fatalf("incremental AOF files in %s: %v %v", dir, m, err)
	}
	return m[0]
}

// TestRedisLosesAOFTailMidJob: Redis (AOF, appendfsync everysec) dies in
// the middle of a `label --server` run and comes back without the last
// second of its writes, as after a host crash: records the client already
// wrote are gone from the server, which labels them again. The output
// still holds every record exactly once, equal to an uninterrupted run's.
// With a short job lease the job's lease is lost with the tail and the job
// adopted again; with a long one the lease survives, and its scheduler
// notices that its commits were lost.
func TestRedisLosesAOFTailMidJob(t *testing.T) {
	for _, lease := range []string{"1s", "60s"} {
		t.Run("lease="+lease, func(t *testing.T) {
			t.Parallel()
			testRedisLosesAOFTail(t, lease)
		})
	}
}

func testRedisLosesAOFTail(t *testing.T, lease string) {
	rs := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "everysec")
	// Slow enough for the job to go on well past the lost second.
	simURL, _ := startSim(t, sim.Options{Latency: 150 * time.Millisecond})
	serve, addr := startServe(t, "serve", "127.0.0.1:0", redisURL(rs.Addr), "--window", "4", "--job-lease-ttl", lease)
	w := startWorker(t, "worker", simURL, redisURL(rs.Addr))
	ds := newDataset(t, 17, 10, 3)
	want := ds.reference(t, testN, testSeed)

	out := filepath.Join(t.TempDir(), "labels.jsonl")
	label := start(t, "label", "label", "--server", addr, "--insecure", "--model", "sim", "--in", ds.file, "--out", out,
		"--n", fmt.Sprint(testN), "--seed", fmt.Sprint(testSeed), "--progress", "never")
	lines := func() int {
		b := readLabelsSoFar(out)
		return bytes.Count(b, []byte("\n"))
	}
	waitFor(t, "the first records", 30*time.Second, func() bool { return lines() >= 4 })
	aof := incrAOF(t, rs.Dir)
	st, err := os.Stat(aof)
	if err != nil {
		t.Fatal(err)
	}
	cut, before := st.Size(), lines()
	time.Sleep(time.Second)
	rs.Kill()
	if err := os.Truncate(aof, cut); err != nil {
		t.Fatal(err)
	}
	lost := lines() - before
	t.Logf("cut the AOF back to %d bytes: the client wrote %d of %d records in the lost second", cut, lost, ds.total)
	if lost == 0 {
		t.Error("no record was written in the lost second: the test shows nothing")
	}
	if lines() == ds.total {
		t.Error("the job was done before the cut: the test shows less than it should")
	}
	rs.Restart()

	if code, _ := label.wait(60 * time.Second); code != 0 {
		t.Fatalf("label exited with %d", code)
	}
	if !strings.Contains(label.Out.String(), "records again") {
		t.Error("label did not report the records the server sent again")
	}
	got := readRecordFile(t, out) // fails on a duplicate
	// As an uninterrupted run's, but for completion_tokens: rollouts lost
	// with the tail are generated again and charged to whichever solution
	// asks for them first, as after a resume.
	servertest.SameRecords(t, got, want, servertest.WithoutTokens)
	w.stop(10 * time.Second)
	serve.stop(10 * time.Second)
}
