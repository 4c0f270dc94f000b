package grade

import (
	"strings"
	"testing"
	"time"
)

// The failure classes found by grading real model outputs (ProcessBench),
// one case per variant: grading that prefers a stated final answer (its
// extraction cases are in TestExtractAnswer) and equivalence rules added in
// shepherd-grader/2.

// TestGradeStatedAnswers grades whole responses of the failure classes.
func TestGradeStatedAnswers(t *testing.T) {
	g := New(Options{MemoSize: -1})
	tests := []struct {
		gold, response string
		want           bool
	}{
		{"15", `Therefore, Annika has $15 left. The final answer is: \boxed{\15}`, true},
		{`\sqrt{3}`, "We cannot simplify it, so we leave it as √3.", true},
		{`\sqrt{12}`, "The side is then 2√3 cm long.", true},
		{`\\frac{5}{9}`, `So the probability is $\boxed{\frac{5}{9}}$.`, true},
		{"7", "Change = $20.00 - $13.00 = $7.00\n\n**Answer:** Verna received $7.00 in change.", true},
		{"34", "\\[14 \\text{ hours} + 20 \\text{ hours} = 34 \\text{ hours}\\] So, she spends a total of 34 hours in 4 weeks.", true},
		{"15", "If we let x = 14, then y = 15.\n\nSo, x = 14 and y = 15 is not a solution.", false},
		{"x^2 + y^2 = 13", "Thus, the equation of the circle is:\n\\[ x^2 + y^2 = 13 \\]", true},
		{"4027", `Therefore, **Final Answer:** \(x + y = 4027\).`, true},
		{`\frac{d!}{2(d-k)!k}`, `The count is $\boxed{\frac{d !}{2 k(d-k) !}}$.`, true},
		{"2^{2009} + 1", `so $n = \boxed{2^{2009}+1}$`, true},
		{`[3, \infty)`, `The solution set is $x \geq 3$. Final answer: $x \ge 3$`, true},
		{"6", "Total: 2 * 3 = 6.\n\n### Final Answer\n\n**6**", true},
		{"7", "#### For \\(T = 3\\):\nWe get 3 + 4 = 7.", true},
	}
	for _, tc := range tests {
		if v := g.Grade(tc.gold, tc.response); v.Correct != tc.want {
			t.Errorf("Grade(%q, %q) = %+v, want correct %v", tc.gold, tc.response, v, tc.want)
		}
	}
}

func TestGradeMultipleBoxes(t *testing.T) {
	g := New(Options{MemoSize: -1})
	tests := []struct {
		gold, response string
		want           bool
	}{
		{"-1, -9", `So $a = \boxed{-1}$ or $a = \boxed{-9}$.`, true},
		{"-9, -1", `First root \boxed{-1}, second root \boxed{-9}.`, true},
		{"-1, -9", `First root \boxed{-1}, second root \boxed{-8}.`, false},
		// A single-part gold still takes only the last box.
		{"3", `We had \boxed{2} before, now \boxed{3}.`, true},
		{"2", `We had \boxed{2} before, now \boxed{3}.`, false},
		// Boxes of intermediate results long before the end do not join.
		{"1, 2", `\boxed{1}` + strings.Repeat(" more work", 200) + ` and then \boxed{2}`, false},
		// An ordered pair is matched in order only.
		{"(1, 2)", `$x = \boxed{1}$ and $y = \boxed{2}$`, true},
		{"(1, 2)", `$y = \boxed{2}$ and $x = \boxed{1}$`, false},
	}
	for _, tc := range tests {
		if v := g.Grade(tc.gold, tc.response); v.Correct != tc.want {
			t.Errorf("Grade(%q, %q) = %+v, want correct %v", tc.gold, tc.response, v, tc.want)
		}
	}
}

var equivRulesV2 = []struct {
	rule  string
	cases []equivCase
}{
	{"equation with an expression on the left", []equivCase{
		{"|r-s| = 16", "16", true}, {"x + y = 4027", "4027", true}, {`\sin\theta = \frac{1}{2}`, `\frac12`, true},
		{"|r-s| = 16", "15", false}, {"x + y = 4027", "x+y=4028", false},
		{"x^2 + y^2 = 13", "x^2+y^2=13", true}, {"x^2 + y^2 = 13", "x^2+y^2=14", false},
		{"2x + 2y = 8054", "x+y=4027", true}, {"x - 5 = 0", "0", false},
	}},
	{"inequality and interval", []equivCase{
		{"x > 3", `(3, \infty)`, true}, {`x \geq 3`, `[3, \infty)`, true}, {"x < -2", `(-\infty, -2)`, true},
		{`-2 < x \le 5`, "(-2, 5]", true}, {`x \ge 3`, `(3, \infty)`, false}, {"x > 3", `(4, \infty)`, false},
		{"3 < x", `(3,\infty)`, true}, {`x \leq 5`, `x \le 5`, true}, {"x > 3", "x < 3", false},
	}},
	{"factorial", []equivCase{
		{`\frac{d!}{2(d-k)!k}`, `\frac{d !}{2 k(d-k) !}`, true}, {"5!", "120", true}, {"(n+1)!", "(n+1)n!", true},
		{`\frac{d!}{2(d-k)!k}`, `\frac{d!}{(d-k)!k}`, false},
	}},
	{"exact big integers", []equivCase{
		{"2^{2009} + 1", "2^{2009}+1", true}, {"2^{2009} + 1", "2^{2009}+2", false},
		{"2^{20} + 3^{20}", "3^{20}+2^{20}", true}, {"2^{1000}", "2^{1000}+1", false},
	}},
	{"doubled backslash", []equivCase{
		{`\\frac{5}{9}`, `\frac{5}{9}`, true}, {`\\frac{5}{9}`, "5/9", true}, {`\\frac{5}{9}`, `\frac{5}{8}`, false},
	}},
	{"escaped digits", []equivCase{
		{`\15`, "15", true}, {`\15`, "16", false},
	}},
	{"ordered answers are not unordered lists", []equivCase{
		{"(1, 2)", "2, 1", false}, {"(1, 2)", "(2, 1)", false}, {"1, 2", "2, 1", true},
	}},
}

func TestEquivalentV2(t *testing.T) {
	for _, r := range equivRulesV2 {
		for _, g := range []*Grader{New(Options{}), New(Options{MemoSize: -1})} {
			for _, c := range r.cases {
				for _, p := range [][2]string{{c.a, c.b}, {c.b, c.a}} {
					if got := g.Equivalent(p[0], p[1]); got != c.want {
						t.Errorf("%s: Equivalent(%q, %q) = %v, want %v", r.rule, p[0], p[1], got, c.want)
					}
				}
			}
		}
	}
}

// TestExtractAnswerAdversarialLong bounds the sentence reading on long
// inputs made of many formulas and "is" words.
func TestExtractAnswerAdversarialLong(t *testing.T) {
	for _, text := range []string{
		"Answer: The value " + strings.Repeat("$is$ ", 400000),
		strings.Repeat("$x$ is ", 400000) + "so it is",
		strings.Repeat("The value is $1$. ", 200000),
		"**Answer:** " + strings.Repeat("x is not ", 300000),
	} {
		start := time.Now()
		ExtractAnswer(text)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("ExtractAnswer of %d bytes took %v", len(text), d)
		}
	}
}
