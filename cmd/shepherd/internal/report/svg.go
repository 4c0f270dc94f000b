package report

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// The charts are drawn as inline SVG by the few functions below rather than
// with a plotting library: the report needs bars and one band chart, and
// gonum.org/v1/plot would add gonum, x/image, a LaTeX and a PDF package to
// the module graph for them.

const (
	chartW, chartH         = 640, 300
	marginL, marginR       = 60, 16
	marginT, marginB       = 28, 52
	plotW                  = chartW - marginL - marginR
	plotH                  = chartH - marginT - marginB
	maxXLabels             = 16
	legendItemW            = 130
	barGapShare            = 0.15
	fontSize               = 11
	bandOuter, bandInner   = "#c6dbef", "#6baed6"
	medianColor            = "#08306b"
	axisColor, labelColour = "#444", "#222"
)

var palette = []string{"#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363", "#d6616b"}

// series is one named row of values, one per category.
type series struct {
	Name   string
	Values []float64
}

// barChart is a grouped bar chart over categories.
type barChart struct {
	XLabel, YLabel string
	Categories     []string
	Series         []series
	YMax           float64               // 0: from the data
	Percent        bool                  // y axis as a percentage of 1
	Notes          func(c, s int) string // the tooltip of a bar; nil: its value
}

// bandChart draws quantile bands by position: the outer band (p10–p90),
// the inner band (p25–p75) and the median line.
type bandChart struct {
	XLabel, YLabel string
	Categories     []string
	P10, P25, P50  []float64
	P75, P90       []float64
	Counts         []int64
}

func esc(s string) string { return html.EscapeString(s) }

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 || math.IsNaN(v) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// fmtTick writes an axis tick: whole percents, two significant digits.
func fmtTick(v float64, percent bool) string { return fmtNumber(v, percent, 0, 2) }

// fmtValue writes a data value: percents to a tenth, three significant
// digits.
func fmtValue(v float64, percent bool) string { return fmtNumber(v, percent, 1, 3) }

// fmtNumber writes v as a percent with pctDecimals decimals, a whole
// number with grouped digits, or with digits significant digits.
func fmtNumber(v float64, percent bool, pctDecimals, digits int) string {
	if percent {
		return fmt.Sprintf("%.*f%%", pctDecimals, v*100)
	}
	if v == math.Trunc(v) {
		return groupDigits(int64(v))
	}
	return fmt.Sprintf("%.*g", digits, v)
}

// frame writes the SVG header, the y grid with its ticks and the axis titles.
func frame(b *strings.Builder, xLabel, yLabel string, yMax float64, percent bool) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" font-family="sans-serif" font-size="%d" role="img">`,
		chartW, chartH, chartW, chartH, fontSize)
	for i := 0; i <= 5; i++ {
		v := yMax * float64(i) / 5
		y := float64(marginT+plotH) - float64(plotH)*float64(i)/5
		fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`, marginL, y, marginL+plotW, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle" fill="%s">%s</text>`, marginL-6, y, labelColour, esc(fmtTick(v, percent)))
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`, marginL, marginT+plotH, marginL+plotW, marginT+plotH, axisColor)
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`, marginL, marginT, marginL, marginT+plotH, axisColor)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" fill="%s">%s</text>`, marginL+plotW/2, chartH-8, labelColour, esc(xLabel))
	fmt.Fprintf(b, `<text transform="translate(14 %d) rotate(-90)" text-anchor="middle" fill="%s">%s</text>`, marginT+plotH/2, labelColour, esc(yLabel))
}

// xLabels writes the category labels under the plot, thinned to at most
// maxXLabels so they do not overlap.
func xLabels(b *strings.Builder, cats []string) {
	step := (len(cats) + maxXLabels - 1) / maxXLabels
	slot := float64(plotW) / float64(max(len(cats), 1))
	for i := 0; i < len(cats); i += max(step, 1) {
		x := float64(marginL) + slot*(float64(i)+0.5)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" fill="%s">%s</text>`, x, marginT+plotH+16, labelColour, esc(cats[i]))
	}
}

func legend(b *strings.Builder, names []string, colours []string) {
	for i, n := range names {
		x := marginL + 8 + i*legendItemW
		fmt.Fprintf(b, `<rect x="%d" y="8" width="10" height="10" fill="%s"/><text x="%d" y="17" fill="%s">%s</text>`, x, colours[i], x+14, labelColour, esc(n))
	}
}

