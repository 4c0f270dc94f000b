package report

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
)

// chart is one figure of the page: an id the tests and readers can find it
// by, a title, a caption and the SVG (empty when there is nothing to draw).
type chart struct {
	ID, Title, Caption string
	SVG                template.HTML
	NoData             string
}

type countRow struct {
	Key                                         string // data-count prefix
	Name                                        string
	Solutions, Steps, Correct, FirstErr, Failed int64
}

type runView struct {
	Index               int
	Name                string
	Total               countRow
	Unknow              int64
	ByStrategy, ByModel []countRow
	Charts              []chart
	Flags               []flagView
	HighMin             float64
	Listed              int
}

type flagView struct {
	ID, Title string
	List      flagList
}

type compareView struct {
	A, B       string
	C          *comparison
	Confusion  [][]string
	Charts     []chart
	TokenRatio string
	RollRatio  string
}

type pageView struct {
	Runs     []runView
	Compares []compareView
	MaxPos   int
}

func pct(a, b int64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f %%", 100*float64(a)/float64(b))
}

var funcs = template.FuncMap{
	"n":     groupDigits,
	"pct":   pct,
	"sub":   func(a, b int64) int64 { return a - b },
	"len64": func(v []flagItem) int64 { return int64(len(v)) },
	"args":  func(run int, row countRow) cellArgs { return cellArgs{run, row} },
}

// cellArgs passes a run index and a row to the "cells" template.
type cellArgs struct {
	Run int
	Row countRow
}

func rowOf(key, name string, g *group) countRow {
	return countRow{key, name, g.Solutions, g.Steps, g.OutcomeCorrect, g.FirstError, g.FailedSteps}
}

func posLabel(i, n int) string {
	if i == MaxPositions-1 && n == MaxPositions {
		return "≥" + strconv.Itoa(i)
	}
	return strconv.Itoa(i)
}

func log2Label(b int) string {
	switch b {
	case 0:
		return "0"
	case 1:
		return "1"
	}
	lo, hi := int64(1)<<(b-1), int64(1)<<b-1
	if b == log2Bins-1 {
		return "≥" + groupDigits(lo)
	}
	return groupDigits(lo) + "–" + groupDigits(hi)
}

// log2Chart draws per-strategy histograms over log2 bins, trimmed to the
// bins in use.
func log2Chart(hs map[string]*[log2Bins]int64, xLabel string) (string, bool) {
	lo, hi := log2Bins, -1
	for _, h := range hs {
		for b, c := range h {
			if c > 0 {
				lo, hi = min(lo, b), max(hi, b)
			}
		}
	}
	if hi < 0 {
		return "", false
	}
	c := barChart{XLabel: xLabel, YLabel: "solutions"}
	for b := lo; b <= hi; b++ {
		c.Categories = append(c.Categories, log2Label(b))
	}
	for _, k := range sortedKeys(hs) {
		s := series{Name: k}
		for b := lo; b <= hi; b++ {
			s.Values = append(s.Values, float64(hs[k][b]))
		}
		c.Series = append(c.Series, s)
	}
	return c.svg(), true
}

func meansBy(sum, count map[string]int64) string {
	out := ""
	for _, k := range sortedKeys(sum) {
		if count[k] == 0 {
			continue
		}
		if out != "" {
			out += "; "
		}
		out += fmt.Sprintf("%s: mean %.1f over %s solutions", k, float64(sum[k])/float64(count[k]), groupDigits(count[k]))
	}
	return out
}

// charts are the page's charts, in the order it shows them.
func (s *runStats) charts() []chart {
	np := len(s.positions)
	cats := make([]string, np)
	for i := range cats {
		cats[i] = posLabel(i, np)
	}
	out := s.firstErrorCharts(cats)
	out = append(out, s.softLabelCharts(cats)...)
	out = append(out, s.hardShareChart(cats))
	out = append(out, s.costCharts()...)
	return append(out, s.minScoreChart())
}

// newChart is a chart of svg when ok, else one saying noData.
func newChart(id, title, caption, svg string, ok bool, noData string) chart {
	c := chart{ID: id, Title: title, Caption: caption}
	if ok {
		c.SVG = template.HTML(svg)
	} else {
		c.NoData = noData
	}
	return c
}

