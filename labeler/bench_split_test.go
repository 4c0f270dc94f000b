package labeler

import (
	"fmt"
	"strings"
	"testing"
)

// benchSolution is a ProcessBench-like solution: 12 paragraphs of LaTeX-laden
// prose joined with "\n\n" (about 3 KB).
func benchSolution(sep string) string {
	steps := make([]string, 12)
	for i := range steps {
		steps[i] = fmt.Sprintf("To find the value of \\(x_%d\\), we substitute \\(y = %d\\) into the equation "+
			"\\[ \\frac{x^2 - %d}{x + 1} = \\sqrt{%d} \\] and simplify both sides, which gives "+
			"\\(x = \\frac{%d}{%d}\\) after cancelling the common factor.", i, i+2, i*3, i+7, i+1, i+4)
	}
	return strings.Join(steps, sep)
}

func BenchmarkSplit(b *testing.B) {
	cases := []struct {
		name string
		text string
		mode SplitMode
	}{
		{"auto-paragraph", benchSolution("\n\n"), SplitAuto},
		{"paragraph", benchSolution("\n\n"), SplitParagraph},
		{"line", benchSolution("\n"), SplitLine},
		{"tag", benchSolution(" ки\n"), SplitTag},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.text)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Split(c.text, SplitOptions{Mode: c.mode}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
