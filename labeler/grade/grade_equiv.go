package grade

import (
	"hash/fnv"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strings"

	"github.com/shepherd-prm/shepherd/labeler"
)

// Equivalence rules, applied to both answers alike (the relation is
// symmetric):
//
//   - Identical strings (not blank) are equal; a blank answer equals nothing.
//   - String normalisation (normalizeAnswer): surrounding $...$, \(...\),
//     \[...\] and **bold**; \boxed{}, \fbox{}; \left, \right, \big...;
//     spacing \, \; \: \! \quad \qquad ~ and "\ "; \dfrac, \tfrac, \cfrac
//     to \frac; \text{}, \mbox{}, \textbf{}, \mathrm{} ... are unwrapped,
//     except that a \text{...} of words after something else is a unit and
//     is dropped with a ^2 or ^3 after it (864 \mbox{ inches}^2 is 864);
//     degrees (^\circ, ^{\circ}, °); percent signs; dollar signs; thousands
//     separators outside brackets (1,000, 10,\!080 and 115{,}000; (1,2)
//     stays a pair); trailing periods; Unicode − × ÷ π ∞ √.
//   - Percent: 50\% equals 50 and also 0.5. When one side carried a
//     percent sign, its value v matches the other side's value or v/100
//     (the usual convention of MATH graders).
//   - Structure: "a \cup b" is a union (unordered); top-level commas,
//     semicolons, "or" and "and" make an unordered list (1, 2 equals 2, 1
//     and "x=1 or x=2"); \{...\} is a set (unordered); a \pm b expands to
//     the two values; (a, b), [a, b), ... with a top-level comma is a tuple
//     or interval, compared element-wise with its brackets ((1,2] differs
//     from (1,2)); \begin{pmatrix}...\end{pmatrix} (and bmatrix, matrix,
//     ...) is a matrix compared element-wise; "x = 5", "y=2x+3", "f(x) =
//     ...", "(b,c) = (6,5)", "x \in [a,b]" lose the name on the left (in a
//     list, differing names make elements differ); a chain whose parts
//     before the last are names or constants ("\frac{28}{4} = 7") is its
//     last part, and so is a chain of three or more parts ending in a
//     number ("Volume = 20 \times 2 = 40"); any other equation "lhs = rhs"
//     equals another whose lhs-rhs is a non-zero multiple of it (when
//     both right sides are non-zero constants: whose lhs is the multiple
//     c_b/c_a of the other's, so x+y = 4027 differs from x+y = 4028).
//     Against a plain value, an equation "lhs = c" whose right side is a
//     non-zero constant and whose left side is not states the value c
//     (|r-s| = 16, x + y = 4027, \sin\theta = \frac12); "lhs = 0" states
//     no value.
//   - Inequalities in one variable are the interval they describe: x > 3
//     is (3, \infty), x \ge 3 is [3, \infty), -2 < x \le 5 is (-2, 5]
//     (<, >, <=, >=, \le, \leq, \ge, \geq, \lt, \gt, ≤, ≥).
//   - Answer-choice letters: (A) equals A, and "(C) 12" equals C.
//   - Unit words after a number are dropped: "5 dollars", "12 cm^2".
//   - Numbers: compared exactly as rationals when both sides are rational
//     (integers, decimals, fractions a/b, \frac{a}{b}, \frac ab, \frac12,
//     mixed numbers 2\frac{1}{2} and "2 1/2", scientific notation, integer
//     powers, perfect roots): 1000000 differs from 1000001, 2 from 12 and
//     \frac{4036082}{4036081} from 1. Otherwise (\sqrt, \pi, a decimal
//     rounding a fraction without finite decimal expansion, like 0.3333333
//     for \frac13) they are equal when the relative difference is at most
//     relTol = 1e-6 (magnitudes below 1e-12 count as zero), so 3.14 does not
//     equal \pi and 0.333 does not equal \frac13.
//     Powers are exact up to maxRatBits bits (2^{2009} + 1 is exact); two
//     numbers too large even for that are equal when written alike.
//   - Expressions with variables are equal when they agree (relative 1e-6)
//     at samplePoints deterministic pseudo-random points with every
//     variable in [0.4, 2.4]; points where both are undefined are skipped,
//     and at least 3 must be defined. Variables are case-sensitive. With
//     variables, x! is Gamma(x+1), so (n+1)! equals (n+1) n!.
//   - Answers written through a string escape are read as meant: a doubled
//     backslash before a command (\\frac{5}{9}; a matrix keeps its \\ row
//     breaks) and a backslash before a digit (\15).
//   - Anything else (words, numerals in other bases like 52_8, other
//     inequalities)
//     is compared as text: case-insensitive, ignoring white space and
//     braces (\text{Evelyn} equals evelyn). Runs of three or more letters
//     are words, not products of variables, so "east" differs from "seat".
//   - Inputs longer than maxAnswerLen bytes are only compared as text with
//     white space collapsed.

