package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
)

// opKind is one of the three operations of the question grammar.
type opKind byte

const (
	opAdd opKind = '+'
	opSub opKind = '-'
	opMul opKind = '*'
)

// operation is one link of a question's chain: apply kind with operand b.
type operation struct {
	kind opKind
	b    int64
}

// phrase is the operation as the question words it ("add 7").
func (o operation) phrase() string {
	switch o.kind {
	case opAdd:
		return "add " + strconv.FormatInt(o.b, 10)
	case opSub:
		return "subtract " + strconv.FormatInt(o.b, 10)
	default:
		return "multiply by " + strconv.FormatInt(o.b, 10)
	}
}

// limit bounds every number the world accepts, so no arithmetic overflows.
const limit = 1e15

// apply computes a <kind> b, reporting false when the result leaves ±limit.
func apply(kind opKind, a, b int64) (int64, bool) {
	var r float64
	var v int64
	switch kind {
	case opAdd:
		r, v = float64(a)+float64(b), a+b
	case opSub:
		r, v = float64(a)-float64(b), a-b
	case opMul:
		r, v = float64(a)*float64(b), a*b
	default:
		return 0, false
	}
	if math.Abs(r) > limit || a > limit || a < -limit || b > limit || b < -limit {
		return 0, false
	}
	return v, true
}

// chain is a parsed question: a start value and the operations applied to it
// in order. values[k] is the correct value after k operations; the gold
// answer is values[len(ops)].
type chain struct {
	start  int64
	ops    []operation
	values []int64
}

func (c *chain) gold() int64 { return c.values[len(c.ops)] }

// valueAt is the correct value after k operations (the gold answer past the
// end of the chain).
func (c *chain) valueAt(k int) int64 {
	if k > len(c.ops) {
		k = len(c.ops)
	}
	return c.values[k]
}