// firstErrorCharts: where the first errors sit, by step and relative to
// the solution's length. cats labels the step positions.
func (s *runStats) firstErrorCharts(cats []string) []chart {
	var out []chart
	fe := barChart{XLabel: "first error step (0-based)", YLabel: "solutions", Categories: cats, Series: []series{{Name: "solutions"}}}
	for _, p := range s.positions {
		fe.Series[0].Values = append(fe.Series[0].Values, float64(p.firstErrors))
	}
	out = append(out, newChart("first-error-abs", "First error step", fmt.Sprintf("%s of %s solutions have a first error.", groupDigits(s.FirstError), groupDigits(s.Solutions)), fe.svg(), s.FirstError > 0, "No solution has a first error."))

	rel := barChart{XLabel: "first error step relative to solution length ((step+1)/steps)", YLabel: "solutions", Series: []series{{Name: "solutions"}}}
	for b := range relBins {
		rel.Categories = append(rel.Categories, fmt.Sprintf("%d–%d%%", b*100/relBins, (b+1)*100/relBins))
		rel.Series[0].Values = append(rel.Series[0].Values, float64(s.firstRel[b]))
	}
	out = append(out, newChart("first-error-rel", "First error step, relative to length", "Where in the solution the first error sits.", rel.svg(), s.FirstError > 0, "No solution has a first error."))
	return out
}

// softLabelCharts: the soft labels' quantiles by step position, and their
// histogram.
func (s *runStats) softLabelCharts(cats []string) []chart {
	var out []chart
	var band bandChart
	band.XLabel, band.YLabel = "step (0-based)", "soft label"
	var softN int64
	for i, p := range s.positions {
		if p.softN == 0 {
			continue
		}
		softN += p.softN
		band.Categories = append(band.Categories, cats[i])
		band.P10 = append(band.P10, quantile(&p.soft, p.softN, 0.10))
		band.P25 = append(band.P25, quantile(&p.soft, p.softN, 0.25))
		band.P50 = append(band.P50, quantile(&p.soft, p.softN, 0.50))
		band.P75 = append(band.P75, quantile(&p.soft, p.softN, 0.75))
		band.P90 = append(band.P90, quantile(&p.soft, p.softN, 0.90))
		band.Counts = append(band.Counts, p.softN)
	}
	out = append(out, newChart("soft-bands", "Soft labels by step position", fmt.Sprintf("Quantiles of the %s measured soft labels at each position (inferred and failed steps have none).", groupDigits(softN)), band.svg(), softN > 0, "No step has a measured soft label."))

	sh := barChart{XLabel: "soft label", YLabel: "steps", Series: []series{{Name: "steps"}}}
	for b := range softHistBins {
		sh.Categories = append(sh.Categories, fmt.Sprintf("%.2f", float64(b)/softHistBins))
		sh.Series[0].Values = append(sh.Series[0].Values, float64(s.softHist[b]))
	}
	out = append(out, newChart("soft-hist", "Soft label histogram", "Bins 0.05 wide, labelled by their lower edge; 1.0 falls in the last.", sh.svg(), softN > 0, "No step has a measured soft label."))
	return out
}

// hardShareChart: the share of hard label 1 by step position.
func (s *runStats) hardShareChart(cats []string) chart {
	hs := barChart{XLabel: "step (0-based)", YLabel: "hard label 1", Categories: cats, Series: []series{{Name: "share"}}, YMax: 1, Percent: true}
	var hardN int64
	for _, p := range s.positions {
		v := 0.0
		if p.hardN > 0 {
			v = float64(p.hardTrue) / float64(p.hardN)
		}
		hardN += p.hardN
		hs.Series[0].Values = append(hs.Series[0].Values, v)
	}
	hs.Notes = func(c, _ int) string {
		p := s.positions[c]
		return fmt.Sprintf("step %s: %s of %s labelled steps correct (%s failed)", cats[c], groupDigits(p.hardTrue), groupDigits(p.hardN), groupDigits(p.failed))
	}
	return newChart("hard-share", "Hard-label share by step position", "Share of labelled steps with hard label 1; failed steps are left out.", hs.svg(), hardN > 0, "No step has a hard label.")
}

// costCharts: rollouts and completion tokens per solution, by strategy.
func (s *runStats) costCharts() []chart {
	var out []chart
	rsvg, ok := log2Chart(s.rollouts, "rollouts per solution")
	out = append(out, newChart("rollouts", "Rollouts per solution, by strategy", meansBy(s.rolloutSum, s.strategyCounts()), rsvg, ok, "No solution."))

	tsvg, ok := log2Chart(s.tokens, "completion tokens per solution")
	out = append(out, newChart("tokens", "Completion tokens per solution, by strategy", meansBy(s.tokenSum, s.tokenCount), tsvg, ok,
		"These records carry no completion_tokens field, so there is nothing to draw; the job's total is in the summary line of shepherd label."))
	return out
}

