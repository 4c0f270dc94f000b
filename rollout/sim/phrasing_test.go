package sim

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/rollout/openai"
)

// canonical rewrites every step line of text as its bare equation
// (phrasing 0, no label), leaving other lines as they are.
func canonical(text string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if p := parseLine(l); p.kind == 's' {
			lines[i] = formatStep(0, p.a, p.op, p.b, p.c)
		}
	}
	return strings.Join(lines, "\n")
}

// phrasingOf returns the phrasing a step line is written in, -1 for a line
// that is not a step in one of the phrasings.
func phrasingOf(l string) int {
	if parseLine(l).kind != 's' {
		return -1
	}
	for k := MaxPhrasings - 1; k > 0; k-- {
		if strings.HasPrefix(l, leadIns[k]) {
			return k
		}
	}
	if l != "" && (l[0] == '-' || l[0] >= '0' && l[0] <= '9') {
		return 0
	}
	return -1
}

// within reports whether count is within 4 binomial standard deviations of
// n trials with probability p.
func within(count, n int, p float64) bool {
	return math.Abs(float64(count)-float64(n)*p) <= 4*math.Sqrt(float64(n)*p*(1-p))+1e-9
}

func TestSimEveryPhrasingParses(t *testing.T) {
	seen := map[string]bool{}
	for k, l := range leadIns {
		if seen[l] || strings.ContainsAny(l, "0123456789=") || (l != "" && !strings.HasSuffix(l, " ")) {
			t.Fatalf("lead-in %d %q: duplicate, or has a digit or '=', or does not end in a blank", k, l)
		}
		seen[l] = true
	}
	for k := range MaxPhrasings {
		for _, want := range []line{
			{kind: 's', a: 16, op: opSub, b: 3, c: 13},
			{kind: 's', a: -5, op: opAdd, b: 3, c: -2},
			{kind: 's', a: 4, op: opMul, b: -2, c: -8},
		} {
			l := formatStep(k, want.a, want.op, want.b, want.c)
			for _, text := range []string{l, "Step 3: " + l, "  " + l + "  "} {
				if got := parseLine(text); got != want {
					t.Errorf("phrasing %d: parseLine(%q) = %+v, want %+v", k, text, got, want)
				}
			}
			if got := phrasingOf(l); got != k {
				t.Errorf("phrasingOf(%q) = %d, want %d", l, got, k)
			}
		}
		// A whole solution in phrasing k, correct and with an error.
		ok := strings.Join([]string{formatStep(k, 16, opSub, 3, 13), formatStep(k, 13, opAdd, 7, 20), formatStep(k, 20, opMul, 3, 60), "The answer is 60."}, "\n")
		bad := strings.Join([]string{formatStep(k, 16, opSub, 3, 13), formatStep(k, 13, opAdd, 8, 21), formatStep(k, 21, opMul, 3, 63), "The answer is 63."}, "\n")
		for sol, want := range map[string]int{ok: -1, bad: 1} {
			if got, err := FirstError(q16, sol); err != nil || got != want {
				t.Errorf("phrasing %d: FirstError(%q) = %d, %v; want %d", k, sol, got, err, want)
			}
		}
	}
	// The parser takes any digit-free lead-in; lines without an equation at
	// the end, or with digits before it, stay junk.
	for text, step := range map[string]bool{
		"16 - 3 = 13.\nNext, 13 + 7 = 20.\nWe compute 20 * 3 = 60.\nThe answer is 60.": true,
		"Let me see. 16 - 3 = 13.":         true,
		"- 16 - 3 = 13.":                   true,
		"Step 1: Then: 16 - 3 = 13.":       true,
		"Let me think.":                    false,
		"We compute 16 - 3.":               false,
		"Step 1 16 - 3 = 13.":              false,
		"So we get 16 - 3 = 13 and so on.": false,
	} {
		first, _ := FirstError(q16, text)
		if (first < 0) != step {
			t.Errorf("%q: FirstError = %d; want it to parse as correct steps: %v", text, first, step)
		}
	}
}