// question formats the chain in the question grammar.
func (c *chain) question() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Start with %d. ", c.start)
	for i, o := range c.ops {
		p := o.phrase()
		switch {
		case i == 0:
			p = strings.ToUpper(p[:1]) + p[1:]
		case i == len(c.ops)-1:
			b.WriteString(", then ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(p)
	}
	b.WriteString(". What is the result?")
	return b.String()
}

func newChain(start int64, ops []operation) (*chain, error) {
	if len(ops) == 0 {
		return nil, errors.New("the question has no operations")
	}
	c := &chain{start: start, ops: ops, values: make([]int64, len(ops)+1)}
	c.values[0] = start
	for i, o := range ops {
		switch {
		case (o.kind == opAdd || o.kind == opSub) && o.b < 1:
			return nil, fmt.Errorf("operation %d (%s): the operand must be at least 1", i+1, o.phrase())
		case o.kind == opMul && o.b < 2:
			return nil, fmt.Errorf("operation %d (%s): the factor must be at least 2", i+1, o.phrase())
		}
		v, ok := apply(o.kind, c.values[i], o.b)
		if !ok {
			return nil, fmt.Errorf("operation %d (%s): the value leaves ±%g", i+1, o.phrase(), float64(limit))
		}
		c.values[i+1] = v
	}
	return c, nil
}

var (
	questionRE = regexp.MustCompile(`Start with (-?\d{1,15})\. ([^\n]*?)\. What is the result\?`)
	opRE       = regexp.MustCompile(`^(?:then |and )?(add|subtract|multiply by) (\d{1,15})$`)
	// A step line is an equation at the end of the line. Before it may come
	// a label ending in a colon ("Answer:", "Step 2:", "Then:"; the text up
	// to the last colon) and then a lead-in: words without digits, "=" or
	// colons, ending in a blank ("Next, ", "We compute "). An answer line
	// may carry a label too.
	stepRE   = regexp.MustCompile(`^\s*(?:.*:\s*)?(?:[^\d=:]*?\s)?(-?\d{1,16})\s*([-+*×])\s*(-?\d{1,16})\s*=\s*(-?\d{1,16})\s*\.?\s*$`)
	answerRE = regexp.MustCompile(`^\s*(?:[^:]*:\s*)?[Tt]he answer is:?\s*(-?\d{1,16})\s*\.?\s*$`)
	labelRE  = regexp.MustCompile(`^[^:]*:\s*$`)
)

// findQuestion returns the last well-formed question in text and the offset
// just past it.
func findQuestion(text string) (*chain, int, error) {
	ms := questionRE.FindAllStringSubmatchIndex(text, -1)
	if len(ms) == 0 {
		return nil, 0, errors.New(`no question of the form "Start with <n>. <operations>. What is the result?" found`)
	}
	var firstErr error
	for i := len(ms) - 1; i >= 0; i-- {
		m := ms[i]
		c, err := parseChain(text[m[2]:m[3]], text[m[4]:m[5]])
		if err == nil {
			return c, m[1], nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, 0, fmt.Errorf("question not understood: %w", firstErr)
}

func parseChain(startText, opsText string) (*chain, error) {
	start, err := strconv.ParseInt(startText, 10, 64)
	if err != nil || start > limit || start < -limit {
		return nil, fmt.Errorf("start value %q out of range", startText)
	}
	var ops []operation
	for _, item := range strings.Split(strings.ReplaceAll(opsText, ", then ", ", "), ", ") {
		item = strings.TrimSpace(item)
		if item != "" {
			item = strings.ToLower(item[:1]) + item[1:]
		}
		m := opRE.FindStringSubmatch(item)
		if m == nil {
			return nil, fmt.Errorf("operation %q is not one of: add <n>, subtract <n>, multiply by <n>", item)
		}
		b, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("operand %q out of range", m[2])
		}
		kind := opAdd
		switch m[1] {
		case "subtract":
			kind = opSub
		case "multiply by":
			kind = opMul
		}
		ops = append(ops, operation{kind, b})
	}
	return newChain(start, ops)
}

// line is one parsed solution line.
type line struct {
	kind    byte // 's' step, 'a' answer, 'j' anything else
	a, b, c int64
	op      opKind
}

func parseLine(s string) line {
	if m := stepRE.FindStringSubmatch(s); m != nil {
		a, e1 := strconv.ParseInt(m[1], 10, 64)
		b, e2 := strconv.ParseInt(m[3], 10, 64)
		c, e3 := strconv.ParseInt(m[4], 10, 64)
		if e1 == nil && e2 == nil && e3 == nil {
			op := opKind(m[2][0])
			if m[2] == "×" {
				op = opMul
			}
			return line{kind: 's', a: a, b: b, c: c, op: op}
		}
	}
	if m := answerRE.FindStringSubmatch(s); m != nil {
		if x, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			return line{kind: 'a', c: x}
		}
	}
	return line{kind: 'j'}
}

// state is where a solution prefix leaves the chain.
type state struct {
	k        int   // step lines read = operations consumed
	v        int64 // current value: the last written result or stated answer
	firstErr int   // index of the first erroneous line, -1 if none
	answered bool  // an answer line was read
	lines    int   // non-empty lines read
}

// tainted reports whether the prefix contains an error.
func (s state) tainted() bool { return s.firstErr >= 0 }

// onTrack reports whether the current value equals the correct one at this
// point of the chain (possible even after an error that wrote the right
// number in a wrong line).
func (s state) onTrack(c *chain) bool {
	if s.answered {
		return s.v == c.gold()
	}
	return s.v == c.valueAt(s.k)
}

// walk reads solution lines (empty ones are skipped and not counted) and
// judges each against the chain.
func (c *chain) walk(lines []string) state {
	st := state{v: c.start, firstErr: -1}
	for _, raw := range lines {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		i := st.lines
		st.lines++
		bad := st.answered // nothing may follow the answer line
		l := parseLine(raw)
		switch l.kind {
		case 's':
			if st.k >= len(c.ops) || l.a != st.v || l.op != c.ops[st.k].kind || l.b != c.ops[st.k].b {
				bad = true
			} else if r, ok := apply(l.op, l.a, l.b); !ok || r != l.c {
				bad = true
			}
			st.v = l.c
			st.k++
		case 'a':
			if st.k != len(c.ops) || l.c != st.v {
				bad = true
			}
			st.v = l.c
			st.answered = true
		default:
			bad = true
		}
		if bad && st.firstErr < 0 {
			st.firstErr = i
		}
	}
	return st
}

func splitLines(s string) []string {
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		ls[i] = strings.TrimSuffix(l, "\r")
	}
	return ls
}

// FirstError returns the 0-based index, among the non-empty lines of
// solution, of the first erroneous step, or -1 when no line is erroneous.
// Each non-empty line is a step. A line "<a> <op> <b> = <c>." is erroneous
// unless a is the previous step's result (the start value for the first
// step), op and b are the question's next operation, and c = a op b. The line
// "The answer is <n>." is erroneous unless every operation has been done and n
// is the last result. Any other line, and any line after the answer line, is
// erroneous. -1 does not mean the solution is complete: a solution that stops
// early has no erroneous line but no answer either.
func FirstError(question, solution string) (int, error) {
	c, _, err := findQuestion(question)
	if err != nil {
		return 0, err
	}
	return c.walk(splitLines(solution)).firstErr, nil
}

// GoldAnswer returns the result of the question's chain.
func GoldAnswer(question string) (int64, error) {
	c, _, err := findQuestion(question)
	if err != nil {
		return 0, err
	}
	return c.gold(), nil
}