const (
	maxAnswerLen   = 1000
	maxElems       = 64
	maxStructDepth = 6
	samplePoints   = 6
	relTol         = 1e-6
	zeroTol        = 1e-12
)

// answersEquivalent implements Grader.Equivalent without the memo.
func answersEquivalent(a, b string) bool {
	ta, tb := strings.TrimSpace(a), strings.TrimSpace(b)
	if ta == "" || tb == "" {
		return false
	}
	if ta == tb {
		return true
	}
	if ca, ok := canonicalDecimal(ta); ok {
		if cb, ok := canonicalDecimal(tb); ok {
			return ca == cb
		}
	}
	if len(ta) > maxAnswerLen || len(tb) > maxAnswerLen {
		return strings.Join(strings.Fields(ta), " ") == strings.Join(strings.Fields(tb), " ")
	}
	na, nb := normalizeAnswer(ta), normalizeAnswer(tb)
	if na.s == "" || nb.s == "" {
		return false
	}
	if na.s == nb.s {
		return true
	}
	pa, pb := parseStructure(na.s, 0), parseStructure(nb.s, 0)
	return equalParts(pa, pb, na.pct, nb.pct)
}

// canonicalDecimal returns the canonical form of a plain decimal number
// (-?digits with an optional fraction): no leading zeros, no trailing
// fractional zeros, no "-0". Two such numbers are equal exactly when their
// canonical forms are; this is the fast path for the most common answers.
func canonicalDecimal(s string) (string, bool) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" && frac == "" || len(s) > 64 {
		return "", false
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if !isASCIIDigit(part[i]) {
				return "", false
			}
		}
	}
	if hasDot && frac == "" && intPart == "" {
		return "", false
	}
	intPart = strings.TrimLeft(intPart, "0")
	frac = strings.TrimRight(frac, "0")
	c := intPart
	if c == "" {
		c = "0"
	}
	if frac != "" {
		c += "." + frac
	}
	if neg && c != "0" {
		c = "-" + c
	}
	return c, true
}

type partKind uint8

const (
	kScalar partKind = iota
	kList
	kTuple
	kMatrix
	kEquation
)

// ansPart is an answer, or an element of one, after structure analysis.
type ansPart struct {
	kind        partKind
	s           string // scalar text; lhs of an equation
	rhs         string // equation
	name        string // the x of "x = 5"
	open, close byte   // tuple brackets
	rows        int    // matrix
	elems       []*ansPart
	prep        *ansScalar
}

var (
	nameRe      = regexp.MustCompile(`^(?:[A-Za-z]{1,3}|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?'*(?:\([A-Za-z0-9, ]*\))?$`)
	nameTupleRe = regexp.MustCompile(`^\(\s*(?:[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?|\\[A-Za-z]+)(?:\s*,\s*(?:[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?|\\[A-Za-z]+))+\s*\)$`)
	inRe        = regexp.MustCompile(`^(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?\s*\\in(?:[^A-Za-z]|$)`)
)