// FirstError and SuccessProbability read equations only: the same dataset
// seed gives the same questions and errors whatever the number of
// phrasings, and the same truth at every prefix.
func TestSimPhrasingDoesNotChangeTruth(t *testing.T) {
	opt := DatasetOptions{Seed: 7, Problems: 100, SolutionsPerProblem: 4, MinOps: 1, MaxOps: 7, ErrorRate: 0.5}
	gen := func(k int) []Problem { o := opt; o.Phrasings = k; return GenerateDataset(o) }
	one, many := gen(1), gen(MaxPhrasings)
	counts := make([]int, MaxPhrasings)
	differ, total := 0, 0
	for i, p := range many {
		if p.Question != one[i].Question || p.Answer != one[i].Answer {
			t.Fatalf("%s: the question depends on the number of phrasings", p.ID)
		}
		for j, s := range p.Solutions {
			plain := one[i].Solutions[j]
			if s.FirstError != plain.FirstError || canonical(s.Text) != plain.Text || canonical(plain.Text) != plain.Text {
				t.Fatalf("%s: %d phrasings %q (error %d), one phrasing %q (error %d)", s.ID, MaxPhrasings, s.Text, s.FirstError, plain.Text, plain.FirstError)
			}
			total++
			if s.Text != plain.Text {
				differ++
			}
			if got, err := FirstError(p.Question, s.Text); err != nil || got != s.FirstError {
				t.Fatalf("%s: FirstError = %d, %v; injected %d", s.ID, got, err, s.FirstError)
			}
			lines, plainLines := strings.SplitAfter(s.Text, "\n"), strings.SplitAfter(plain.Text, "\n")
			for cut := range len(lines) + 1 {
				a, err1 := SuccessProbability(p.Question, strings.Join(lines[:cut], ""), 0.8)
				b, err2 := SuccessProbability(p.Question, strings.Join(plainLines[:cut], ""), 0.8)
				if err1 != nil || err2 != nil || a != b {
					t.Fatalf("%s after %d lines: SuccessProbability %v (%v) with phrasings, %v (%v) without", s.ID, cut, a, err1, b, err2)
				}
			}
			for _, l := range lines[:len(lines)-1] {
				counts[phrasingOf(strings.TrimSuffix(l, "\n"))]++
			}
		}
	}
	for k, n := range counts {
		if n == 0 {
			t.Errorf("phrasing %d never used in the dataset: %v", k, counts)
		}
	}
	if differ < total*85/100 {
		t.Errorf("only %d of %d solutions differ from their single-phrasing text", differ, total)
	}

	// Correct solutions of one problem are identical with one phrasing and
	// mostly distinct with the default four.
	identical := func(ps []Problem) (same, pairs int) {
		for _, p := range ps {
			for i := range p.Solutions {
				for j := range i {
					pairs++
					if p.Solutions[i].Text == p.Solutions[j].Text {
						same++
					}
				}
			}
		}
		return same, pairs
	}
	opt = DatasetOptions{Seed: 2, Problems: 100, SolutionsPerProblem: 4, MinOps: 3, MaxOps: 6}
	if same, pairs := identical(GenerateDataset(opt)); same > pairs/10 {
		t.Errorf("default phrasings: %d of %d pairs of correct solutions of a problem are identical", same, pairs)
	}
	opt.Phrasings = 1
	if same, pairs := identical(GenerateDataset(opt)); same != pairs {
		t.Errorf("one phrasing: %d of %d pairs of correct solutions identical, want all", same, pairs)
	}

	// A seeded sample's equations do not depend on the number of phrasings.
	req := openai.CompletionRequest{Prompt: prompt16(""), Sampling: openai.Sampling{N: 64, Seed: seed(8)}}
	r1 := complete(t, New(Options{StepAccuracy: 0.5, Phrasings: 1}), req)
	rk := complete(t, New(Options{StepAccuracy: 0.5, Phrasings: MaxPhrasings}), req)
	for i := range r1.Choices {
		a, b := r1.Choices[i].Text, rk.Choices[i].Text
		if canonical(a) != a || canonical(b) != a {
			t.Fatalf("sample %d: %q with one phrasing, %q with %d", i, a, b, MaxPhrasings)
		}
	}
}

