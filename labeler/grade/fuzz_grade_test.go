package grade

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shepherd-prm/shepherd/labeler"
)

// fuzzCallBound is the time one grader call may take in the fuzz targets. It
// is generous so that -race and a loaded machine do not make it flaky;
// typical calls take microseconds.
const fuzzCallBound = time.Second

// fuzzWatchdog turns a hang into a crash the fuzzer records: if the returned
// stop is not called within 10s, the process panics.
func fuzzWatchdog(what string, args ...string) (stop func() bool) {
	return time.AfterFunc(10*time.Second, func() {
		panic(fmt.Sprintf("%s hung on %q", what, args))
	}).Stop
}

var fuzzTexts = []string{
	"", "5", "The answer is: 18", "#### 1,000", "Janet sells 9 eggs.\nA: 18",
	`So $x = \boxed{\frac{1}{2}}$.`, `\boxed 5`, `\boxed{`, `\boxed{}`, `\fbox{\{1,2\}}`,
	"The final answer is $\\boxed{\\text{(C)}}$. I hope it is correct.",
	"Answer: 42.", "answer is $", "-3/4", "1,234.5 and -.5", "x = -3", "<<2*9=18>>18",
	"\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "A:", "####", "ки", "The answer is 3.5. Done",
	"### Final Answer\n\n**6**", "**Answer:** Verna received $7.00 in change.", "#### For \\(T = 3\\):\nso 7",
	"The range is \\(\\left[-1, 1\\right]\\). Done.", "Thus the circle is:\n\\[ x^2 + y^2 = 13 \\]",
	"$20 - $13 = $7", "2 * 9 = <<2*9=18>>18 per day", "So, x = 14 is not a solution.",
}

var fuzzAnswers = []string{
	"", "5", "12", "2", `90^\circ`, `864 \mbox{ inches}^2`, `15\mbox{ cm}^2`, `\frac12`, "0.5",
	"1,000", "(1,2]", "(1,2)", "1, 2", "x=1 or x=2", `\text{Evelyn}`, "2x+2", "2(x+1)",
	`2\frac{1}{2}`, "2 1/2", `50\%`, "5 dollars", `\$5`, "(A)", `\text{(B)}`, "1.5e6",
	`\sqrt[3]{8}`, `2\sqrt{3}`, `\pi`, `(-\infty, 0]`, `\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}`,
	`1 \pm \sqrt{19}`, `\{1\pm\sqrt{5},-2\}`, `5x - 7y + 11z + 4 = 0`, `x \in [-2,7]`, `(0,9) \cup (9,36)`,
	`\cot x`, "52_8", "6 - 5i", `\left(`, `\frac{`, "((((", "2^{2^{2^{2}}}", "99!", `\sqrt[0]{2}`,
	"1/0", "0/0", `\binom{5}{-1}`, `\log_{1} 2`, "$", "=", "x=", `\begin{pmatrix}`, `\{\}`, ",,", " or ",
	"|r-s| = 16", "x + y = 4027", `x \geq 3`, `-2 < x \le 5`, `(3, \infty)`, `\frac{d !}{2 k(d-k) !}`, "2^{2009} + 1",
	`\\frac{5}{9}`, `\15`, "<", `\le`, "x < y < z", `1 \\ 2`,
}

func FuzzExtractAnswer(f *testing.F) {
	for _, s := range fuzzTexts {
		f.Add(s)
	}
	for _, s := range fuzzAnswers {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		defer fuzzWatchdog("ExtractAnswer", text)()
		start := time.Now()
		a, ok := ExtractAnswer(text)
		if d := time.Since(start); d > fuzzCallBound {
			t.Fatalf("ExtractAnswer took %v", d)
		}
		if !ok {
			if a != "" {
				t.Fatalf("ok=false with answer %q", a)
			}
			return
		}
		if a == "" {
			t.Fatal("ok=true with an empty answer")
		}
		if !strings.Contains(text, a) {
			t.Fatalf("answer %q is not a substring of the text", a)
		}
		if labeler.CleanAnswer(a) != a {
			t.Fatalf("answer %q is not trimmed", a)
		}
		if b, ok2 := ExtractAnswer(text); b != a || ok2 != ok {
			t.Fatalf("not deterministic: %q then %q", a, b)
		}
	})
}

