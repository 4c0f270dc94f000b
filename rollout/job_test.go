package rollout_test

import (
	"context"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/rollout/sim"
	"github.com/shepherd-prm/shepherd/rollout/sim/simtest"
)

const simAccuracy = 0.8

// simDataset is simtest's data set under the name this package's tests use.
var simDataset = simtest.Dataset

// runner runs labeling jobs in-process against inference servers.
type runner struct {
	pool  *rollout.Pool
	model string
}

func newSimRunner(t testing.TB, backends int, opt sim.Options) (*runner, []*sim.Server) {
	t.Helper()
	opt.Model = simtest.Model
	if opt.StepAccuracy == 0 {
		opt.StepAccuracy = simAccuracy
	}
	var clients []*rollout.Client
	var servers []*sim.Server
	for range backends {
		s, c := simtest.Backend(t, opt, rollout.ClientOptions{Timeout: 2 * time.Second, MaxRetries: 20})
		clients = append(clients, c)
		servers = append(servers, s)
	}
	return &runner{pool: simtest.PoolOf(t, clients...), model: simtest.Model}, servers
}

func (r *runner) label(t testing.TB, sols []labeler.PreparedSolution, opt rollout.JobOptions) ([]labeler.Record, rollout.JobStats) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	opt.Model = r.model
	if opt.Params.MaxTokens == 0 {
		opt.Params = rollout.SamplingParams{Temperature: 1, TopP: 1, MaxTokens: 512}
	}
	recs, stats := simtest.Label(ctx, t, r.pool, sols, opt)
	if len(recs) != len(sols) {
		t.Fatalf("got %d records for %d solutions", len(recs), len(sols))
	}
	return recs, stats
}

func byID(sols []labeler.PreparedSolution) map[string]labeler.PreparedSolution {
	m := map[string]labeler.PreparedSolution{}
	for _, s := range sols {
		m[s.SolutionID] = s
	}
	return m
}

// TestExhaustiveAgreesWithSimulatorTruth checks the labels against the
// simulator's model of the world: a prefix containing an error never
// reaches the gold answer, and an error-free prefix with r operations left
// does with probability q^r. The soft labels over the whole data set must
// be consistent with those probabilities within binomial bounds.
func TestExhaustiveAgreesWithSimulatorTruth(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		sols := simDataset(11, 40, 4)
		r, _ := newSimRunner(t, 1, sim.Options{})
		recs, stats := r.label(t, sols, rollout.JobOptions{Strategy: labeler.Exhaustive, N: 16, Seed: 3, Reuse: reuse})
		in := byID(sols)
		var sumDiff, sumVar float64
		measured := 0
		for _, rec := range recs {
			sol := in[rec.SolutionID]
			for k := range rec.Labels {
				p, err := sim.SuccessProbability(sol.Question, sol.Solution.Prefix(k), simAccuracy)
				if err != nil {
					t.Fatalf("%s step %d: %v", rec.SolutionID, k, err)
				}
				if k == len(rec.Labels)-1 {
					if rec.Labels[k] != (p == 1) || rec.OutcomeCorrect != (p == 1) {
						t.Errorf("%s: last step label %v, truth %v", rec.SolutionID, rec.Labels[k], p)
					}
					continue
				}
				n, c := float64(rec.Rollouts[k]), float64(rec.CorrectRollout[k])
				if rec.Rollouts[k] != 16 {
					t.Fatalf("%s step %d: %d rollouts, want 16", rec.SolutionID, k, rec.Rollouts[k])
				}
				if p == 0 {
					if c != 0 || rec.Labels[k] || *rec.SoftLabels[k] != 0 {
						t.Errorf("%s step %d: prefix with an error got %v of %v correct", rec.SolutionID, k, c, n)
					}
					continue
				}
				measured++
				sumDiff += c - n*p
				sumVar += n * p * (1 - p)
				if sd := math.Sqrt(n * p * (1 - p)); math.Abs(c-n*p) > 5*sd+1 {
					t.Errorf("%s step %d: %v of %v correct, truth p=%.3f", rec.SolutionID, k, c, n, p)
				}
			}
		}
		z := sumDiff / math.Sqrt(sumVar)
		t.Logf("reuse=%v: %d error-free prefixes measured, aggregate z=%.2f; %d samples, %d shared", reuse, measured, z, stats.Samples, stats.SharedSamples)
		if measured < 100 || math.Abs(z) > 4 {
			t.Errorf("reuse=%v: soft labels disagree with the truth: z=%.2f over %d prefixes", reuse, z, measured)
		}
	}
}

