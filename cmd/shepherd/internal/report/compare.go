package report

// compared is what a comparison keeps of a solution until its twin in the
// other file turns up.
type compared struct {
	states     []uint8
	firstError int
	rollouts   int64
	tokens     int64
	hasTokens  bool
	failed     bool
}

func compact(r *record, states []uint8, firstError int) compared {
	c := compared{states: states, firstError: firstError, rollouts: r.rolloutSum()}
	if r.CompletionTokens != nil {
		c.tokens, c.hasTokens = *r.CompletionTokens, true
	}
	for _, s := range states {
		if s == stepFailed {
			c.failed = true
		}
	}
	return c
}

// comparison matches the solutions of two runs by (problem_id, solution_id).
// The files are read side by side, so a solution waits in pending only until
// its twin is read: memory grows with how far apart the two files list the
// same solution, not with their length (files written in the same order
// need almost none).
type comparison struct {
	A, B int // run indices

	pending [2]map[string]compared
	maxPend int

	Matched, SameFirstError, WithinOne, AEarlier, BEarlier int64
	SkippedFailed                                          int64       // pairs with a failed step, left out of the first-error figures
	Confusion                                              [3][3]int64 // [A state][B state]: false, true, failed
	StepMismatch                                           int64       // pairs whose step counts differ
	RolloutsA, RolloutsB, TokensA, TokensB                 int64
	TokenPairs                                             int64
	OnlyA, OnlyB                                           int64
	FirstErrorDiff                                         map[int]int64 // B - A, clamped to ±maxDiff
}

const maxDiff = 5

func newComparison(a, b int) *comparison {
	return &comparison{A: a, B: b,
		pending:        [2]map[string]compared{{}, {}},
		FirstErrorDiff: map[int]int64{},
	}
}

// offer adds the solution of side (0 for A, 1 for B).
func (c *comparison) offer(side int, key string, v compared) {
	other := c.pending[1-side]
	if w, ok := other[key]; ok {
		delete(other, key)
		if side == 0 {
			c.match(v, w)
		} else {
			c.match(w, v)
		}
		return
	}
	c.pending[side][key] = v
	c.maxPend = max(c.maxPend, len(c.pending[0])+len(c.pending[1]))
}

func (c *comparison) match(a, b compared) {
	c.Matched++
	c.RolloutsA += a.rollouts
	c.RolloutsB += b.rollouts
	if a.hasTokens && b.hasTokens {
		c.TokensA += a.tokens
		c.TokensB += b.tokens
		c.TokenPairs++
	}
	if len(a.states) != len(b.states) {
		c.StepMismatch++
	} else {
		for i := range a.states {
			c.Confusion[a.states[i]][b.states[i]]++
		}
	}
	if a.failed || b.failed {
		c.SkippedFailed++
		return
	}
	fa, fb := a.firstError, b.firstError
	switch {
	case fa == fb:
		c.SameFirstError++
		c.WithinOne++
	case fa < 0 || (fb >= 0 && fb < fa):
		c.BEarlier++
	default:
		c.AEarlier++
	}
	if fa >= 0 && fb >= 0 {
		if d := fb - fa; d == 1 || d == -1 {
			c.WithinOne++
		}
		c.FirstErrorDiff[min(max(fb-fa, -maxDiff), maxDiff)]++
	}
}

// finish counts the solutions left without a twin.
func (c *comparison) finish() {
	c.OnlyA, c.OnlyB = int64(len(c.pending[0])), int64(len(c.pending[1]))
	c.pending = [2]map[string]compared{}
}
