package report

import (
	"math"
	"sort"
)

const (
	// MaxPositions bounds the per-position statistics: steps at or beyond
	// it are pooled into the last position, so a record with a million
	// steps costs no more memory than one with MaxPositions.
	MaxPositions = 256
	softBins     = 101 // soft label v in bin round(100 v): quantiles within 0.005
	softHistBins = 20  // the soft label histogram's bins, 0.05 wide
	relBins      = 10  // first error relative to length, 10 % bins
	scoreBins    = 10  // min-step score bins, 0.1 wide
	log2Bins     = 34  // 0, 1, 2–3, 4–7, … up to 2^32 and above
)

// group counts the solutions of one strategy or model.
type group struct {
	Solutions, Steps, OutcomeCorrect, FirstError, FailedSteps int64
}

// flagList counts the solutions of one label-consistency flag and keeps the
// first few of them to list.
type flagList struct {
	Count int64
	Items []flagItem
}

type flagItem struct {
	SolutionID, ProblemID, Detail string
}

func (f *flagList) add(limit int, it func() flagItem) {
	f.Count++
	if len(f.Items) < limit {
		f.Items = append(f.Items, it())
	}
}

// position holds the statistics of one step position.
type position struct {
	soft        [softBins]int64
	softN       int64
	hardTrue    int64
	hardN       int64
	failed      int64
	firstErrors int64
}

// runStats accumulates one input file. Its size depends on the number of
// step positions, strategies and models and on the flag list limit only.
type runStats struct {
	Name string

	Solutions, Steps, OutcomeCorrect, OutcomeUnknown, FirstError int64
	FailedSteps                                                  int64
	ByStrategy, ByModel                                          map[string]*group

	positions                               []position
	firstRel                                [relBins]int64
	softHist                                [softHistBins]int64
	scoreN                                  [scoreBins]int64
	scoreRight                              [scoreBins]int64
	noScore                                 int64
	rollouts                                map[string]*[log2Bins]int64 // by strategy
	tokens                                  map[string]*[log2Bins]int64 // by strategy, for records that carry completion_tokens
	rolloutSum                              map[string]int64
	tokenSum                                map[string]int64
	tokenCount                              map[string]int64
	HighMinWrong, CorrectAfterError, Failed flagList

	highMin  float64
	maxItems int
}

func newRunStats(name string, highMin float64, maxItems int) *runStats {
	return &runStats{
		Name:       name,
		ByStrategy: map[string]*group{},
		ByModel:    map[string]*group{},
		rollouts:   map[string]*[log2Bins]int64{},
		tokens:     map[string]*[log2Bins]int64{},
		rolloutSum: map[string]int64{},
		tokenSum:   map[string]int64{},
		tokenCount: map[string]int64{},
		highMin:    highMin,
		maxItems:   maxItems,
	}
}

func posIndex(i int) int { return min(i, MaxPositions-1) }

func (s *runStats) pos(i int) *position {
	i = posIndex(i)
	for len(s.positions) <= i {
		s.positions = append(s.positions, position{})
	}
	return &s.positions[i]
}

// log2Bin is 0 for 0, 1 for 1, 2 for 2–3, 3 for 4–7, …
func log2Bin(v int64) int {
	if v <= 0 {
		return 0
	}
	return min(int(math.Floor(math.Log2(float64(v))))+1, log2Bins-1)
}

func groupOf(m map[string]*group, k string) *group {
	g := m[k]
	if g == nil {
		g = &group{}
		m[k] = g
	}
	return g
}

// add folds one record in.
func (s *runStats) add(r *record, states []uint8, firstError int) {
	strategy, gs, gm := s.addCounts(r, len(states))
	failed, correctAfter := s.addSteps(r, states, firstError)
	if failed > 0 {
		s.FailedSteps += int64(failed)
		gs.FailedSteps += int64(failed)
		gm.FailedSteps += int64(failed)
		s.Failed.add(s.maxItems, func() flagItem {
			return flagItem{r.name(), r.ProblemID, failedDetail(states)}
		})
	}
	if firstError >= 0 {
		s.FirstError++
		gs.FirstError++
		gm.FirstError++
		s.pos(firstError).firstErrors++
		rel := float64(firstError+1) / float64(max(len(states), 1))
		s.firstRel[min(max(int(math.Ceil(rel*relBins))-1, 0), relBins-1)]++
	}
	if correctAfter >= 0 {
		s.CorrectAfterError.add(s.maxItems, func() flagItem {
			return flagItem{r.name(), r.ProblemID, sprintf("first error at step %d, step %d labelled correct", firstError, correctAfter)}
		})
	}
	s.addScore(r, states)
	s.addCosts(r, strategy)
}