// strategyFigures labels one data set with both strategies and returns the
// first-error accuracy of each against the truth and their completion
// tokens.
func strategyFigures(t testing.TB, problems, perProblem, n int) (exAcc, binAcc float64, exTok, binTok int) {
	sols := simDataset(5, problems, perProblem)
	in := byID(sols)
	accuracy := func(recs []labeler.Record) float64 {
		right := 0
		for _, rec := range recs {
			sol := in[rec.SolutionID]
			truth, err := sim.FirstError(sol.Question, sol.Solution.Text)
			if err != nil {
				t.Fatal(err)
			}
			if rec.FirstErrorStep == truth {
				right++
			}
		}
		return float64(right) / float64(len(recs))
	}
	r, _ := newSimRunner(t, 1, sim.Options{})
	ex, exStats := r.label(t, sols, rollout.JobOptions{Strategy: labeler.Exhaustive, N: n, Seed: 1, Reuse: true})
	bin, binStats := r.label(t, sols, rollout.JobOptions{Strategy: labeler.Binary, N: n, Seed: 1, Reuse: true})
	return accuracy(ex), accuracy(bin), exStats.CompletionTokens, binStats.CompletionTokens
}

func TestBinaryAsAccurateWithAQuarterOfTheTokens(t *testing.T) {
	exAcc, binAcc, exTok, binTok := strategyFigures(t, 50, 4, 8)
	ratio := float64(binTok) / float64(exTok)
	t.Logf("200 solutions: exhaustive first-error accuracy %.3f with %d completion tokens; binary %.3f with %d (%.1f%%)", exAcc, exTok, binAcc, binTok, 100*ratio)
	if binAcc < exAcc {
		t.Errorf("binary accuracy %.3f below exhaustive %.3f", binAcc, exAcc)
	}
	if ratio > 0.25 {
		t.Errorf("binary used %.1f%% of exhaustive's completion tokens, want at most 25%%", 100*ratio)
	}
}

// BenchmarkStrategies prints the figures the README records: first-error
// accuracy of each strategy against the simulator's truth and the share of
// completion tokens binary needs (go test -run '^$' -bench Strategies ./rollout/).
func BenchmarkStrategies(b *testing.B) {
	for range b.N {
		exAcc, binAcc, exTok, binTok := strategyFigures(b, 100, 4, 8)
		b.ReportMetric(exAcc, "exhaustive-acc")
		b.ReportMetric(binAcc, "binary-acc")
		b.ReportMetric(float64(exTok), "exhaustive-tokens")
		b.ReportMetric(float64(binTok), "binary-tokens")
		b.ReportMetric(100*float64(binTok)/float64(exTok), "binary-token-%")
	}
}

// cachedShare labels a data set over k simulator backends (routing by
// problem when affine, else by solution only) and returns the
// share of prompt tokens served from the backends' prefix caches.
func cachedShare(t testing.TB, backends int, affine bool) float64 {
	sols := simDataset(9, 100, 4)
	if !affine {
		for i := range sols {
			sols[i].ProblemID = sols[i].SolutionID + "/" + string(rune('a'+i%7)) // scatter route keys
		}
	}
	r, _ := newSimRunner(t, backends, sim.Options{})
	_, stats := r.label(t, sols, rollout.JobOptions{Strategy: labeler.Exhaustive, N: 8, Seed: 2, Reuse: false})
	return float64(stats.CachedTokens) / float64(stats.PromptTokens)
}

func TestAffineRoutingKeepsThePrefixCache(t *testing.T) {
	one := cachedShare(t, 1, true)
	four := cachedShare(t, 4, true)
	t.Logf("cached share of prompt tokens: one backend %.3f, four affine %.3f (ratio %.3f)", one, four, four/one)
	if four < 0.9*one {
		t.Errorf("four backends keep %.3f of prompt tokens cached, under 90%% of one backend's %.3f", four, one)
	}
}

