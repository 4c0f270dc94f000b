package grade

import (
	"strings"
	"testing"
)

// equivCase is one pair of answers; every case is checked in both orders
// (Equivalent is symmetric) with and without the memo.
type equivCase struct {
	a, b string
	want bool
}

var equivRules = []struct {
	rule  string
	cases []equivCase
}{
	{"identity and blanks", []equivCase{
		{"5", "5", true}, {"anything at all", "anything at all", true},
		{"", "", false}, {" ", " ", false}, {"", "0", false}, {"$", "$$", false},
	}},
	{"substring trap", []equivCase{
		{"2", "12", false}, {"12", "2", false}, {"1", "10", false}, {"3.5", "3.55", false},
		{"x", "2x", false}, {`\sqrt{2}`, `2\sqrt{2}`, false}, {"(1,2)", "(1,2,3)", false},
	}},
	{"dollar and math delimiters", []equivCase{
		{"$5$", "5", true}, {`\$5`, "5", true}, {`\(5\)`, "5", true}, {`\[ \frac12 \]`, "0.5", true},
		{`\$18.90`, "18.9", true}, {`\$5`, "6", false},
	}},
	{"boxed", []equivCase{
		{`\boxed{5}`, "5", true}, {`\fbox{x+1}`, "1+x", true}, {`\boxed{5}`, "6", false},
	}},
	{"left right and sizing", []equivCase{
		{`\left( 3, \frac{\pi}{2} \right)`, `(3,\frac{\pi}{2})`, true},
		{`\left[ 1, 2 \right)`, "[1,2)", true}, {`\bigl(1,2\bigr)`, "(1,2)", true},
		{`\left( 3, 4 \right)`, "(3,5)", false},
	}},
	{"spacing commands", []equivCase{
		{`3\,\sqrt{2}`, `3\sqrt2`, true}, {`x\;+\;1`, "x+1", true}, {`10\!`, "10", true},
		{`2\quad 3`, "2, 3", false}, {`1,\quad 2`, "2,1", true}, {"5~cm", "5", true}, {`5\ \text{cm}`, "5", true},
		{`3\,\sqrt{2}`, `2\sqrt3`, false},
	}},
	{"dfrac and tfrac", []equivCase{
		{`\dfrac{17}{50}`, `\frac{17}{50}`, true}, {`\tfrac{1}{3}`, "1/3", true}, {`\dfrac{33}{100}`, "0.33", true},
		{`\dfrac{17}{50}`, `\frac{17}{51}`, false},
	}},
	{"fractions", []equivCase{
		{`\frac12`, "0.5", true}, {`\frac12`, "1/2", true}, {`\frac 34`, "0.75", true}, {`\frac ab`, "a/b", true},
		{`\frac{14}{3}`, "14/3", true}, {`\frac9{19}`, "9/19", true}, {`\frac{270}7`, "270/7", true},
		{`\frac43`, `\frac{4}{3}`, true}, {"6/8", "3/4", true},
		{`\frac12`, "0.51", false}, {`\frac12`, "12", false}, {`\frac43`, `\frac34`, false}, {`\frac{1}{3}`, "0.33", false},
	}},
	{"mixed numbers", []equivCase{
		{`2\frac{1}{2}`, "2.5", true}, {`2\frac12`, "5/2", true}, {"2 1/2", "2.5", true}, {`137 \frac{1}{2}`, "137.5", true},
		{`1\frac{4}{5}`, `\frac95`, true}, {`-2\frac{1}{2}`, "-2.5", true},
		{`2\frac{1}{2}`, "1", false}, {"2 1/2", "1", false}, {`2\frac{x}{2}`, "2+x/2", false},
	}},
	{"decimals and trailing zeros", []equivCase{
		{"2.50", "2.5", true}, {"18.00", "18", true}, {".35625", "0.35625", true}, {"0.15", `\frac{3}{20}`, true},
		{"2.50", "2.05", false}, {"18.01", "18", false},
	}},
	{"thousands separators", []equivCase{
		{"1,000", "1000", true}, {`10,\!080`, "10080", true}, {`11,\! 111,\! 111,\! 100`, "11111111100", true},
		{`\$32,\!348`, "32348", true}, {"58,500", "58500", true}, {"1,234,567.5", "1234567.5", true},
		{"115{,}000", "115000", true},
		{"1,000", "1", false}, {"(1,2)", "12", false}, {"(1,000)", "1000", false}, {"1,2", "12", false},
	}},
	{"integers compare exactly", []equivCase{
		{"1000000", "1000000.0", true}, {"007", "7", true},
		{"1000000", "1000001", false}, {"123456789", "123456788", false},
	}},
	{"numeric tolerance", []equivCase{
		{`\pi`, "3.14159265358979", true}, {`\frac{1}{3}`, "0.3333333", true}, {`\sqrt{2}`, "1.41421356", true},
		{`\pi`, "3.14", false}, {`\frac{1}{3}`, "0.333", false}, {".0000672", "0.0000673", false},
		{`\frac{4036082}{4036081}`, "1", false}, {"0.1250001", `\frac18`, false}, {"1.0000001", "1", false},
		{`\frac{2}{3}`, "0.6666667", true}, {`\frac{2}{3}`, "0.6666666", true}, {`\frac{2}{3}`, "0.67", false},
	}},
	{"scientific notation", []equivCase{
		{"1.5e6", "1500000", true}, {`1.5 \times 10^{6}`, "1500000", true}, {"2E-3", "0.002", true}, {`6.72 \cdot 10^{-5}`, ".0000672", true},
		{"1.5e6", "150000", false}, {`1.5 \times 10^{5}`, "1500000", false},
	}},
	{"roots powers and constants", []equivCase{
		{`2\sqrt{3}`, `\sqrt{12}`, true}, {`\sqrt[3]{8}`, "2", true}, {`\sqrt[3]{-27}`, "-3", true}, {`11\sqrt2`, `11\sqrt{2}`, true},
		{`3\sqrt{13}`, `\sqrt{117}`, true}, {`\frac{3\sqrt{3}}{4}`, `0.75\sqrt3`, true}, {"2^{10}", "1024", true}, {"2^10", "1024", true},
		{"2^{1000}", `2^{500} \cdot 2^{500}`, true},
		{`\frac{\sqrt{3}}{3}`, `\frac{1}{\sqrt3}`, true}, {`288 \pi`, `288\pi`, true}, {`18+2\pi`, `2\pi+18`, true},
		{`2 \cdot 3`, "6", true}, {`2 \times 3`, "6", true}, {"2*3", "6", true}, {"5!", "120", true}, {`\binom{5}{2}`, "10", true},
		{`\frac{\pi}{2}`, "1.5707963268", true}, {"4^{1/2}", "2", true}, {`\sqrt{2}^2`, "2", true},
		{"0", `\frac{1}{2004!}`, false}, {"2^{2005}", "3^{2007}", false}, {"2^{-5000}", "0", false}, {"x^{5000}", "x^{6000}", false},
		{`\frac{1}{2004!}`, `\frac{1}{2003!}`, false}, {"e^{1000}", "e^{1001}", false}, {"1.5^{3000}", `\infty`, false},
		{`2\sqrt{3}`, `3\sqrt{2}`, false}, {`\sqrt[3]{8}`, `\sqrt{8}`, false}, {`7\pi`, "7", false}, {"2^{10}", "20", false},
	}},
	{"implicit multiplication", []equivCase{
		{`2\sqrt{3}`, `2 \cdot \sqrt{3}`, true}, {"2(x+1)", "2x+2", true}, {`\pi r^2`, `r^2\pi`, true}, {"3R^2", "3 R^{2}", true},
		{"2 3", "6", false}, {"2(x+1)", "2x+1", false},
	}},
	{"degrees", []equivCase{
		{`90^\circ`, "90", true}, {`90^{\circ}`, "90", true}, {"90°", "90", true}, {"90 degrees", "90", true}, {`\frac{270}7\text{ degrees}`, `\frac{270}{7}`, true},
		{`90^\circ`, "91", false}, {`145^\circ`, `45^\circ`, false},
	}},
	{"percent", []equivCase{
		{`50\%`, "50", true}, {"50%", "50", true}, {`50\%`, "0.5", true}, {"12.5%", `\frac18`, true}, {`50\%`, "50%", true},
		{`50\%`, "5", false}, {`50\%`, "0.05", false}, {"50", "0.5", false}, {"50%", "0.5%", false},
	}},
	{"units", []equivCase{
		{`864 \mbox{ inches}^2`, "864", true}, {`15\mbox{ cm}^2`, "15", true}, {"5 dollars", "5", true}, {`5.4 \text{ cents}`, "5.4", true},
		{"12 inches", "12", true}, {`10\text{ m/s}`, "10", true}, {"3 square feet", "3", true}, {"7 sq. ft", "7", true}, {"12inches", "12", true},
		{`864 \mbox{ inches}^2`, "864^2", false}, {`15\mbox{ cm}^2`, "225", false}, {"5 dollars", "6", false}, {"2xy", "2", false},
		{"5cm", "5", false}, {`\text{5 apples}`, "6", false}, {`\text{5 apples}`, "5", true},
	}},
	{"variable prefixes", []equivCase{
		{"x = 5", "5", true}, {"x=5", "5", true}, {"y = 2x + 3", "2x+3", true}, {`x \in [-2,7]`, "[-2,7]", true},
		{`\theta = \frac{\pi}{2}`, `\frac{\pi}{2}`, true}, {"f(x) = x^2", "x^2", true}, {"k = 3", "x=3", true},
		{"x = 5", "6", false}, {"x = 5", "x = -5", false}, {`x \in [-2,7]`, "(-2,7)", false},
	}},
	{"answer choices", []equivCase{
		{"(A)", "A", true}, {`\text{(B)}`, "B", true}, {`\textbf{(C)}`, "(C)", true}, {`\text{(E)}`, "(E) 12", true}, {`(D)`, `\mathrm{(D)}`, true},
		{"(A)", "B", false}, {`\text{(B)}`, "(C)", false}, {"(C)", "c", false}, {`\text{(E)}`, "(D) 12", false},
	}},
	{"tuples and intervals", []equivCase{
		{"(1,2)", "(1, 2)", true}, {"(6,31,-1)", "(6, 31, -1)", true}, {"(3,4]", `\left(3, 4\right]`, true},
		{`(2,\infty)`, `(2, \infty)`, true}, {`(-\infty, 0]`, `(-\infty,0]`, true}, {"(15,-29)", `\left(15, -29\right)`, true},
		{`\left[ \frac{\pi^2}{8}, \frac{5 \pi^2}{4} \right]`, `[\pi^2/8, 1.25\pi^2]`, true}, {"(-1,6)", "(-1.0, 6)", true},
		{"(1,2]", "(1,2)", false}, {"[1,2)", "(1,2)", false}, {"(1,2)", "(2,1)", false}, {"(1,2)", "1,2", false},
		{`(2,\infty)`, `[2,\infty)`, false}, {`(-\infty, 0]`, `(\infty, 0]`, false}, {"(1,2)", "(1,2,3)", false},
	}},
	{"unions", []equivCase{
		{`(0,9) \cup (9,36)`, `(9,36) \cup (0,9)`, true}, {`(-\infty, 2) \cup (3, \infty)`, `(-\infty,2)\cup(3,\infty)`, true},
		{`(0,9) \cup (9,36)`, `(0,9]\cup(9,36)`, false}, {`(0,9) \cup (9,36)`, "(0,36)", false},
	}},
	{"unordered lists and sets", []equivCase{
		{"1, 2", "2, 1", true}, {"1,-2", "-2, 1", true}, {"3, 5, 7", "7,5,3", true}, {"x=1 or x=2", "2, 1", true},
		{"x = 1 and x = 2", "x=2, x=1", true}, {`x=1 \text{ or } x=2`, "1,2", true}, {`\{1,2\}`, "2,1", true},
		{`\{1\pm\sqrt{5},-2\}`, `-2, 1+\sqrt5, 1-\sqrt 5`, true}, {"1, 1, 2", "1, 2, 1", true},
		{"1, 2", "1, 3", false}, {"1, 2", "1, 2, 3", false}, {"1, 1, 2", "1, 2, 2", false}, {"1, 2", "1", false},
		{"x=1, y=2", "x=2, y=1", false}, {"x=1, y=2", "y=2, x=1", true},
	}},
	{"plus minus", []equivCase{
		{`1 \pm \sqrt{19}`, `1+\sqrt{19}, 1-\sqrt{19}`, true}, {`3 \pm 2 \sqrt{2}`, `3-2\sqrt2, 3+2\sqrt2`, true}, {`\pm 2`, "2, -2", true},
		{`1 \pm \sqrt{19}`, `1+\sqrt{19}`, false}, {`\pm 2`, "2", false},
	}},
	{"infinity", []equivCase{
		{`\infty`, "∞", true}, {`-\infty`, `-\infty`, true},
		{`\infty`, `-\infty`, false}, {`\infty`, "1000000000", false},
	}},
	{"matrices", []equivCase{
		{`\begin{pmatrix} -1/3 \\ 2/3 \\ 5/3 \end{pmatrix}`, `\begin{pmatrix} -\frac{1}{3} \\ \frac23 \\ \frac{5}{3} \end{pmatrix}`, true},
		{`\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix}`, `\begin{bmatrix} -1 & 0 \\ 0 & -1 \end{bmatrix}`, true},
		{`\begin{pmatrix} 1/5 \\ -18/5 \end{pmatrix}`, `\begin{pmatrix} 0.2 \\ -3.6 \\ \end{pmatrix}`, true},
		{`\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix}`, `\begin{pmatrix} 0 & -1 \\ -1 & 0 \end{pmatrix}`, false},
		{`\begin{pmatrix} 1 \\ 2 \end{pmatrix}`, `\begin{pmatrix} 1 & 2 \end{pmatrix}`, false},
		{`\begin{pmatrix} 1 \\ 2 \end{pmatrix}`, `\begin{pmatrix} 2 \\ 1 \end{pmatrix}`, false},
	}},
	{"plain text", []equivCase{
		{`\text{Evelyn}`, "Evelyn", true}, {`\text{Evelyn}`, "evelyn", true}, {`\text{east}`, "East.", true}, {`\text{ellipse}`, "ellipse", true},
		{`\text{even}`, `\textbf{Even}`, true}, {"52_8", "52_{8}", true}, {"4210_{5}", "4210_5", true}, {"Navin", `\text{ Navin }`, true},
		{`\text{Evelyn}`, "Navin", false}, {"east", "seat", false}, {"even", "odd", false}, {"52_8", "52", false}, {"52_8", "52_9", false},
	}},
	{"algebraic expressions", []equivCase{
		{"2x+2", "2(x+1)", true}, {"(a+5)(b+2)", "(b+2)(a+5)", true}, {"x^5 - x^4 + x^3 - x^2 + x - 1", "(x-1)(x^4+x^2+1)", true},
		{"p - q", "-q+p", true}, {`\frac{11+9a}{20}`, "0.55 + 0.45a", true}, {"6 - 5i", "-5i+6", true}, {`\cot x`, `\frac{\cos x}{\sin x}`, true},
		{"2k+2", "2(k+1)", true}, {"8n^2 + 4n + 1", "4n(2n+1)+1", true}, {`x_1 + x_2`, `x_2+x_1`, true}, {`\sin^2 x + \cos^2 x`, "1", true},
		{"2x+2", "2x+1", false}, {"p - q", "q - p", false}, {"3R^2", "3r^2", false}, {"x^2", "x^3", false}, {"2k", "2j", false},
		{`\cot x`, `\tan x`, false}, {"6 - 5i", "6+5i", false}, {"x", "y", false},
	}},
	{"value chains", []equivCase{
		{`\frac{28}{4}=7`, "7", true}, {"(b,c)=(6,5)", "(6,5)", true}, {"x = 2 + 3 = 5", "5", true}, {`\frac{3}{16} = 0.0011_2`, "0.0011_{2}", true},
		{`\frac{28}{4}=7`, "8", false}, {"(b,c)=(6,5)", "(5,6)", false}, {"x + y = 3 = 4", "3", false}, {"a = b = 5", "4", false},
	}},
	{"markdown emphasis", []equivCase{
		{"**12**", "12", true}, {"*x+1*", "1+x", true}, {"**12**", "13", false},
	}},
	{"equations", []equivCase{
		{"5x - 7y + 11z + 4 = 0", "-10x + 14y - 22z - 8 = 0", true}, {"y = -2x", "-2x", true}, {"x + y = 1", "y + x = 1", true},
		{"2x + 4 = 0", "x = -2", false}, {"5x - 7y + 11z + 4 = 0", "5x - 7y + 11z - 4 = 0", false}, {"x + y = 1", "x - y = 1", false},
	}},
	{"unicode", []equivCase{
		{"−5", "-5", true}, {"3×4", "12", true}, {"2π", `2\pi`, true}, {"√2", `\sqrt2`, true}, {"−5", "5", false},
	}},
}