func parseStructure(s string, depth int) *ansPart {
	s = strings.TrimSpace(s)
	if depth > maxStructDepth || s == "" {
		return &ansPart{kind: kScalar, s: s}
	}
	if ps := splitTop(s, []string{`\cup`}); len(ps) > 1 {
		return listPart(ps, depth)
	}
	if ps := splitTop(s, []string{",", ";", " or ", " and "}); len(ps) > 1 {
		return listPart(ps, depth)
	}
	if loc := inRe.FindStringIndex(s); loc != nil {
		name := strings.TrimSpace(s[:strings.Index(s, `\in`)])
		p := parseStructure(s[strings.Index(s, `\in`)+3:], depth+1)
		p.name = name
		return p
	}
	if iv := parseInequality(s, depth); iv != nil {
		return iv
	}
	if parts := splitEquals(s); parts != nil {
		// "x = 5", "f(x) = 2x", "(b,c) = (6,5)" and chains ending in the
		// value, "\frac{28}{4} = 7", "x = 2 + 3 = 5", are the last part;
		// anything else ("x + y = 1") is an equation.
		lhs, rhs := parts[0], parts[len(parts)-1]
		chain := true
		for _, p := range parts[:len(parts)-1] {
			chain = chain && (isName(p) || isConstString(p))
		}
		// A longer chain ending in a number states its value, whatever
		// its left side: "Volume = 20 \times 2 = 40".
		if len(parts) > 2 && isConstString(stripUnitWords(rhs, isConstString)) {
			chain = true
		}
		switch {
		case len(parts) == 2 && isName(lhs):
			p := parseStructure(rhs, depth+1)
			p.name = lhs
			return p
		case chain:
			return parseStructure(rhs, depth+1)
		case len(parts) == 2:
			return &ansPart{kind: kEquation, s: lhs, rhs: rhs}
		}
		return &ansPart{kind: kScalar, s: s}
	}
	if strings.HasPrefix(s, `\{`) && strings.HasSuffix(s, `\}`) && matchBracket(s, 1) == len(s)-1 {
		inner := s[2 : len(s)-2]
		ps := splitTop(inner, []string{",", ";"})
		return listPart(ps, depth)
	}
	if m := parseMatrix(s, depth); m != nil {
		return m
	}
	if len(s) >= 2 && (s[0] == '(' || s[0] == '[') && (s[len(s)-1] == ')' || s[len(s)-1] == ']') && matchBracket(s, 0) == len(s)-1 {
		if ps := splitTop(s[1:len(s)-1], []string{","}); len(ps) > 1 && len(ps) <= maxElems {
			t := &ansPart{kind: kTuple, open: s[0], close: s[len(s)-1]}
			for _, e := range ps {
				t.elems = append(t.elems, parseStructure(e, depth+1))
			}
			return t
		}
	}
	if vs := expandPM(s, 0); len(vs) > 1 {
		return listPart(vs, depth)
	}
	return &ansPart{kind: kScalar, s: s}
}

// listPart makes an unordered list; nested lists (from \pm) are flattened.
func listPart(ps []string, depth int) *ansPart {
	if len(ps) > maxElems {
		return &ansPart{kind: kScalar, s: strings.Join(ps, ",")}
	}
	l := &ansPart{kind: kList}
	for _, e := range ps {
		p := parseStructure(e, depth+1)
		if p.kind == kList && len(l.elems)+len(p.elems) <= maxElems {
			for _, q := range p.elems {
				if q.name == "" {
					q.name = p.name
				}
				l.elems = append(l.elems, q)
			}
			continue
		}
		l.elems = append(l.elems, p)
	}
	return l
}

// scanTop calls f at every byte offset of s at bracket depth 0 ((, [, {,
// \begin ... \end) that is not inside a command name. f returns how many
// bytes to skip (0 to continue normally) or -1 to stop.
func scanTop(s string, f func(i int) int) {
	depth := 0
	for i := 0; i < len(s); i++ {
		if depth == 0 {
			if n := f(i); n < 0 {
				return
			} else if n > 0 {
				i += n - 1
				continue
			}
		}
		switch c := s[i]; c {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case '\\':
			j := i + 1
			for j < len(s) && isASCIILetter(s[j]) {
				j++
			}
			switch s[i+1 : j] {
			case "begin":
				depth++
			case "end":
				depth--
			case "":
				// An escaped symbol: \{ and \} still count as brackets.
				if j < len(s) {
					switch s[j] {
					case '(', '[', '{':
						depth++
					case ')', ']', '}':
						depth--
					}
					j++
				}
			}
			i = j - 1
		}
	}
}