// BenchmarkRouting reports the prefix-cache share with one backend and with
// four under solution-affine routing (go test -run '^$' -bench Routing ./rollout/).
func BenchmarkRouting(b *testing.B) {
	for range b.N {
		one := cachedShare(b, 1, true)
		four := cachedShare(b, 4, true)
		b.ReportMetric(one, "cached-share-1")
		b.ReportMetric(four, "cached-share-4")
		b.ReportMetric(four/one, "ratio")
		b.ReportMetric(cachedShare(b, 4, false), "cached-share-4-by-solution")
	}
}

// TestFaultsDoNotChangeLabels runs the same job against a clean simulator
// and against one that fails, throttles, truncates and hangs; with fixed
// seeds the labels must be identical.
func TestFaultsDoNotChangeLabels(t *testing.T) {
	sols := simDataset(21, 10, 3)
	clean, _ := newSimRunner(t, 1, sim.Options{})
	want, _ := clean.label(t, sols, rollout.JobOptions{Strategy: labeler.Exhaustive, N: 4, Seed: 9, Reuse: true})
	faulty, servers := newSimRunner(t, 1, sim.Options{Rate500: 0.15, Rate429: 0.1, RateTruncated: 0.1, RateHang: 0.02, HangFor: 3 * time.Second, RetryAfter: 0, FaultSeed: 4})
	got, _ := faulty.label(t, sols, rollout.JobOptions{Strategy: labeler.Exhaustive, N: 4, Seed: 9, Reuse: true})
	st := servers[0].Stats()
	t.Logf("faulty server stats: %+v", st)
	wantBy, gotBy := map[string]labeler.Record{}, map[string]labeler.Record{}
	for _, r := range want {
		wantBy[r.SolutionID] = r
	}
	for _, r := range got {
		gotBy[r.SolutionID] = r
	}
	for id, w := range wantBy {
		g := gotBy[id]
		if !equalInts(w.Rollouts, g.Rollouts) || !equalInts(w.CorrectRollout, g.CorrectRollout) || w.FirstErrorStep != g.FirstErrorStep {
			t.Errorf("%s: clean %v/%v, faulty %v/%v", id, w.CorrectRollout, w.Rollouts, g.CorrectRollout, g.Rollouts)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRecordsCarryTheSourcesKey: the scheduler hands each solution's Key
// back on its record, whatever the solution ids, so that a source whose
// ids repeat (a stored job with duplicate problem ids) tells its records
// apart without touching the ids the records carry.
func TestRecordsCarryTheSourcesKey(t *testing.T) {
	r, _ := newSimRunner(t, 1, sim.Options{})
	one := simDataset(5, 1, 3)
	sols := append(append([]labeler.PreparedSolution{}, one...), one...) // every id twice
	for i := range sols {
		sols[i].Key = "key-" + strconv.Itoa(i)
	}
	recs, _ := r.label(t, sols, rollout.JobOptions{N: 2})
	seen := map[string]bool{}
	for _, rec := range recs {
		i, err := strconv.Atoi(strings.TrimPrefix(rec.Key, "key-"))
		switch {
		case err != nil || i < 0 || i >= len(sols) || seen[rec.Key]:
			t.Fatalf("record of %s has key %q", rec.SolutionID, rec.Key)
		case rec.SolutionID != sols[i].SolutionID || rec.ProblemID != sols[i].ProblemID:
			t.Errorf("record with key %q is of %s/%s, want %s/%s", rec.Key, rec.ProblemID, rec.SolutionID, sols[i].ProblemID, sols[i].SolutionID)
		}
		seen[rec.Key] = true
	}
}

func TestSliceSourceLeavesItsInputAlone(t *testing.T) {
	sols := simtest.Dataset(1, 2, 2)
	if len(sols) != 4 {
		t.Fatalf("%d solutions, want 4", len(sols))
	}
	src := rollout.NewSliceSource(sols)
	for i := range sols {
		got, err := src.Next()
		if err != nil || got.SolutionID != sols[i].SolutionID {
			t.Fatalf("solution %d: %s, %v; want %s", i, got.SolutionID, err, sols[i].SolutionID)
		}
	}
	if _, err := src.Next(); err != io.EOF {
		t.Fatalf("after the last solution: %v, want io.EOF", err)
	}
	if len(simtest.Dataset(1, 2, 2)) != len(sols) || sols[0].SolutionID == "" {
		t.Error("the source consumed its input")
	}
}

// TestRunLocalLabelsEverySolution: the in-process runner labels each
// solution once, and the simulator's known first errors are where the
// labels turn false.
func TestRunLocalLabelsEverySolution(t *testing.T) {
	problems := sim.GenerateDataset(sim.DatasetOptions{Seed: 2, Problems: 3, SolutionsPerProblem: 2, MinOps: 3, MaxOps: 5, ErrorRate: 0.5})
	firstError := map[string]int{}
	for _, p := range problems {
		for _, s := range p.Solutions {
			firstError[s.ID] = s.FirstError
		}
	}
	sols := simtest.Prepare(simtest.LabelerProblems(problems))
	got := map[string]labeler.Record{}
	stats, err := rollout.RunLocal(context.Background(),
		rollout.LocalOptions{Generator: simtest.Pool(t, sim.Options{StepAccuracy: 1}), Model: simtest.Model, Concurrency: 8},
		rollout.JobOptions{ID: "j", Model: simtest.Model, Strategy: labeler.Exhaustive, N: 4, Seed: 1},
		rollout.NewSliceSource(sols), func(r labeler.Record) error {
			if _, dup := got[r.SolutionID]; dup {
				t.Errorf("solution %s emitted twice", r.SolutionID)
			}
			got[r.SolutionID] = r
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sols) || stats.Solutions != len(sols) || stats.Samples == 0 {
		t.Fatalf("%d records for %d solutions, stats %+v", len(got), len(sols), stats)
	}
	for id, r := range got {
		if r.FirstErrorStep != firstError[id] {
			t.Errorf("solution %s: first error step %d, the simulator put it at %d", id, r.FirstErrorStep, firstError[id])
		}
	}
}

func TestSimtestLabelOnPool(t *testing.T) {
	sols := simtest.Dataset(2, 3, 2)
	recs, stats := simtest.Label(context.Background(), t, simtest.Pool(t, sim.Options{}), sols,
		rollout.JobOptions{ID: "j", Model: simtest.Model, Strategy: labeler.Exhaustive, N: 2, Seed: 1})
	if len(recs) != len(sols) || stats.Samples == 0 {
		t.Fatalf("%d records for %d solutions, stats %+v", len(recs), len(sols), stats)
	}
}

// A solution admitted after the last one holding its prefixes finished
// (here a window of one, so each solution waits for the one before) is
// served the samples already had, from memory: the same labels, and not
// one sample generated again.
func TestLaterSolutionReusesFinishedPrefixes(t *testing.T) {
	r, _ := newSimRunner(t, 1, sim.Options{})
	a := simDataset(6, 1, 1)[0]
	b := a
	b.SolutionID += "-again"
	opt := rollout.JobOptions{N: 4, Seed: 2, Window: 1}
	_, alone := r.label(t, []labeler.PreparedSolution{a}, opt)
	recs, both := r.label(t, []labeler.PreparedSolution{a, b}, opt)
	if alone.Samples == 0 {
		t.Fatal("the solution needed no samples: the test shows nothing")
	}
	if both.Samples != alone.Samples || both.SharedSamples != alone.Samples {
		t.Errorf("two identical solutions in turn generated %d samples and shared %d; want %d generated and all shared",
			both.Samples, both.SharedSamples, alone.Samples)
	}
	if !reflect.DeepEqual(recs[0].Labels, recs[1].Labels) || !equalInts(recs[0].Rollouts, recs[1].Rollouts) {
		t.Errorf("labels differ: %v %v, rollouts %v %v", recs[0].Labels, recs[1].Labels, recs[0].Rollouts, recs[1].Rollouts)
	}
}