// minScoreChart: solutions by outcome per bin of their min-step score.
func (s *runStats) minScoreChart() chart {
	ms := barChart{XLabel: "min-step score", YLabel: "solutions", Series: []series{{Name: "outcome correct"}, {Name: "outcome wrong"}}}
	var scored int64
	for b := range scoreBins {
		ms.Categories = append(ms.Categories, fmt.Sprintf("%.1f–%.1f", float64(b)/scoreBins, float64(b+1)/scoreBins))
		scored += s.scoreN[b]
		ms.Series[0].Values = append(ms.Series[0].Values, float64(s.scoreRight[b]))
		ms.Series[1].Values = append(ms.Series[1].Values, float64(s.scoreN[b]-s.scoreRight[b]))
	}
	ms.Notes = func(c, k int) string {
		return fmt.Sprintf("min-step score %s: %s of %s solutions (%s correct)", ms.Categories[c], groupDigits(int64(ms.Series[k].Values[c])), groupDigits(s.scoreN[c]), pct(s.scoreRight[c], s.scoreN[c]))
	}
	return newChart("min-score-outcome", "Min-step score against outcome correctness", fmt.Sprintf("Solutions by outcome per bin of the min-step score over the steps judged by rollouts (a last step without rollouts is the graded outcome itself and is left out; %s solutions, %s without such a step).", groupDigits(scored), groupDigits(s.noScore)), ms.svg(), scored > 0, "No solution has a min-step score.")
}

func (s *runStats) strategyCounts() map[string]int64 {
	m := map[string]int64{}
	for k, g := range s.ByStrategy {
		m[k] = g.Solutions
	}
	return m
}

func ratio(a, b int64) string {
	if a == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f", float64(b)/float64(a))
}

func (rep *Report) view() pageView {
	var v pageView
	for i, s := range rep.Runs {
		rv := runView{Index: i, Name: s.Name, Unknow: s.OutcomeUnknown, HighMin: rep.opt.HighMinScore, Listed: rep.opt.MaxListed}
		rv.Total = countRow{"total", "all", s.Solutions, s.Steps, s.OutcomeCorrect, s.FirstError, s.FailedSteps}
		for _, k := range sortedKeys(s.ByStrategy) {
			rv.ByStrategy = append(rv.ByStrategy, rowOf("strategy:"+k, k, s.ByStrategy[k]))
		}
		for _, k := range sortedKeys(s.ByModel) {
			rv.ByModel = append(rv.ByModel, rowOf("model:"+k, k, s.ByModel[k]))
		}
		rv.Charts = s.charts()
		rv.Flags = []flagView{
			{"high-min-wrong", fmt.Sprintf("Min-step score at least %.2f, outcome wrong", rep.opt.HighMinScore), s.HighMinWrong},
			{"correct-after-error", "A step labelled correct after the first error", s.CorrectAfterError},
			{"failed-steps", "Solutions with failed steps", s.Failed},
		}
		v.Runs = append(v.Runs, rv)
		v.MaxPos = max(v.MaxPos, len(s.positions))
	}
	names := []string{"0", "1", "failed"}
	for _, c := range rep.Comparisons {
		cv := compareView{A: rep.Runs[c.A].Name, B: rep.Runs[c.B].Name, C: c}
		for a := range 3 {
			row := []string{names[a]}
			for b := range 3 {
				row = append(row, groupDigits(c.Confusion[a][b]))
			}
			cv.Confusion = append(cv.Confusion, row)
		}
		cv.RollRatio = ratio(c.RolloutsA, c.RolloutsB)
		if c.TokenPairs > 0 {
			cv.TokenRatio = ratio(c.TokensA, c.TokensB)
		}
		var keys []int
		for k := range c.FirstErrorDiff {
			keys = append(keys, k)
		}
		sort.Ints(keys)
		d := barChart{XLabel: fmt.Sprintf("first error step in %s minus in %s", cv.B, cv.A), YLabel: "solutions", Series: []series{{Name: "solutions"}}}
		var total int64
		for k := -maxDiff; k <= maxDiff; k++ {
			l := strconv.Itoa(k)
			if k == -maxDiff {
				l = "≤" + l
			} else if k == maxDiff {
				l = "≥" + l
			} else if k > 0 {
				l = "+" + l
			}
			d.Categories = append(d.Categories, l)
			d.Series[0].Values = append(d.Series[0].Values, float64(c.FirstErrorDiff[k]))
			total += c.FirstErrorDiff[k]
		}
		ch := chart{ID: "compare-first-error-diff", Title: "First error step, difference", Caption: fmt.Sprintf("Over the %s matched solutions where both runs find a first error.", groupDigits(total))}
		if total > 0 {
			ch.SVG = template.HTML(d.svg())
		} else {
			ch.NoData = "No matched solution has a first error in both runs."
		}
		cv.Charts = []chart{ch}
		v.Compares = append(v.Compares, cv)
	}
	return v
}

// Render writes the page.
func (rep *Report) Render(w io.Writer) error {
	return page.Execute(w, rep.view())
}

var page = template.Must(template.New("page").Funcs(funcs).Parse(pageHTML))