// addCounts counts a solution of n steps and its outcome, in the totals
// and in its strategy's and model's groups, which it returns.
func (s *runStats) addCounts(r *record, n int) (strategy string, gs, gm *group) {
	s.Solutions++
	s.Steps += int64(n)
	strategy, model := r.Strategy, r.Model
	if strategy == "" {
		strategy = "(none)"
	}
	if model == "" {
		model = "(none)"
	}
	gs, gm = groupOf(s.ByStrategy, strategy), groupOf(s.ByModel, model)
	for _, g := range []*group{gs, gm} {
		g.Solutions++
		g.Steps += int64(n)
	}
	switch {
	case r.OutcomeCorrect == nil:
		s.OutcomeUnknown++
	case *r.OutcomeCorrect:
		s.OutcomeCorrect++
		gs.OutcomeCorrect++
		gm.OutcomeCorrect++
	}
	return strategy, gs, gm
}

// addSteps adds each step's label to the statistics of its position and
// returns the solution's failed steps and the first step labelled correct
// after its first error (-1 for none).
func (s *runStats) addSteps(r *record, states []uint8, firstError int) (failed, correctAfter int) {
	correctAfter = -1
	for i, st := range states {
		p := s.pos(i)
		switch st {
		case stepFailed:
			failed++
			p.failed++
			continue
		case stepTrue:
			p.hardTrue++
			if firstError >= 0 && i > firstError && correctAfter < 0 {
				correctAfter = i
			}
		}
		p.hardN++
		if i < len(r.SoftLabels) && r.SoftLabels[i] != nil {
			v := *r.SoftLabels[i]
			p.soft[int(math.Round(v*100))]++
			p.softN++
			s.softHist[min(int(v*softHistBins), softHistBins-1)]++
		}
	}
	return failed, correctAfter
}

// addScore adds the solution's min-step score against its outcome, and
// flags a high score on a wrong outcome.
func (s *runStats) addScore(r *record, states []uint8) {
	m, ok := r.processMin(states)
	if !ok || r.OutcomeCorrect == nil {
		s.noScore++
		return
	}
	b := min(int(m*scoreBins), scoreBins-1)
	s.scoreN[b]++
	if *r.OutcomeCorrect {
		s.scoreRight[b]++
	} else if m >= s.highMin {
		s.HighMinWrong.add(s.maxItems, func() flagItem {
			return flagItem{r.name(), r.ProblemID, sprintf("min-step score %.3f, outcome wrong", m)}
		})
	}
}

// addCosts adds the solution's rollouts and completion tokens to its
// strategy's histograms.
func (s *runStats) addCosts(r *record, strategy string) {
	ro := r.rolloutSum()
	h := s.rollouts[strategy]
	if h == nil {
		h = new([log2Bins]int64)
		s.rollouts[strategy] = h
	}
	h[log2Bin(ro)]++
	s.rolloutSum[strategy] += ro
	if r.CompletionTokens != nil {
		t := s.tokens[strategy]
		if t == nil {
			t = new([log2Bins]int64)
			s.tokens[strategy] = t
		}
		t[log2Bin(*r.CompletionTokens)]++
		s.tokenSum[strategy] += *r.CompletionTokens
		s.tokenCount[strategy]++
	}
}

func failedDetail(states []uint8) string {
	var idx []int
	for i, st := range states {
		if st == stepFailed {
			idx = append(idx, i)
		}
	}
	if len(idx) == 1 {
		return sprintf("step %d failed", idx[0])
	}
	return sprintf("steps %s failed", joinInts(idx))
}

// quantile returns the q-quantile of a soft label histogram.
func quantile(h *[softBins]int64, n int64, q float64) float64 {
	if n == 0 {
		return math.NaN()
	}
	target := q * float64(n)
	var cum int64
	for i, c := range h {
		cum += c
		if float64(cum) >= target && c > 0 {
			return float64(i) / 100
		}
	}
	return 1
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