// Over many samples from one error-free prefix each phrasing takes 1/K of
// the step lines, the success rate is still q^r, and the first generated
// line equals a given correct line with probability q/K.
func TestSimPhrasingShares(t *testing.T) {
	const q, reqs, n = 0.8, 40, 128
	const prefix = "We compute 16 - 3 = 13.\n" // error-free, r = 2
	if p, _ := SuccessProbability(q16, prefix, q); math.Abs(p-q*q) > 1e-12 {
		t.Fatalf("SuccessProbability = %v, want %v", p, q*q)
	}
	for _, k := range []int{1, 4, MaxPhrasings} {
		s := New(Options{StepAccuracy: q, Phrasings: k})
		phr := make([]int, MaxPhrasings)   // step lines by phrasing
		first := make([]int, MaxPhrasings) // first lines equal to the correct step in phrasing j
		wrongFirst := make([]int, MaxPhrasings)
		steps, wrongs, hits := 0, 0, 0
		for i := range reqs {
			r := complete(t, s, openai.CompletionRequest{Prompt: prompt16(prefix), Sampling: openai.Sampling{N: n, Seed: seed(int64(100000*k + n*i))}})
			for _, c := range r.Choices {
				if grade(t, c.Text, 60) {
					hits++
				}
				lines := strings.Split(c.Text, "\n")
				for _, l := range lines[:len(lines)-1] {
					j := phrasingOf(l)
					if j < 0 || j >= k {
						t.Fatalf("K=%d: line %q is not in one of the first K phrasings", k, l)
					}
					phr[j]++
					steps++
				}
				j := phrasingOf(lines[0])
				if lines[0] == formatStep(j, 13, opAdd, 7, 20) {
					first[j]++
				} else {
					wrongFirst[j]++
					wrongs++
				}
			}
		}
		total := reqs * n
		t.Logf("K=%d: %d samples, success %.4f (q^2 = %.4f); step lines by phrasing %v; first line correct by phrasing %v (q/K = %.3f)",
			k, total, float64(hits)/float64(total), q*q, phr[:k], first[:k], q/float64(k))
		if !within(hits, total, q*q) {
			t.Errorf("K=%d: success rate %.4f, want %.4f", k, float64(hits)/float64(total), q*q)
		}
		for j := range k {
			if !within(phr[j], steps, 1/float64(k)) {
				t.Errorf("K=%d: phrasing %d takes %d of %d step lines, want 1/%d", k, j, phr[j], steps, k)
			}
			if !within(first[j], total, q/float64(k)) {
				t.Errorf("K=%d: first line equals %q in %d of %d samples, want q/K = %.3f", k, formatStep(j, 13, opAdd, 7, 20), first[j], total, q/float64(k))
			}
			if !within(wrongFirst[j], wrongs, 1/float64(k)) {
				t.Errorf("K=%d: phrasing %d takes %d of %d wrong first lines, want 1/%d", k, j, wrongFirst[j], wrongs, k)
			}
		}
	}
}

// Correct solutions of one problem say the same thing in different words.
func ExampleGenerateDataset_phrasings() {
	p := GenerateDataset(DatasetOptions{Seed: 1, Problems: 1, SolutionsPerProblem: 2, MinOps: 3, MaxOps: 3})[0]
	fmt.Println(p.Question)
	for _, s := range p.Solutions {
		fmt.Printf("\n%s\n", s.Text)
	}
	// Output:
	// Start with 5. Subtract 4, add 13, then subtract 1. What is the result?
	//
	// So we get 5 - 4 = 1.
	// Next, 1 + 13 = 14.
	// Next, 14 - 1 = 13.
	// The answer is 13.
	//
	// Next, 5 - 4 = 1.
	// 1 + 13 = 14.
	// We compute 14 - 1 = 13.
	// The answer is 13.
}