func TestEquivalentRules(t *testing.T) {
	memo := New(Options{})
	plain := New(Options{MemoSize: -1})
	for _, r := range equivRules {
		t.Run(r.rule, func(t *testing.T) {
			var eq, ne int
			for _, c := range r.cases {
				if c.want {
					eq++
				} else {
					ne++
				}
				for _, g := range []*Grader{plain, memo, memo} {
					if got := g.Equivalent(c.a, c.b); got != c.want {
						t.Errorf("Equivalent(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
					}
					if got := g.Equivalent(c.b, c.a); got != c.want {
						t.Errorf("Equivalent(%q, %q) = %v, want %v (reversed)", c.b, c.a, got, c.want)
					}
				}
			}
			if eq == 0 && r.rule != "substring trap" || ne == 0 {
				t.Errorf("rule %q needs both equal and unequal cases (%d, %d)", r.rule, eq, ne)
			}
		})
	}
}

func TestGrade(t *testing.T) {
	g := New(Options{})
	tests := []struct {
		gold, response string
		want           Verdict
	}{
		{"18", "Janet sells 9 eggs.\nA: 18", Verdict{Answer: "18", Found: true, Correct: true}},
		{"18", "Janet sells 9 eggs.\nA: 19", Verdict{Answer: "19", Found: true, Correct: false}},
		{`\frac{1}{2}`, `So the answer is $\boxed{0.5}$.`, Verdict{Answer: "0.5", Found: true, Correct: true}},
		{"12", "The answer is: 2", Verdict{Answer: "2", Found: true, Correct: false}},
		{"5", "I cannot tell.", Verdict{}},
		{"", "A: 5", Verdict{Answer: "5", Found: true, Correct: false}},
	}
	for _, tc := range tests {
		if got := g.Grade(tc.gold, tc.response); got != tc.want {
			t.Errorf("Grade(%q, %q) = %+v, want %+v", tc.gold, tc.response, got, tc.want)
		}
	}
	if g.Version() != Version || !strings.HasPrefix(Version, "shepherd-grader/") {
		t.Errorf("Version() = %q", g.Version())
	}
}

// TestEquivalentBounded: oversized or deeply nested input is refused by
// the evaluator and compared as text, quickly.
func TestEquivalentBounded(t *testing.T) {
	g := New(Options{MemoSize: -1})
	deep := strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000)
	long := strings.Repeat("1+", 3000) + "1"
	tests := []equivCase{
		{deep, "1", false}, {deep, deep, true}, {long, "3001", false}, {long, long, true},
		{strings.Repeat("(", 30) + "1" + strings.Repeat(")", 30), "1", true},
		{strings.Repeat(`\sqrt{`, 100) + "1" + strings.Repeat("}", 100), "1", false},
		{"2^{2^{2^{2^{2^{2}}}}}", "4", false}, {"10^{100000}", "1", false}, {"99999!", "1", false},
		{strings.Repeat("1,", 200) + "1", strings.Repeat("1,", 200) + "2", false},
		{strings.Repeat(`\pm 1`, 10), "1", false},
	}
	for _, c := range tests {
		if got := g.Equivalent(c.a, c.b); got != c.want {
			t.Errorf("Equivalent(%.40q..., %.40q...) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestMemoBounded(t *testing.T) {
	g := New(Options{MemoSize: 1000})
	for i := 0; i < 20000; i++ {
		a := strings.Repeat("1", i%50+1)
		g.Equivalent(a, a+"0")
		g.Equivalent(a+"x", a+"y")
	}
	if n := g.memo.len(); n > 1000 {
		t.Errorf("memo holds %d entries, bound is 1000", n)
	}
	if New(Options{MemoSize: -1}).memo != nil {
		t.Error("negative MemoSize must disable the memo")
	}
	if New(Options{}).memo == nil {
		t.Error("zero MemoSize must give the default memo")
	}
	// A long pair is not memoised.
	long := strings.Repeat("9", memoMaxKey)
	g.Equivalent(long, long+"9")
	if _, ok := g.memo.get(long, long+"9"); ok {
		t.Error("an over-long key was memoised")
	}
}

func TestGraderConcurrent(t *testing.T) {
	g := New(Options{MemoSize: 256})
	done := make(chan bool)
	for w := 0; w < 8; w++ {
		go func(w int) {
			ok := true
			for i := 0; i < 100; i++ {
				for _, r := range equivRules {
					c := r.cases[(i+w)%len(r.cases)]
					if g.Equivalent(c.a, c.b) != c.want {
						ok = false
					}
				}
			}
			done <- ok
		}(w)
	}
	for w := 0; w < 8; w++ {
		if !<-done {
			t.Error("a concurrent verdict differed from the table")
		}
	}
}