// splitTop splits s at separators found at bracket depth 0. Empty parts
// are kept (so "1,,2" does not pass for a pair).
func splitTop(s string, seps []string) []string {
	var parts []string
	last := 0
	scanTop(s, func(i int) int {
		for _, sep := range seps {
			if strings.HasPrefix(s[i:], sep) {
				if sep[0] == '\\' && i+len(sep) < len(s) && isASCIILetter(s[i+len(sep)]) {
					continue // \cupx is another command
				}
				parts = append(parts, strings.TrimSpace(s[last:i]))
				last = i + len(sep)
				return len(sep)
			}
		}
		return 0
	})
	if parts == nil {
		return []string{s}
	}
	return append(parts, strings.TrimSpace(s[last:]))
}

// splitEquals splits s at its top-level '=' signs (not those of <=, >=,
// != or :=). It returns nil when there is none or a part is empty.
func splitEquals(s string) []string {
	var parts []string
	last, bad := 0, false
	scanTop(s, func(i int) int {
		if s[i] != '=' {
			return 0
		}
		if i > 0 && strings.ContainsRune("<>!:=", rune(s[i-1])) || i+1 < len(s) && s[i+1] == '=' {
			bad = true
			return -1
		}
		parts = append(parts, strings.TrimSpace(s[last:i]))
		last = i + 1
		return 0
	})
	if bad || parts == nil {
		return nil
	}
	parts = append(parts, strings.TrimSpace(s[last:]))
	for _, p := range parts {
		if p == "" {
			return nil
		}
	}
	return parts
}

// isName reports whether s names what the answer is the value of: x,
// x_1, \theta, f(x), AB, or a tuple of names like (b,c).
func isName(s string) bool { return nameRe.MatchString(s) || nameTupleRe.MatchString(s) }