func FuzzEquivalent(f *testing.F) {
	for _, r := range equivRules {
		for _, c := range r.cases {
			f.Add(c.a, c.b)
		}
	}
	for i, s := range fuzzAnswers {
		f.Add(s, fuzzAnswers[(i+1)%len(fuzzAnswers)])
	}
	memo := New(Options{MemoSize: 4096})
	f.Fuzz(func(t *testing.T, a, b string) {
		defer fuzzWatchdog("equivalent", a, b)()
		start := time.Now()
		// answersEquivalent, not Equivalent: a panic must reach the fuzzer
		// instead of being recovered into "false".
		ab := answersEquivalent(a, b)
		if d := time.Since(start); d > fuzzCallBound {
			t.Fatalf("equivalent took %v", d)
		}
		if ba := answersEquivalent(b, a); ab != ba {
			t.Fatalf("not symmetric: equivalent(a, b) = %v, equivalent(b, a) = %v", ab, ba)
		}
		if aa := answersEquivalent(a, a); aa != (strings.TrimSpace(a) != "") {
			t.Fatalf("equivalent(a, a) = %v for %q", aa, a)
		}
		if m := memo.Equivalent(a, b); m != ab {
			t.Fatalf("memoised verdict %v differs from %v", m, ab)
		}
		if m := memo.Equivalent(a, b); m != ab {
			t.Fatalf("memo hit %v differs from %v", m, ab)
		}
	})
}

func FuzzGrade(f *testing.F) {
	for i, s := range fuzzTexts {
		f.Add(fuzzAnswers[i%len(fuzzAnswers)], s)
	}
	f.Add("18", "Janet sells 9 eggs.\nA: 18")
	f.Add(`\frac{1}{2}`, `So the answer is $\boxed{0.5}$.`)
	f.Add("-1, -9", `So $a = \boxed{-1}$ or $a = \boxed{-9}$.`)
	f.Add("(1, 2)", `$x = \boxed{1}$, $y = \boxed{2}$`)
	f.Add("34", "\\[14 + 20 = 34\\] So she spends 34 hours in 4 weeks.")
	f.Add("15", "If x = 14, then y = 15.\n\nSo x = 14 and y = 15 is not a solution.")
	g := New(Options{})
	f.Fuzz(func(t *testing.T, gold, response string) {
		defer fuzzWatchdog("Grade", gold, response)()
		start := time.Now()
		v := g.Grade(gold, response)
		if d := time.Since(start); d > fuzzCallBound {
			t.Fatalf("Grade took %v", d)
		}
		a, ok := ExtractAnswer(response)
		if v.Found != ok {
			t.Fatalf("Grade found %v, ExtractAnswer %v", v.Found, ok)
		}
		if v.Answer != a {
			// Only the boxes of a multi-part gold answer, read as one,
			// replace the extracted answer, and only to accept it.
			joined, multi := boxedParts(gold, response)
			if !multi || v.Answer != joined || !v.Correct {
				t.Fatalf("Grade answer %q (correct %v), ExtractAnswer %q, boxed parts %q (%v)", v.Answer, v.Correct, a, joined, multi)
			}
		}
		if !v.Found && v.Correct {
			t.Fatal("correct without an answer")
		}
		if v.Correct != answersEquivalent(gold, v.Answer) && v.Found {
			t.Fatalf("Grade says %v, equivalent says %v", v.Correct, !v.Correct)
		}
		if v.Found && !g.Grade(v.Answer, response).Correct {
			t.Fatalf("the extracted answer %q does not grade as correct against itself", v.Answer)
		}
	})
}