// SuccessProbability is the exact probability that a continuation of the
// solution prefix, sampled with step accuracy q, ends with the gold answer:
// 0 when the prefix contains an error, 1 when it is error-free and already
// states the answer, and q^r when it is error-free with r operations left.
// A server request at temperature 0 is greedy: use q = 1.
func SuccessProbability(question, prefix string, q float64) (float64, error) {
	if q < 0 || q > 1 || math.IsNaN(q) {
		return 0, fmt.Errorf("step accuracy %v is outside [0, 1]", q)
	}
	c, _, err := findQuestion(question)
	if err != nil {
		return 0, err
	}
	st := c.walk(splitLines(prefix))
	switch {
	case st.tainted():
		return 0, nil
	case st.answered:
		return 1, nil
	}
	return math.Pow(q, float64(len(c.ops)-st.k)), nil
}

// MaxPhrasings is the number of textual forms a step line can take, the
// largest valid Options.Phrasings and DatasetOptions.Phrasings.
const MaxPhrasings = len(leadIns)

// leadIns are the phrasings of a step line: phrasing k writes leadIns[k]
// before the equation. Phrasing 0 is the bare equation; none contains a
// digit, so every phrasing parses to the same step.
var leadIns = [...]string{"", "Next, ", "We compute ", "So we get ", "Then: ", "This gives "}

// formatStep writes a step line in phrasing k.
func formatStep(k int, a int64, op opKind, b, c int64) string {
	return fmt.Sprintf("%s%d %c %d = %d.", leadIns[k], a, op, b, c)
}

func formatAnswer(x int64) string { return fmt.Sprintf("The answer is %d.", x) }

// slip draws the non-zero error a wrong step adds to its result.
func slip(rng *rand.Rand) int64 {
	d := int64(rng.IntN(5) + 1)
	if rng.IntN(2) == 0 {
		d = -d
	}
	return d
}

// sampling is how a continuation is drawn.
type sampling struct {
	q         float64    // step accuracy
	greedy    bool       // no new mistakes, phrasing 0 only
	phrasings int        // K: each step line takes one of phrasings 0..K-1
	rng       *rand.Rand // correctness and slips
	style     *rand.Rand // phrasings: a generator of its own, so the choice of phrasing never touches correctness
}

// phrasing draws the phrasing of the next step line: uniform over K, 0 when
// greedy or K <= 1.
func (s sampling) phrasing() int {
	if s.greedy || s.phrasings <= 1 {
		return 0
	}
	return s.style.IntN(s.phrasings)
}

// continuation generates the lines that continue a prefix in state st.
// Without an error in the prefix each generated step is correct with
// probability q (always when greedy) and a wrong one adds a non-zero slip to
// its result; from then on, and from a prefix that already contains an error,
// the continuation carries on faithfully from the current value. A prefix
// with an error whose current value happens to be the correct one (a wrong
// line that wrote the right number) slips on its first generated line, so an
// erroneous prefix never reaches the gold answer. A prefix that already
// states its answer is continued by restating it. Each step line is written
// in a phrasing drawn independently of its correctness.
func (c *chain) continuation(st state, s sampling) []string {
	force := st.tainted() && st.onTrack(c)
	wrong := st.tainted()
	v := st.v
	var out []string
	if !st.answered {
		for j := st.k; j < len(c.ops); j++ {
			o := c.ops[j]
			r, ok := apply(o.kind, v, o.b)
			if !ok {
				break
			}
			switch {
			case force:
				r += slip(s.rng)
				force = false
			case !wrong && !s.greedy && s.rng.Float64() >= s.q:
				r += slip(s.rng)
				wrong = true
			}
			out = append(out, formatStep(s.phrasing(), v, o.kind, o.b, r))
			v = r
		}
	}
	if force {
		v += slip(s.rng)
	}
	return append(out, formatAnswer(v))
}

// analyzePrompt finds the question in a prompt and the solution prefix after
// it. The prefix starts at the first step or answer line after the question
// (lines before it, such as "Answer:" or a chat template's role marker, are
// not part of it) and runs to the end of the text; a last line that is only a
// label ("Step 3:") is a cue, not a step. With fresh, the prompt asks for a
// new solution and any lines after the question are ignored. lead is what the
// continuation starts with so that it begins on a line of its own.
func analyzePrompt(text string, fresh bool) (c *chain, st state, lead string, err error) {
	c, end, err := findQuestion(text)
	if err != nil {
		return nil, state{}, "", err
	}
	if fresh {
		return c, c.walk(nil), "", nil
	}
	lines := splitLines(text[end:])
	if n := len(lines); n > 0 && labelRE.MatchString(lines[n-1]) {
		lines = lines[:n-1]
	}
	first := len(lines)
	for i, l := range lines {
		if parseLine(l).kind != 'j' {
			first = i
			break
		}
	}
	return c, c.walk(lines[first:]), leadFor(text), nil
}

// leadFor returns "" when text ends a line or with blanks, " " after a label
// colon, and "\n" after anything else (a step, the question).
func leadFor(text string) string {
	last := text[strings.LastIndexByte(text, '\n')+1:]
	switch {
	case last == "" || strings.TrimRight(last, " \t\r") != last:
		return ""
	case strings.HasSuffix(last, ":"):
		return " "
	}
	return "\n"
}