// matchBracket returns the index closing the bracket at s[open] (any of
// ( [ { closes with any of ) ] }, so intervals like (1,2] match), or -1.
func matchBracket(s string, open int) int {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// expandPM returns the values of an expression with \pm or \mp (at most
// 3 of them), or nil.
func expandPM(s string, level int) []string {
	i := pmIndex(s)
	if i < 0 {
		if level == 0 {
			return nil
		}
		return []string{s}
	}
	if level >= 3 {
		return nil
	}
	first, second := "+", "-"
	if s[i+1:i+3] == "mp" {
		first, second = "-", "+"
	}
	a := expandPM(s[:i]+first+s[i+3:], level+1)
	b := expandPM(s[:i]+second+s[i+3:], level+1)
	if a == nil || b == nil {
		return nil
	}
	return append(a, b...)
}

func pmIndex(s string) int {
	for _, c := range []string{`\pm`, `\mp`} {
		off := 0
		for {
			j := strings.Index(s[off:], c)
			if j < 0 {
				break
			}
			j += off
			if j+3 >= len(s) || !isASCIILetter(s[j+3]) {
				return j
			}
			off = j + 3
		}
	}
	return -1
}

var matrixEnvs = map[string]bool{
	"matrix": true, "pmatrix": true, "bmatrix": true, "Bmatrix": true, "vmatrix": true,
	"Vmatrix": true, "smallmatrix": true, "array": true,
}

// parseMatrix parses \begin{pmatrix} a & b \\ c & d \end{pmatrix}.
func parseMatrix(s string, depth int) *ansPart {
	if !strings.HasPrefix(s, `\begin{`) {
		return nil
	}
	j := strings.IndexByte(s, '}')
	if j < 0 {
		return nil
	}
	env := s[len(`\begin{`):j]
	if !matrixEnvs[env] || !strings.HasSuffix(s, `\end{`+env+`}`) {
		return nil
	}
	body := s[j+1 : len(s)-len(`\end{`+env+`}`)]
	if env == "array" && strings.HasPrefix(strings.TrimSpace(body), "{") {
		body = strings.TrimSpace(body)
		k := labeler.MatchBrace(body, 0)
		if k < 0 {
			return nil
		}
		body = body[k+1:]
	}
	rows := splitTop(body, []string{`\\`})
	if len(rows) > 1 && rows[len(rows)-1] == "" {
		rows = rows[:len(rows)-1]
	}
	m := &ansPart{kind: kMatrix, rows: len(rows)}
	cols := -1
	for _, r := range rows {
		cs := splitTop(r, []string{"&"})
		if cols >= 0 && len(cs) != cols {
			return nil
		}
		cols = len(cs)
		if len(m.elems)+cols > maxElems {
			return nil
		}
		for _, c := range cs {
			m.elems = append(m.elems, parseStructure(c, depth+1))
		}
	}
	return m
}

func equalParts(a, b *ansPart, pctA, pctB bool) bool {
	if a.kind != b.kind {
		if b.kind == kEquation {
			a, b = b, a
		}
		if a.kind == kEquation && b.kind == kScalar {
			// "|r-s| = 16" states the value 16 of an expression.
			if v, ok := equationValue(a); ok {
				return scalarEqual(v, b, pctA, pctB)
			}
		}
		return false
	}
	switch a.kind {
	case kScalar:
		return scalarEqual(a, b, pctA, pctB)
	case kTuple, kMatrix:
		if a.open != b.open || a.close != b.close || a.rows != b.rows || len(a.elems) != len(b.elems) {
			return false
		}
		for i := range a.elems {
			if !namesAgree(a.elems[i], b.elems[i]) || !equalParts(a.elems[i], b.elems[i], pctA, pctB) {
				return false
			}
		}
		return true
	case kEquation:
		return equationEqual(a, b)
	case kList:
		return multisetEqual(a.elems, b.elems, pctA, pctB)
	}
	return false
}

func namesAgree(a, b *ansPart) bool { return a.name == "" || b.name == "" || a.name == b.name }

// multisetEqual reports whether a perfect matching pairs every element of
// a with an equal element of b (Kuhn's augmenting paths; n <= maxElems).
func multisetEqual(a, b []*ansPart, pctA, pctB bool) bool {
	n := len(a)
	if n != len(b) {
		return false
	}
	eq := make([]int8, n*n) // 0 unknown, 1 equal, -1 not
	equal := func(i, j int) bool {
		if eq[i*n+j] == 0 {
			eq[i*n+j] = -1
			if namesAgree(a[i], b[j]) && equalParts(a[i], b[j], pctA, pctB) {
				eq[i*n+j] = 1
			}
		}
		return eq[i*n+j] == 1
	}
	matchB := make([]int, n)
	for j := range matchB {
		matchB[j] = -1
	}
	var try func(i int, seen []bool) bool
	try = func(i int, seen []bool) bool {
		for j := 0; j < n; j++ {
			if seen[j] || !equal(i, j) {
				continue
			}
			seen[j] = true
			if matchB[j] < 0 || try(matchB[j], seen) {
				matchB[j] = i
				return true
			}
		}
		return false
	}
	for i := 0; i < n; i++ {
		if !try(i, make([]bool, n)) {
			return false
		}
	}
	return true
}

// ansScalar is a prepared scalar answer.
type ansScalar struct {
	s       string
	choice  byte // A of "A" or "(A)"
	prefix  byte // A of "(A) 12"
	expr    *exprNode
	vars    map[string]bool
	isConst bool
	decimal bool // written with a decimal point
	val     numValue
	key     string
}

var (
	choiceRe       = regexp.MustCompile(`^\(?([A-Z])\)?$`)
	choicePrefixRe = regexp.MustCompile(`^\(([A-Z])\)(?:\s|$)`)
	mixedRe        = regexp.MustCompile(`^(-?)(\d+) (\d+)/(\d+)$`)
	keyStrip       = strings.NewReplacer(" ", "", "{", "", "}", "")
)

func isConstString(s string) bool {
	n, vars := parseExpr(s)
	return n != nil && len(vars) == 0
}

func prepareScalar(p *ansPart) *ansScalar {
	if p.prep != nil {
		return p.prep
	}
	sc := &ansScalar{s: p.s}
	if m := choiceRe.FindStringSubmatch(p.s); m != nil {
		sc.choice = m[1][0]
	} else if m := choicePrefixRe.FindStringSubmatch(p.s); m != nil {
		sc.prefix = m[1][0]
	}
	s := p.s
	if m := mixedRe.FindStringSubmatch(s); m != nil {
		s = m[1] + "(" + m[2] + "+" + m[3] + "/" + m[4] + ")"
	}
	s = stripUnitWords(s, isConstString)
	sc.s = s
	sc.key = strings.ToLower(keyStrip.Replace(s))
	sc.expr, sc.vars = parseExpr(s)
	if sc.expr != nil && len(sc.vars) == 0 {
		sc.isConst = true
		sc.decimal = strings.Contains(s, ".")
		sc.val = evalConst(sc.expr)
	}
	p.prep = sc
	return sc
}

func scalarEqual(a, b *ansPart, pctA, pctB bool) bool {
	if a.s == b.s {
		return true
	}
	pa, pb := prepareScalar(a), prepareScalar(b)
	if pa.s == pb.s {
		return true
	}
	if pa.choice != 0 || pb.choice != 0 {
		ca, cb := pa.choice, pb.choice
		if ca == 0 {
			ca = pa.prefix
		}
		if cb == 0 {
			cb = pb.prefix
		}
		if ca != 0 && cb != 0 {
			return ca == cb
		}
	}
	if pa.expr != nil && pb.expr != nil {
		if pa.isConst && pb.isConst {
			if pa.val.lost && pb.val.lost {
				// Both too large to evaluate: the same text is the same
				// number (2^{5000} + 1 and 2^{5000}+1).
				return pa.key == pb.key
			}
			return numbersEqual(pa.val, pb.val, pa.decimal, pb.decimal, pctA, pctB)
		}
		if eq, ok := sampleEqual(pa.expr, pb.expr, pa.vars, pb.vars); ok {
			return eq
		}
	}
	return pa.key == pb.key
}

var bigHundred = big.NewRat(100, 1)

// numbersEqual compares two constant values; decA and decB tell whether
// each was written with a decimal point.
func numbersEqual(a, b numValue, decA, decB, pctA, pctB bool) bool {
	if valuesEqual(a, b, decA, decB) {
		return true
	}
	switch {
	case pctA && !pctB:
		return valuesEqual(percentOf(a), b, decA, decB)
	case pctB && !pctA:
		return valuesEqual(a, percentOf(b), decA, decB)
	}
	return false
}

func percentOf(v numValue) numValue {
	if v.r != nil {
		return exactValue(new(big.Rat).Quo(v.r, bigHundred))
	}
	return numValue{f: v.f / 100, lost: v.lost}
}

// valuesEqual: two exact rationals are equal only when identical, unless
// one was written as a decimal and the other has no finite decimal
// expansion (0.3333333 for 1/3), which is compared with the tolerance like
// any inexact value.
func valuesEqual(a, b numValue, decA, decB bool) bool {
	if a.lost || b.lost {
		return false
	}
	if a.r != nil && b.r != nil {
		if a.r.Cmp(b.r) == 0 {
			return true
		}
		if !(decA && !terminates(b.r) || decB && !terminates(a.r)) {
			return false
		}
	}
	return closeFloat(a.f, b.f)
}

// terminates reports whether r has a finite decimal expansion (its
// denominator has no prime factors but 2 and 5).
func terminates(r *big.Rat) bool {
	d := new(big.Int).Rsh(r.Denom(), r.Denom().TrailingZeroBits())
	five, m := big.NewInt(5), new(big.Int)
	for d.BitLen() > 1 {
		q, rem := new(big.Int).QuoRem(d, five, m)
		if rem.Sign() != 0 {
			return false
		}
		d = q
	}
	return true
}

func closeFloat(x, y float64) bool {
	if math.IsNaN(x) || math.IsNaN(y) {
		return false
	}
	if math.IsInf(x, 0) || math.IsInf(y, 0) {
		return x == y
	}
	d := math.Abs(x - y)
	m := math.Max(math.Abs(x), math.Abs(y))
	return d <= relTol*m || m < zeroTol
}

// sampleValue is the value of variable name at sample point k: a
// deterministic pseudo-random number in [0.4, 2.4).
func sampleValue(name string, k int) float64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	z := h.Sum64() + uint64(k+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return 0.4 + 2*float64(z>>11)/float64(1<<53)
}

// sampler binds variables to the values of one sample point, caching the
// hash of each name.
func sampler(vars []string, k int) func(string) float64 {
	vals := make(map[string]float64, len(vars))
	for _, v := range vars {
		vals[v] = sampleValue(v, k)
	}
	return func(name string) float64 {
		if v, ok := vals[name]; ok {
			return v
		}
		return sampleValue(name, k)
	}
}

func unionVars(a, b map[string]bool) []string {
	vs := make([]string, 0, len(a)+len(b))
	for v := range a {
		vs = append(vs, v)
	}
	for v := range b {
		if !a[v] {
			vs = append(vs, v)
		}
	}
	sort.Strings(vs)
	return vs
}

// sampleEqual compares two expressions at the sample points; ok is false
// when fewer than 3 points are defined for both.
func sampleEqual(x, y *exprNode, vx, vy map[string]bool) (eq, ok bool) {
	vars := unionVars(vx, vy)
	valid := 0
	for k := 0; k < samplePoints; k++ {
		env := sampler(vars, k)
		vx, vy := evalFloat(x, env), evalFloat(y, env)
		// Undefined (NaN) or unknown (overflowed) at this point.
		nx, ny := math.IsNaN(vx.f) || vx.lost, math.IsNaN(vy.f) || vy.lost
		switch {
		case nx && ny:
			continue
		case nx || ny:
			return false, true
		case !closeFloat(vx.f, vy.f):
			return false, true
		}
		valid++
	}
	return true, valid >= 3
}

// equationEqual reports whether lhs-rhs of b is a non-zero multiple of
// lhs-rhs of a at every sample point.
func equationEqual(a, b *ansPart) bool {
	// Floating-point ratios are not exactly symmetric: fix the order so
	// that equationEqual(a, b) == equationEqual(b, a).
	if a.s+"="+a.rhs > b.s+"="+b.rhs {
		a, b = b, a
	}
	if eq, ok := constEquationsEqual(a, b); ok {
		return eq
	}
	fa, va := equationNode(a)
	fb, vb := equationNode(b)
	if fa == nil || fb == nil {
		return strings.EqualFold(keyStrip.Replace(a.s+"="+a.rhs), keyStrip.Replace(b.s+"="+b.rhs))
	}
	vars := unionVars(va, vb)
	ratio := math.NaN()
	valid := 0
	for k := 0; k < samplePoints; k++ {
		env := sampler(vars, k)
		vx, vy := evalFloat(fa, env), evalFloat(fb, env)
		x, y := vx.f, vy.f
		bx := math.IsNaN(x) || math.IsInf(x, 0) || vx.lost
		by := math.IsNaN(y) || math.IsInf(y, 0) || vy.lost
		if bx || by {
			if bx != by {
				return false
			}
			continue
		}
		valid++
		if math.Abs(x) < zeroTol || math.Abs(y) < zeroTol {
			if !(math.Abs(x) < zeroTol && math.Abs(y) < zeroTol) {
				return false
			}
			continue
		}
		if math.IsNaN(ratio) {
			ratio = y / x
			continue
		}
		if !closeFloat(y, ratio*x) {
			return false
		}
	}
	return valid >= 3
}

func equationNode(p *ansPart) (*exprNode, map[string]bool) {
	l, lv := parseExpr(p.s)
	r, rv := parseExpr(p.rhs)
	if l == nil || r == nil {
		return nil, nil
	}
	for v := range rv {
		lv[v] = true
	}
	return &exprNode{op: opSub, a: l, b: r}, lv
}

// equationValue returns the right side of an equation "lhs = c" whose
// right side is a non-zero constant and whose left side is not: the value
// the equation states. An equation "... = 0" states no value.
func equationValue(p *ansPart) (*ansPart, bool) {
	rhs := &ansPart{kind: kScalar, s: p.rhs}
	sc := prepareScalar(rhs)
	if !sc.isConst || sc.val.lost || sc.val.r != nil && sc.val.r.Sign() == 0 || sc.val.r == nil && sc.val.f == 0 || isConstString(p.s) {
		return nil, false
	}
	return rhs, true
}

// constEquationsEqual compares two equations "lhs = c" with constant right
// sides: equal when lhs_b = k lhs_a at every sample point for k = c_b/c_a.
// Comparing lhs-rhs instead would hide a different large constant
// (x+y = 4027 against x+y = 4028). ok is false when a right side is not a
// non-zero constant.
func constEquationsEqual(a, b *ansPart) (eq, ok bool) {
	ra, oka := equationValue(a)
	rb, okb := equationValue(b)
	if !oka || !okb {
		return false, false
	}
	ca, cb := prepareScalar(ra).val, prepareScalar(rb).val
	la, va := parseExpr(a.s)
	lb, vb := parseExpr(b.s)
	if la == nil || lb == nil {
		return false, false
	}
	k := cb.f / ca.f
	vars := unionVars(va, vb)
	valid := 0
	for i := 0; i < samplePoints; i++ {
		env := sampler(vars, i)
		x, y := evalFloat(la, env), evalFloat(lb, env)
		bx := math.IsNaN(x.f) || math.IsInf(x.f, 0) || x.lost
		by := math.IsNaN(y.f) || math.IsInf(y.f, 0) || y.lost
		if bx || by {
			if bx != by {
				return false, true
			}
			continue
		}
		if !closeFloat(y.f, k*x.f) {
			return false, true
		}
		valid++
	}
	return valid >= 3, true
}

// relation is one inequality sign: less ("<", "\le") or greater, strict
// or not.
type relation struct{ less, strict bool }

var relationTokens = []struct {
	tok string
	rel relation
}{
	{`\leqslant`, relation{true, false}}, {`\geqslant`, relation{false, false}},
	{`\leq`, relation{true, false}}, {`\geq`, relation{false, false}},
	{`\le`, relation{true, false}}, {`\ge`, relation{false, false}},
	{`\lt`, relation{true, true}}, {`\gt`, relation{false, true}},
	{"<=", relation{true, false}}, {">=", relation{false, false}},
	{"<", relation{true, true}}, {">", relation{false, true}},
}

// splitRelations splits s at its top-level inequality signs.
func splitRelations(s string) ([]string, []relation) {
	var parts []string
	var rels []relation
	last := 0
	scanTop(s, func(i int) int {
		for _, t := range relationTokens {
			if !strings.HasPrefix(s[i:], t.tok) {
				continue
			}
			if t.tok[0] == '\\' && i+len(t.tok) < len(s) && isASCIILetter(s[i+len(t.tok)]) {
				continue
			}
			parts = append(parts, strings.TrimSpace(s[last:i]))
			rels = append(rels, t.rel)
			last = i + len(t.tok)
			return len(t.tok)
		}
		return 0
	})
	if rels == nil {
		return nil, nil
	}
	return append(parts, strings.TrimSpace(s[last:])), rels
}

// parseInequality reads "x > 3", "3 \le x", "-2 < x \le 5" as the interval
// of x they describe ((3, \infty), [3, \infty), (-2, 5]), or returns nil.
func parseInequality(s string, depth int) *ansPart {
	if !strings.ContainsAny(s, "<>") && !strings.Contains(s, `\le`) && !strings.Contains(s, `\ge`) && !strings.Contains(s, `\lt`) && !strings.Contains(s, `\gt`) {
		return nil
	}
	parts, rels := splitRelations(s)
	if len(rels) == 0 || len(rels) > 2 {
		return nil
	}
	for _, p := range parts {
		if p == "" {
			return nil
		}
	}
	bound := func(p string) bool { return isConstString(p) }
	lo, hi := `-\infty`, `\infty`
	open, close := byte('('), byte(')')
	var name string
	set := func(b string, r relation, below bool) {
		// below: b is a lower bound of the variable.
		if below {
			lo = b
			if !r.strict {
				open = '['
			}
		} else {
			hi = b
			if !r.strict {
				close = ']'
			}
		}
	}
	switch {
	case len(rels) == 1 && isName(parts[0]) && bound(parts[1]):
		name = parts[0]
		set(parts[1], rels[0], !rels[0].less)
	case len(rels) == 1 && bound(parts[0]) && isName(parts[1]):
		name = parts[1]
		set(parts[0], rels[0], rels[0].less)
	case len(rels) == 2 && rels[0].less == rels[1].less && bound(parts[0]) && isName(parts[1]) && bound(parts[2]):
		name = parts[1]
		set(parts[0], rels[0], rels[0].less)
		set(parts[2], rels[1], !rels[1].less)
	default:
		return nil
	}
	return &ansPart{kind: kTuple, open: open, close: close, name: name, elems: []*ansPart{
		parseStructure(lo, depth+1), parseStructure(hi, depth+1),
	}}
}
