package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// DatasetOptions configures GenerateDataset.
type DatasetOptions struct {
	// Seed makes the dataset reproducible: equal options, equal dataset.
	Seed int64
	// Problems is how many problems to generate.
	Problems int
	// SolutionsPerProblem defaults to 4.
	SolutionsPerProblem int
	// MinOps and MaxOps bound the number of operations of a question
	// (defaults 3 and 6).
	MinOps, MaxOps int
	// ErrorRate is the share of solutions given an error at a uniformly
	// chosen step (the final answer line included), in [0, 1].
	ErrorRate float64
	// Phrasings is K, the number of textual forms a step line takes
	// (default 4; clamped to [1, MaxPhrasings]): each step line of a
	// solution is written in one of the first K phrasings, uniformly, so
	// different solutions of one problem differ textually. 1 writes every
	// step as the bare equation. Phrasings are drawn from a generator of
	// their own, so K changes the text only: the questions and the injected
	// errors of a seed are the same whatever K.
	Phrasings int
}

// Problem is one problem in the input format of `shepherd label`.
type Problem struct {
	ID        string           `json:"id"`
	Question  string           `json:"question"`
	Answer    string           `json:"answer"`
	Solutions []SolutionRecord `json:"solutions"`
}

// SolutionRecord is one solution of a problem. FirstError is the ground
// truth, not part of the format: the index of the step (line) where an error
// was injected, -1 for a correct solution. FirstError(question, Text)
// returns it.
type SolutionRecord struct {
	ID         string `json:"id"`
	Text       string `json:"text"`
	FirstError int    `json:"-"`
}

// GenerateDataset generates problems in the question grammar, each with
// solutions in the solution format: correct ones, and (with probability
// ErrorRate) ones with one error injected at a uniformly chosen step, after
// which the solution carries on faithfully from the wrong value, so its
// final answer is wrong. Each step line takes one of Phrasings phrasings. An injected error is one of: a wrong result, a wrong
// operand, a wrong operation, a step that does not start from the previous
// result, or (at the last step) a wrong answer.
func GenerateDataset(opt DatasetOptions) []Problem {
	if opt.SolutionsPerProblem <= 0 {
		opt.SolutionsPerProblem = 4
	}
	if opt.MinOps <= 0 {
		opt.MinOps = 3
	}
	if opt.MaxOps <= 0 {
		opt.MaxOps = max(6, opt.MinOps)
	}
	opt.MaxOps = max(opt.MaxOps, opt.MinOps)
	opt.ErrorRate = min(max(opt.ErrorRate, 0), 1)
	if opt.Phrasings == 0 {
		opt.Phrasings = 4
	}
	opt.Phrasings = min(max(opt.Phrasings, 1), MaxPhrasings)
	rng := rand.New(rand.NewPCG(uint64(opt.Seed), 0xda7a5e7))
	style := sampling{phrasings: opt.Phrasings, style: phrasingRNG(opt.Seed)}
	width := max(4, len(strconv.Itoa(opt.Problems)))
	out := make([]Problem, 0, max(opt.Problems, 0))
	for p := 1; p <= opt.Problems; p++ {
		c := randomChain(rng, opt.MinOps+rng.IntN(opt.MaxOps-opt.MinOps+1))
		pr := Problem{
			ID:       fmt.Sprintf("sim-%0*d", width, p),
			Question: c.question(),
			Answer:   strconv.FormatInt(c.gold(), 10),
		}
		for s := 1; s <= opt.SolutionsPerProblem; s++ {
			e := -1
			if rng.Float64() < opt.ErrorRate {
				e = rng.IntN(len(c.ops) + 1)
			}
			pr.Solutions = append(pr.Solutions, SolutionRecord{
				ID:         fmt.Sprintf("%s-%d", pr.ID, s),
				Text:       strings.Join(c.solution(e, rng, style), "\n"),
				FirstError: e,
			})
		}
		out = append(out, pr)
	}
	return out
}

// phrasingRNG returns the dataset's generator of phrasings, seeded by
// SHA-256 of the seed so that nearby seeds start far apart.
func phrasingRNG(seed int64) *rand.Rand {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(seed))
	sum := sha256.Sum256(append([]byte("phrasings:"), b[:]...))
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(sum[:8]), binary.LittleEndian.Uint64(sum[8:16])))
}

// randomChain draws a question with n operations whose correct values stay
// positive and moderate.
func randomChain(rng *rand.Rand, n int) *chain {
	for {
		v := int64(2 + rng.IntN(19))
		start := v
		ops := make([]operation, n)
		for i := range ops {
			kind := opAdd
			switch r := rng.IntN(10); {
			case r >= 7 && v <= 200:
				kind = opMul
			case r >= 4 && v >= 2:
				kind = opSub
			}
			var b int64
			switch kind {
			case opAdd:
				b = int64(1 + rng.IntN(20))
				v += b
			case opSub:
				b = int64(1 + rng.IntN(int(min(20, v-1))))
				v -= b
			case opMul:
				b = int64(2 + rng.IntN(4))
				v *= b
			}
			ops[i] = operation{kind, b}
		}
		if c, err := newChain(start, ops); err == nil {
			return c
		}
	}
}

// solution writes the chain's solution lines with an error injected at line
// e (none when e < 0), drawing each step line's phrasing from style.
func (c *chain) solution(e int, rng *rand.Rand, style sampling) []string {
	v := c.start
	lines := make([]string, 0, len(c.ops)+1)
	for k, o := range c.ops {
		a, op, b := v, o.kind, o.b
		r, _ := apply(op, a, b)
		if k == e {
			a, op, b, r = injectError(rng, v, o)
		}
		lines = append(lines, formatStep(style.phrasing(), a, op, b, r))
		v = r
	}
	if e == len(c.ops) {
		v += slip(rng)
	}
	return append(lines, formatAnswer(v))
}

// injectError returns a wrong step for operation o applied to the correct
// value v: its result differs from the correct one, so the solution's value
// stays wrong (every operation is injective).
func injectError(rng *rand.Rand, v int64, o operation) (a int64, op opKind, b, r int64) {
	want, _ := apply(o.kind, v, o.b)
	for range 20 {
		a, op, b = v, o.kind, o.b
		switch rng.IntN(4) {
		case 0: // wrong operand
			b += slip(rng)
			if b < 1 || op == opMul && b < 2 {
				continue
			}
		case 1: // wrong operation
			kinds := []opKind{opAdd, opSub, opMul}
			for op == o.kind {
				op = kinds[rng.IntN(3)]
			}
		case 2: // does not continue from the previous result
			a += slip(rng)
		default: // wrong arithmetic
			res, _ := apply(op, a, b)
			return a, op, b, res + slip(rng)
		}
		if res, ok := apply(op, a, b); ok && res != want {
			return a, op, b, res
		}
	}
	return v, o.kind, o.b, want + slip(rng)
}