// svg renders the bar chart. Every bar is an element of class "mark" with
// its value as a tooltip; a zero bar is drawn too (with no height).
func (c barChart) svg() string {
	var b strings.Builder
	yMax := c.YMax
	if yMax == 0 {
		for _, s := range c.Series {
			for _, v := range s.Values {
				yMax = math.Max(yMax, v)
			}
		}
		yMax = niceMax(yMax)
	}
	frame(&b, c.XLabel, c.YLabel, yMax, c.Percent)
	slot := float64(plotW) / float64(max(len(c.Categories), 1))
	bw := slot * (1 - barGapShare) / float64(max(len(c.Series), 1))
	for si, s := range c.Series {
		colour := palette[si%len(palette)]
		for ci, v := range s.Values {
			h := float64(plotH) * math.Min(v/yMax, 1)
			x := float64(marginL) + slot*float64(ci) + slot*barGapShare/2 + bw*float64(si)
			y := float64(marginT+plotH) - h
			tip := ""
			if c.Notes != nil {
				tip = c.Notes(ci, si)
			} else {
				tip = fmt.Sprintf("%s: %s", c.Categories[ci], fmtValue(v, c.Percent))
			}
			if len(c.Series) > 1 {
				tip = s.Name + ", " + tip
			}
			fmt.Fprintf(&b, `<rect class="mark" x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s"><title>%s</title></rect>`, x, y, bw, h, colour, esc(tip))
		}
	}
	xLabels(&b, c.Categories)
	if len(c.Series) > 1 {
		names := make([]string, len(c.Series))
		colours := make([]string, len(c.Series))
		for i, s := range c.Series {
			names[i], colours[i] = s.Name, palette[i%len(palette)]
		}
		legend(&b, names, colours)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// svg renders the bands as polygons and the median as a polyline, all of
// class "mark"; the y axis is [0, 1].
func (c bandChart) svg() string {
	var b strings.Builder
	frame(&b, c.XLabel, c.YLabel, 1, false)
	slot := float64(plotW) / float64(max(len(c.Categories), 1))
	x := func(i int) float64 { return float64(marginL) + slot*(float64(i)+0.5) }
	y := func(v float64) float64 { return float64(marginT+plotH) - float64(plotH)*v }
	band := func(lo, hi []float64, fill string) {
		var pts []string
		for i := range hi {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(hi[i])))
		}
		for i := len(lo) - 1; i >= 0; i-- {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(lo[i])))
		}
		if len(hi) == 1 { // one position: a small box instead of a line
			pts = []string{
				fmt.Sprintf("%.1f,%.1f", x(0)-slot/4, y(hi[0])), fmt.Sprintf("%.1f,%.1f", x(0)+slot/4, y(hi[0])),
				fmt.Sprintf("%.1f,%.1f", x(0)+slot/4, y(lo[0])), fmt.Sprintf("%.1f,%.1f", x(0)-slot/4, y(lo[0])),
			}
		}
		fmt.Fprintf(&b, `<polygon class="mark" points="%s" fill="%s" stroke="%s" stroke-width="0.5"/>`, strings.Join(pts, " "), fill, fill)
	}
	band(c.P10, c.P90, bandOuter)
	band(c.P25, c.P75, bandInner)
	var pts []string
	for i, v := range c.P50 {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
	}
	fmt.Fprintf(&b, `<polyline class="mark" points="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.Join(pts, " "), medianColor)
	for i, v := range c.P50 {
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s: median %.3f, p25–p75 %.3f–%.3f, p10–p90 %.3f–%.3f, %s soft labels</title></circle>`,
			x(i), y(v), medianColor, esc(c.Categories[i]), v, c.P25[i], c.P75[i], c.P10[i], c.P90[i], groupDigits(c.Counts[i]))
	}
	xLabels(&b, c.Categories)
	legend(&b, []string{"p10–p90", "p25–p75", "median"}, []string{bandOuter, bandInner, medianColor})
	b.WriteString(`</svg>`)
	return b.String()
}

// groupDigits writes n with thousands separators: 1,000,000.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
