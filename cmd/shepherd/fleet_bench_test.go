package main

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/rollout/sim"
)

// fleetDataset writes the benchmark's problems (sim.BenchFleetDataset) to
// dir.
func fleetDataset(tb testing.TB, dir string) string {
	tb.Helper()
	var buf strings.Builder
	if err := writeProblems(&buf, sim.GenerateDataset(sim.BenchFleetDataset)); err != nil {
		tb.Fatal(err)
	}
	return writeFile(tb, dir, "fleet.jsonl", buf.String())
}

// fleetRun is what one `shepherd label` run on the fleet reports.
type fleetRun struct {
	solutions, completion, prompt int
	cachedPct, wall, busy         float64
	slots                         int
}

var (
	fleetSummaryRE = regexp.MustCompile(`labelled (\d+) solutions .* (\d+) completion \+ (\d+) prompt tokens \((\d+)% prompt cache hits\) in ([0-9.]+)s`)
	busyRE         = regexp.MustCompile(`simulated fleet: \d+ servers, (\d+) sequence slots, busy (\d+)% of`)
)

func parseFleetRun(tb testing.TB, stderr string) fleetRun {
	tb.Helper()
	m, b := fleetSummaryRE.FindStringSubmatch(stderr), busyRE.FindStringSubmatch(stderr)
	if m == nil || b == nil {
		tb.Fatalf("no summary in: %s", stderr)
	}
	atoi := func(s string) int { v, _ := strconv.Atoi(s); return v }
	atof := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	return fleetRun{solutions: atoi(m[1]), completion: atoi(m[2]), prompt: atoi(m[3]), cachedPct: atof(m[4]), wall: atof(m[5]),
		slots: atoi(b[1]), busy: atof(b[2]) / 100}
}

// BenchmarkFleet runs `shepherd label --n 8` with default flags on the
// simulated fleet (sim.BenchFleetSpec) over 3,200 solutions, once per strategy and
// iteration, and reports per run: util (the share of the fleet's sequence
// slots generating), wall-s, completion-tokens, gpu-s/solution (slot-seconds
// generating per labelled solution) and cached-share (prompt tokens served
// from the prefix cache). SHEPHERD_FLEET_ARGS adds flags (space-separated),
// e.g. "--load-bound 1.5"; SHEPHERD_FLEET_SPEC replaces the fleet (a
// --backend sim spec). Run with -benchtime 1x -count 3 and take medians;
// the machine's load shows in utilization.
func BenchmarkFleet(b *testing.B) {
	in := fleetDataset(b, b.TempDir())
	extra := strings.Fields(os.Getenv("SHEPHERD_FLEET_ARGS"))
	spec := sim.BenchFleetSpec
	if v := os.Getenv("SHEPHERD_FLEET_SPEC"); v != "" {
		spec = v
	}
	for _, strategy := range []string{"binary", "exhaustive"} {
		b.Run("strategy="+strategy, func(b *testing.B) {
			var runs []fleetRun
			for range b.N {
				out := filepath.Join(b.TempDir(), "labels.jsonl")
				args := append([]string{"label", "--in", in, "--out", out, "--n", "8", "--strategy", strategy,
					"--backend", spec, "--progress", "never"}, extra...)
				code, _, stderr := runShepherd(b, "", args...)
				if code != 0 {
					b.Fatalf("exit %d: %s", code, stderr)
				}
				runs = append(runs, parseFleetRun(b, stderr))
			}
			r := medianRun(runs)
			b.ReportMetric(r.busy, "util")
			b.ReportMetric(r.wall, "wall-s")
			b.ReportMetric(float64(r.completion), "completion-tokens")
			b.ReportMetric(r.busy*float64(r.slots)*r.wall/float64(r.solutions), "gpu-s/solution")
			b.ReportMetric(r.cachedPct/100, "cached-share")
			b.Logf("%s: %d solutions, busy %.0f%%, %.1fs, %d completion tokens, %.0f%% cached", strategy, r.solutions, 100*r.busy, r.wall, r.completion, r.cachedPct)
		})
	}
}

// medianRun is the run with the median wall time.
func medianRun(runs []fleetRun) fleetRun {
	sort.Slice(runs, func(i, j int) bool { return runs[i].wall < runs[j].wall })
	return runs[len(runs)/2]
}
