package labeler

import "math"

// Reranking: choosing among N candidate solutions of one question from
// their scores and final answers.
//
//   - best-of-N picks the candidate with the highest score;
//   - weighted best-of-N picks the answer whose candidates have the largest
//     summed score (Li et al., "Making Large Language Models Better
//     Reasoners with Step-Aware Verifier"; Math-Shepherd's "weighted
//     self-consistency");
//   - majority vote (self-consistency) picks the answer given by most
//     candidates, ignoring scores.
//
// Answers are compared with an equivalence (the grader's), not as strings,
// so "1/2", "0.5" and "\frac{1}{2}" vote together. Every tie goes to the
// lowest candidate index, so the result is a pure function of the input
// order.

// Best returns the index of the highest score, the lowest such index on a
// tie. NaN scores (candidates without a score) are passed over; Best
// returns -1 when no score is a number.
func Best(scores []float64) int {
	best := -1
	for i, s := range scores {
		if math.IsNaN(s) {
			continue
		}
		if best < 0 || s > scores[best] {
			best = i
		}
	}
	return best
}

// AnswerGroup is a set of candidates whose final answers are equivalent.
type AnswerGroup struct {
	// Answer is the answer of the group's first member; it stands for the
	// group.
	Answer string
	// Members are the candidates' indices, ascending.
	Members []int
}

// GroupAnswers groups candidates by equivalent final answers. answers[i]
// is candidate i's extracted answer, "" when it has none; such a candidate
// joins no group. A candidate joins the first group (in order of creation)
// whose answer is equivalent to its own under equiv, else it opens a new
// group, so groups are ordered by their first member. Comparing with the
// group's first answer rather than with every member keeps the grouping
// deterministic when equiv is not transitive (numeric tolerance). A nil
// equiv means string equality.
func GroupAnswers(answers []string, equiv func(a, b string) bool) []AnswerGroup {
	if equiv == nil {
		equiv = func(a, b string) bool { return a == b }
	}
	var groups []AnswerGroup
	for i, a := range answers {
		if a == "" {
			continue
		}
		joined := false
		for g := range groups {
			if groups[g].Answer == a || equiv(groups[g].Answer, a) {
				groups[g].Members = append(groups[g].Members, i)
				joined = true
				break
			}
		}
		if !joined {
			groups = append(groups, AnswerGroup{Answer: a, Members: []int{i}})
		}
	}
	return groups
}

// WeightedBest returns the index in groups of the group whose members'
// scores sum highest (weighted best-of-N), the first group on a tie; a NaN
// score adds nothing. It returns -1 when there is no group.
func WeightedBest(groups []AnswerGroup, scores []float64) int {
	best, bestSum := -1, 0.0
	for g, grp := range groups {
		sum := 0.0
		for _, i := range grp.Members {
			if i < len(scores) && !math.IsNaN(scores[i]) {
				sum += scores[i]
			}
		}
		if best < 0 || sum > bestSum {
			best, bestSum = g, sum
		}
	}
	return best
}

// Majority returns the index in groups of the largest group
// (self-consistency), the first group on a tie, or -1 when there is no
// group.
func Majority(groups []AnswerGroup) int {
	best := -1
	for g, grp := range groups {
		if best < 0 || len(grp.Members) > len(groups[best].Members) {
			best = g
		}
	}
	return best
}

// Reranking is the outcome of Rerank. Group indices refer to Groups; -1
// means none.
type Reranking struct {
	Best          int // candidate with the highest score
	Groups        []AnswerGroup
	WeightedGroup int // group with the largest summed score
	MajorityGroup int // largest group
}

// WeightedAnswer returns the weighted best-of-N answer and whether there is
// one.
func (r Reranking) WeightedAnswer() (string, bool) { return r.groupAnswer(r.WeightedGroup) }

// MajorityAnswer returns the majority answer and whether there is one.
func (r Reranking) MajorityAnswer() (string, bool) { return r.groupAnswer(r.MajorityGroup) }

func (r Reranking) groupAnswer(g int) (string, bool) {
	if g < 0 || g >= len(r.Groups) {
		return "", false
	}
	return r.Groups[g].Answer, true
}

// Rerank applies Best, GroupAnswers, WeightedBest and Majority to the
// candidates' scores and answers (parallel slices; "" is no answer).
func Rerank(scores []float64, answers []string, equiv func(a, b string) bool) Reranking {
	groups := GroupAnswers(answers, equiv)
	return Reranking{
		Best:          Best(scores),
		Groups:        groups,
		WeightedGroup: WeightedBest(groups, scores),
		MajorityGroup: Majority(groups),
	}
}
