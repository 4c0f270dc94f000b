package labeler_test

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
)

func TestRerankScoreBest(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		scores []float64
		want   int
	}{
		{nil, -1},
		{[]float64{nan, nan}, -1},
		{[]float64{0.3}, 0},
		{[]float64{0.2, 0.9, 0.9, 0.1}, 1},
		{[]float64{nan, 0.1, nan, 0.4}, 3},
		{[]float64{0, 0, 0}, 0},
		{[]float64{nan, 0, 0}, 1},
	} {
		if got := labeler.Best(c.scores); got != c.want {
			t.Errorf("labeler.Best(%v) = %d, want %d", c.scores, got, c.want)
		}
	}
}

func TestRerankScoreGroupsByEquivalence(t *testing.T) {
	g := grade.New(grade.Options{})
	answers := []string{"1/2", "3", "", "0.5", `\frac{1}{2}`, "3.0", "7"}
	groups := labeler.GroupAnswers(answers, g.Equivalent)
	want := []labeler.AnswerGroup{
		{Answer: "1/2", Members: []int{0, 3, 4}},
		{Answer: "3", Members: []int{1, 5}},
		{Answer: "7", Members: []int{6}},
	}
	if !reflect.DeepEqual(groups, want) {
		t.Fatalf("groups = %+v, want %+v", groups, want)
	}
	// Without an equivalence, strings must match exactly.
	if got := labeler.GroupAnswers([]string{"0.5", "1/2", "0.5"}, nil); len(got) != 2 || !reflect.DeepEqual(got[0].Members, []int{0, 2}) {
		t.Errorf("string grouping: %+v", got)
	}
	if got := labeler.GroupAnswers([]string{"", ""}, g.Equivalent); got != nil {
		t.Errorf("no answers: %+v", got)
	}
}

func TestRerankScoreWeightedAndMajority(t *testing.T) {
	g := grade.New(grade.Options{})
	nan := math.NaN()
	for _, c := range []struct {
		name               string
		scores             []float64
		answers            []string
		best               int
		weighted, majority string // "" is none
	}{
		{
			name:    "weighted beats majority",
			scores:  []float64{0.9, 0.1, 0.2, 0.15},
			answers: []string{"5", "1/2", "0.5", `\frac12`},
			best:    0, weighted: "5", majority: "1/2",
		},
		{
			name:    "equivalent answers add up",
			scores:  []float64{0.9, 0.5, 0.5, 0.1},
			answers: []string{"5", "1/2", "0.5", "7"},
			best:    0, weighted: "1/2", majority: "1/2",
		},
		{
			name:    "ties go to the group whose first member comes first",
			scores:  []float64{0.5, 0.5, 0.25, 0.25},
			answers: []string{"2", "3", "3", "2"},
			best:    0, weighted: "2", majority: "2",
		},
		{
			name:    "candidates without an answer do not vote",
			scores:  []float64{0.99, 0.2, 0.3},
			answers: []string{"", "4", "4.0"},
			best:    0, weighted: "4", majority: "4",
		},
		{
			name:    "NaN scores add nothing and are never best",
			scores:  []float64{nan, 0.1, 0.05},
			answers: []string{"8", "9", "8"},
			best:    1, weighted: "9", majority: "8",
		},
		{
			name:    "no answers at all",
			scores:  []float64{0.1, 0.2},
			answers: []string{"", ""},
			best:    1,
		},
		{
			name: "no candidates",
			best: -1,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := labeler.Rerank(c.scores, c.answers, g.Equivalent)
			if r.Best != c.best {
				t.Errorf("best = %d, want %d", r.Best, c.best)
			}
			w, wok := r.WeightedAnswer()
			if w != c.weighted || wok != (c.weighted != "") {
				t.Errorf("weighted = %q %v, want %q", w, wok, c.weighted)
			}
			m, mok := r.MajorityAnswer()
			if m != c.majority || mok != (c.majority != "") {
				t.Errorf("majority = %q %v, want %q", m, mok, c.majority)
			}
		})
	}
}

// TestRerankScoreAgreesWithBruteForce compares Rerank with a direct
// computation over answers whose equivalence classes are known by
// construction.
func TestRerankScoreAgreesWithBruteForce(t *testing.T) {
	g := grade.New(grade.Options{})
	// Spellings of four values; the class is the index.
	classes := [][]string{
		{"1/2", "0.5", `\frac{1}{2}`, `\frac12`, "0.50"},
		{"2", "2.0", "4/2"},
		{"-3", "-3.0"},
		{"10%", "0.1"},
	}
	class := map[string]int{}
	for c, spellings := range classes {
		for _, s := range spellings {
			class[s] = c
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		n := 1 + rng.IntN(12)
		scores := make([]float64, n)
		answers := make([]string, n)
		for i := range n {
			scores[i] = float64(rng.IntN(5)) / 4 // ties are common
			if rng.IntN(6) > 0 {
				c := rng.IntN(len(classes))
				answers[i] = classes[c][rng.IntN(len(classes[c]))]
			}
		}
		r := labeler.Rerank(scores, answers, g.Equivalent)

		wantBest := 0
		for i := range scores {
			if scores[i] > scores[wantBest] {
				wantBest = i
			}
		}
		sum, count, first := map[int]float64{}, map[int]int{}, map[int]int{}
		for i, a := range answers {
			if a == "" {
				continue
			}
			c := class[a]
			if _, ok := first[c]; !ok {
				first[c] = i
			}
			sum[c] += scores[i]
			count[c]++
		}
		wantW, wantM := -1, -1
		for c := range first {
			if wantW < 0 || sum[c] > sum[wantW] || sum[c] == sum[wantW] && first[c] < first[wantW] {
				wantW = c
			}
			if wantM < 0 || count[c] > count[wantM] || count[c] == count[wantM] && first[c] < first[wantM] {
				wantM = c
			}
		}
		if r.Best != wantBest {
			t.Fatalf("trial %d: best %d, want %d (%v)", trial, r.Best, wantBest, scores)
		}
		w, _ := r.WeightedAnswer()
		m, _ := r.MajorityAnswer()
		if wantW < 0 {
			if w != "" || m != "" {
				t.Fatalf("trial %d: answers %q %q from no votes", trial, w, m)
			}
			continue
		}
		if w != answers[first[wantW]] {
			t.Fatalf("trial %d: weighted %q, want %q (%v %q)", trial, w, answers[first[wantW]], scores, answers)
		}
		if m != answers[first[wantM]] {
			t.Fatalf("trial %d: majority %q, want %q (%q)", trial, m, answers[first[wantM]], answers)
		}
	}
}
