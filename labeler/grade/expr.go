package grade

import (
	"math"
	"math/big"
	"strings"
)

// A small parser and evaluator for the arithmetic found in final answers:
// numbers (1.5, .5, 1.5e6), + - * / ^, \cdot \times \div, implicit
// multiplication (2\sqrt{3}, 2(x+1), \pi r^2), \frac{a}{b}, \frac ab,
// mixed numbers (2\frac{1}{2}), \sqrt{x}, \sqrt[n]{x}, \pi, \infty,
// factorial, \binom, the usual functions (\sin, \ln, \log_b, ...), single
// letter variables (x, x_1, \theta). Runs of three or more letters that are
// not a function name are refused, so words are compared as text.
//
// Work is bounded: inputs over maxExprLen bytes, deeper than maxExprDepth
// or with more than maxExprNodes nodes are refused, and exact rational
// arithmetic falls back to floating point when numbers grow past
// maxRatBits.

const (
	maxExprLen   = 512
	maxExprDepth = 250 // about 50 levels of brackets
	maxExprNodes = 300
	maxRatBits   = 2048
)

type opKind uint8

const (
	opNum opKind = iota
	opVar
	opPi
	opInf
	opAdd
	opSub
	opMul
	opDiv
	opPow
	opNeg
	opFact
	opRoot // a: radicand, b: index
	opFunc // name, a: argument, b: log base (optional)
	opBinom
)

type exprNode struct {
	op    opKind
	name  string
	num   *big.Rat // opNum: exact value
	a, b  *exprNode
	isInt bool // opNum written as an integer literal
	// mixedOK marks \frac{int}{int}, which may follow an integer to form
	// a mixed number.
	mixedOK bool
}

type exprParser struct {
	s     string
	i     int
	depth int
	nodes int
	bad   bool
	vars  map[string]bool
}

// parseExpr parses s as one arithmetic expression. It returns nil if s is
// not one (or is too large).
func parseExpr(s string) (*exprNode, map[string]bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxExprLen {
		return nil, nil
	}
	p := &exprParser{s: s, vars: map[string]bool{}}
	n := p.expr()
	p.space()
	if p.bad || n == nil || p.i != len(p.s) {
		return nil, nil
	}
	return n, p.vars
}

func (p *exprParser) fail() *exprNode {
	p.bad = true
	return nil
}

func (p *exprParser) mk(n *exprNode) *exprNode {
	p.nodes++
	if p.nodes > maxExprNodes {
		return p.fail()
	}
	return n
}

// nested runs step one level deeper, failing the parse past maxExprDepth
// so that deeply nested input cannot exhaust the stack.
func (p *exprParser) nested(step func() *exprNode) *exprNode {
	p.depth++
	if p.depth > maxExprDepth {
		return p.fail()
	}
	defer func() { p.depth-- }()
	return step()
}

func (p *exprParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *exprParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// command returns the name of the control sequence at p.i (without the
// backslash), or "".
func (p *exprParser) command() string {
	if p.peek() != '\\' {
		return ""
	}
	j := p.i + 1
	for j < len(p.s) && isASCIILetter(p.s[j]) {
		j++
	}
	return p.s[p.i+1 : j]
}

func (p *exprParser) expr() *exprNode {
	return p.nested(func() *exprNode {
		n := p.term()
		for !p.bad {
			p.space()
			c := p.peek()
			if c != '+' && c != '-' {
				break
			}
			p.i++
			r := p.term()
			if p.bad {
				return nil
			}
			op := opAdd
			if c == '-' {
				op = opSub
			}
			n = p.mk(&exprNode{op: op, a: n, b: r})
		}
		return n
	})
}

var (
	mulCommands  = map[string]bool{"cdot": true, "times": true, "ast": true}
	divCommands  = map[string]bool{"div": true}
	greekLetters = map[string]bool{
		"alpha": true, "beta": true, "gamma": true, "delta": true, "epsilon": true, "varepsilon": true,
		"zeta": true, "eta": true, "theta": true, "vartheta": true, "iota": true, "kappa": true,
		"lambda": true, "mu": true, "nu": true, "xi": true, "rho": true, "sigma": true, "tau": true,
		"phi": true, "varphi": true, "chi": true, "psi": true, "omega": true,
		"Gamma": true, "Delta": true, "Theta": true, "Lambda": true, "Sigma": true, "Phi": true, "Psi": true, "Omega": true,
	}
)

func isNegInt(n *exprNode) bool {
	return n != nil && n.op == opNeg && n.a != nil && n.a.op == opNum && n.a.isInt
}

func (p *exprParser) term() *exprNode {
	return p.nested(func() *exprNode {
		n := p.unary()
		intLit := n != nil && (n.op == opNum && n.isInt || isNegInt(n))
		for !p.bad {
			p.space()
			c := p.peek()
			switch {
			case c == '*' && !strings.HasPrefix(p.s[p.i:], "**"):
				p.i++
				n = p.mk(&exprNode{op: opMul, a: n, b: p.unary()})
			case c == '/':
				p.i++
				n = p.mk(&exprNode{op: opDiv, a: n, b: p.unary()})
			case c == '\\' && mulCommands[p.command()]:
				p.i += 1 + len(p.command())
				n = p.mk(&exprNode{op: opMul, a: n, b: p.unary()})
			case c == '\\' && divCommands[p.command()]:
				p.i += 1 + len(p.command())
				n = p.mk(&exprNode{op: opDiv, a: n, b: p.unary()})
			case p.startsImplicit():
				if isASCIIDigit(c) || c == '.' {
					return p.fail() // "2 3" is not a product
				}
				r := p.power()
				if p.bad {
					return nil
				}
				if intLit && r.op == opDiv && r.mixedOK {
					// Mixed number: 2\frac{1}{2} = 2 + 1/2, -2\frac12 = -(2 + 1/2).
					if n.op == opNeg {
						n = p.mk(&exprNode{op: opSub, a: n, b: r})
					} else {
						n = p.mk(&exprNode{op: opAdd, a: n, b: r})
					}
				} else {
					n = p.mk(&exprNode{op: opMul, a: n, b: r})
				}
			default:
				return n
			}
			intLit = false
			if n == nil {
				return p.fail()
			}
		}
		return n
	})
}

// startsImplicit reports whether the next token can start a factor of an
// implicit product.
func (p *exprParser) startsImplicit() bool {
	c := p.peek()
	switch {
	case c == 0:
		return false
	case isASCIIDigit(c) || c == '.' || isASCIILetter(c) || c == '(' || c == '[' || c == '{':
		return true
	case c == '\\':
		cmd := p.command()
		return cmd != "" && !mulCommands[cmd] && !divCommands[cmd]
	}
	return false
}

func (p *exprParser) unary() *exprNode {
	return p.nested(func() *exprNode {
		p.space()
		switch p.peek() {
		case '-':
			p.i++
			a := p.unary()
			if p.bad {
				return nil
			}
			return p.mk(&exprNode{op: opNeg, a: a})
		case '+':
			p.i++
			return p.unary()
		}
		return p.power()
	})
}

func (p *exprParser) power() *exprNode {
	return p.nested(func() *exprNode {
		b := p.postfix()
		if p.bad {
			return nil
		}
		p.space()
		if p.peek() == '^' || strings.HasPrefix(p.s[p.i:], "**") {
			if p.peek() == '^' {
				p.i++
			} else {
				p.i += 2
			}
			e := p.exponent()
			if p.bad {
				return nil
			}
			return p.mk(&exprNode{op: opPow, a: b, b: e})
		}
		return b
	})
}

// exponent reads what follows '^': a braced group, a signed exponent, a
// whole number (2^10 means 1024 in plain text answers), a letter or a
// command.
func (p *exprParser) exponent() *exprNode {
	p.space()
	switch c := p.peek(); {
	case c == '{':
		return p.group()
	case c == '-' || c == '+':
		return p.unary()
	}
	return p.power()
}

func (p *exprParser) postfix() *exprNode {
	n := p.primary()
	for !p.bad {
		// "d !" is d!: white space may come before the sign.
		j := p.i
		p.space()
		if p.peek() != '!' {
			p.i = j
			break
		}
		p.i++
		n = p.mk(&exprNode{op: opFact, a: n})
	}
	return n
}

func isASCIIDigit(c byte) bool { return '0' <= c && c <= '9' }

var closingBracket = map[byte]byte{'(': ')', '[': ']', '{': '}'}

func (p *exprParser) group() *exprNode {
	open := p.s[p.i]
	p.i++
	n := p.expr()
	p.space()
	if p.bad || p.peek() != closingBracket[open] {
		return p.fail()
	}
	p.i++
	return n
}

func (p *exprParser) primary() *exprNode {
	return p.nested(func() *exprNode {
		p.space()
		c := p.peek()
		switch {
		case isASCIIDigit(c) || c == '.':
			return p.number()
		case c == '(' || c == '[' || c == '{':
			return p.group()
		case isASCIILetter(c):
			j := p.i
			for j < len(p.s) && isASCIILetter(p.s[j]) {
				j++
			}
			word := p.s[p.i:j]
			if isFuncName(word) || word == "sqrt" {
				p.i = j
				return p.function(word)
			}
			if len(word) >= 3 {
				return p.fail() // a word, not a product of variables
			}
			p.i++
			return p.variable(word[:1])
		case c == '\\':
			cmd := p.command()
			if cmd == "" {
				return p.fail()
			}
			p.i += 1 + len(cmd)
			switch {
			case cmd == "frac":
				num := p.arg()
				den := p.arg()
				if p.bad {
					return nil
				}
				n := p.mk(&exprNode{op: opDiv, a: num, b: den})
				if n != nil {
					n.mixedOK = num.op == opNum && num.isInt && den.op == opNum && den.isInt
				}
				return n
			case cmd == "sqrt":
				return p.function("sqrt")
			case cmd == "binom":
				n, k := p.arg(), p.arg()
				if p.bad {
					return nil
				}
				return p.mk(&exprNode{op: opBinom, a: n, b: k})
			case cmd == "pi":
				return p.mk(&exprNode{op: opPi})
			case cmd == "infty" || cmd == "infinity":
				return p.mk(&exprNode{op: opInf})
			case isFuncName(cmd):
				return p.function(cmd)
			case greekLetters[cmd]:
				return p.variable(`\` + cmd)
			}
			return p.fail()
		}
		return p.fail()
	})
}

// variable finishes a variable whose name was read: a subscript (x_1,
// x_{12}) and primes belong to the name.
func (p *exprParser) variable(name string) *exprNode {
	if p.peek() == '_' {
		p.i++
		sub, ok := p.subscript()
		if !ok {
			return p.fail()
		}
		name += "_" + sub
	}
	for p.peek() == '\'' {
		p.i++
		name += "'"
	}
	p.vars[name] = true
	return p.mk(&exprNode{op: opVar, name: name})
}

// subscript reads a subscript's text: {...} with letters and digits only,
// or one letter or digit.
func (p *exprParser) subscript() (string, bool) {
	if p.peek() == '{' {
		j := strings.IndexByte(p.s[p.i:], '}')
		if j < 0 {
			return "", false
		}
		sub := strings.TrimSpace(p.s[p.i+1 : p.i+j])
		for k := 0; k < len(sub); k++ {
			if !isASCIIDigit(sub[k]) && !isASCIILetter(sub[k]) {
				return "", false
			}
		}
		p.i += j + 1
		return sub, sub != ""
	}
	c := p.peek()
	if isASCIIDigit(c) || isASCIILetter(c) {
		p.i++
		return string(c), true
	}
	return "", false
}

func (p *exprParser) number() *exprNode {
	j := p.i
	for j < len(p.s) && isASCIIDigit(p.s[j]) {
		j++
	}
	isInt := true
	if j < len(p.s) && p.s[j] == '.' {
		isInt = false
		j++
		for j < len(p.s) && isASCIIDigit(p.s[j]) {
			j++
		}
	}
	lit := p.s[p.i:j]
	if lit == "." {
		return p.fail()
	}
	// Scientific notation: 1.5e6, 2E-3 (only with digits after the e).
	if j < len(p.s) && (p.s[j] == 'e' || p.s[j] == 'E') {
		k := j + 1
		if k < len(p.s) && (p.s[k] == '+' || p.s[k] == '-') {
			k++
		}
		if k < len(p.s) && isASCIIDigit(p.s[k]) {
			for k < len(p.s) && isASCIIDigit(p.s[k]) {
				k++
			}
			if k-j > 6 {
				return p.fail()
			}
			lit = p.s[p.i:k]
			j = k
			isInt = false
		}
	}
	if j < len(p.s) && (p.s[j] == '_' || p.s[j] == '.') {
		return p.fail() // 52_8 is a numeral in base 8; 1.2.3 is not a number
	}
	r, ok := new(big.Rat).SetString(lit)
	if !ok {
		return p.fail()
	}
	p.i = j
	return p.mk(&exprNode{op: opNum, num: r, isInt: isInt})
}

// arg reads one LaTeX macro argument: a braced group, one digit, one
// letter or one command.
func (p *exprParser) arg() *exprNode {
	return p.nested(func() *exprNode {
		p.space()
		c := p.peek()
		switch {
		case c == '{':
			return p.group()
		case isASCIIDigit(c):
			p.i++
			r := new(big.Rat).SetInt64(int64(c - '0'))
			return p.mk(&exprNode{op: opNum, num: r, isInt: true})
		case isASCIILetter(c):
			p.i++
			return p.variable(string(c))
		case c == '\\':
			return p.primary()
		}
		return p.fail()
	})
}

// function parses the rest of a function application: optional power
// (\sin^2 x), optional base (\log_2 x), index (\sqrt[3]{x}), argument.
func (p *exprParser) function(name string) *exprNode {
	var pow, base *exprNode
	p.space()
	if name == "sqrt" {
		if p.peek() == '[' {
			p.i++
			base = p.expr()
			p.space()
			if p.bad || p.peek() != ']' {
				return p.fail()
			}
			p.i++
		}
		a := p.groupOr(p.arg)
		if p.bad {
			return nil
		}
		return p.mk(&exprNode{op: opRoot, a: a, b: base})
	}
	if p.peek() == '^' {
		p.i++
		pow = p.exponent()
		p.space()
	}
	if name == "log" && p.peek() == '_' {
		p.i++
		p.space()
		if p.peek() == '{' {
			base = p.group()
		} else {
			base = p.arg()
		}
		p.space()
	}
	if p.bad {
		return nil
	}
	a := p.groupOr(p.power)
	if p.bad {
		return nil
	}
	n := p.mk(&exprNode{op: opFunc, name: name, a: a, b: base})
	if pow != nil && n != nil {
		n = p.mk(&exprNode{op: opPow, a: n, b: pow})
	}
	return n
}

// groupOr reads a parenthesized group, or else what other reads: the
// argument of a function.
func (p *exprParser) groupOr(other func() *exprNode) *exprNode {
	if p.peek() == '(' {
		return p.group()
	}
	return other()
}

// numValue is a number, exact when r != nil. lost marks a floating-point
// result that overflowed to ±Inf from finite operands, or underflowed to 0
// from non-zero ones (2^{5000}, \frac{1}{2004!}): its value is unknown,
// so it equals nothing.
type numValue struct {
	r    *big.Rat
	f    float64
	lost bool
}

func exactValue(r *big.Rat) numValue {
	f, _ := r.Float64()
	if r.Num().BitLen()+r.Denom().BitLen() > maxRatBits {
		return numValue{f: f, lost: math.IsInf(f, 0) || f == 0 && r.Sign() != 0}
	}
	return numValue{r: r, f: f}
}

func inexactValue(f float64) numValue { return numValue{f: f} }

// floatValue is the inexact result f of an operation on args, with lost
// set as described at numValue; scaling says whether a zero result from
// non-zero operands is an underflow (products, quotients, powers).
func floatValue(f float64, scaling bool, args ...numValue) numValue {
	v := numValue{f: f}
	finite, nonzero := true, true
	for _, a := range args {
		v.lost = v.lost || a.lost
		finite = finite && !math.IsInf(a.f, 0) && !math.IsNaN(a.f)
		nonzero = nonzero && a.f != 0
	}
	if finite && (math.IsInf(f, 0) || scaling && nonzero && f == 0) {
		v.lost = true
	}
	return v
}

// evalConst evaluates an expression without variables, exactly where it
// can (rational arithmetic, integer powers, perfect roots).
func evalConst(n *exprNode) numValue {
	switch n.op {
	case opNum:
		return exactValue(n.num)
	case opPi:
		return inexactValue(math.Pi)
	case opInf:
		return inexactValue(math.Inf(1))
	case opVar:
		return inexactValue(math.NaN())
	case opNeg:
		a := evalConst(n.a)
		if a.r != nil {
			return exactValue(new(big.Rat).Neg(a.r))
		}
		return numValue{f: -a.f, lost: a.lost}
	case opAdd, opSub, opMul, opDiv:
		a, b := evalConst(n.a), evalConst(n.b)
		if a.r != nil && b.r != nil {
			r := new(big.Rat)
			switch n.op {
			case opAdd:
				return exactValue(r.Add(a.r, b.r))
			case opSub:
				return exactValue(r.Sub(a.r, b.r))
			case opMul:
				return exactValue(r.Mul(a.r, b.r))
			case opDiv:
				if b.r.Sign() == 0 {
					return inexactValue(math.NaN())
				}
				return exactValue(r.Quo(a.r, b.r))
			}
		}
		return floatValue(floatArith(n.op, a.f, b.f), n.op == opMul || n.op == opDiv, a, b)
	case opPow:
		return powValue(evalConst(n.a), evalConst(n.b))
	case opRoot:
		a := evalConst(n.a)
		idx := numValue{r: big.NewRat(2, 1), f: 2}
		if n.b != nil {
			idx = evalConst(n.b)
		}
		return rootValue(a, idx)
	case opFact:
		a := evalConst(n.a)
		if a.r != nil && a.r.IsInt() && a.r.Sign() >= 0 && a.r.Num().IsInt64() && a.r.Num().Int64() <= 300 {
			k := a.r.Num().Int64()
			return exactValue(new(big.Rat).SetInt(new(big.Int).MulRange(1, k)))
		}
		return floatValue(floatFactorial(a.f), false, a)
	case opBinom:
		a, b := evalConst(n.a), evalConst(n.b)
		if a.r != nil && b.r != nil && a.r.IsInt() && b.r.IsInt() && a.r.Num().IsInt64() && b.r.Num().IsInt64() {
			nn, kk := a.r.Num().Int64(), b.r.Num().Int64()
			if nn >= 0 && nn <= 1000 && kk >= 0 && kk <= nn {
				return exactValue(new(big.Rat).SetInt(new(big.Int).Binomial(nn, kk)))
			}
			if nn >= 0 && (kk < 0 || kk > nn) {
				return exactValue(new(big.Rat))
			}
		}
		return floatValue(floatBinom(a.f, b.f), false, a, b)
	case opFunc:
		a := evalConst(n.a)
		if n.b != nil {
			base := evalConst(n.b)
			return floatValue(applyFunc(n.name, a.f, base.f, true), false, a, base)
		}
		return floatValue(applyFunc(n.name, a.f, 0, false), false, a)
	}
	return inexactValue(math.NaN())
}

// evalFloat evaluates n in floating point with variables bound by vars.
func evalFloat(n *exprNode, vars func(string) float64) numValue {
	switch n.op {
	case opNum:
		f, _ := n.num.Float64()
		return numValue{f: f, lost: math.IsInf(f, 0) || f == 0 && n.num.Sign() != 0}
	case opVar:
		return numValue{f: vars(n.name)}
	case opPi:
		return numValue{f: math.Pi}
	case opInf:
		return numValue{f: math.Inf(1)}
	case opNeg:
		a := evalFloat(n.a, vars)
		return numValue{f: -a.f, lost: a.lost}
	case opAdd, opSub, opMul, opDiv:
		a, b := evalFloat(n.a, vars), evalFloat(n.b, vars)
		return floatValue(floatArith(n.op, a.f, b.f), n.op == opMul || n.op == opDiv, a, b)
	case opPow:
		a, b := evalFloat(n.a, vars), evalFloat(n.b, vars)
		return floatValue(floatPow(a.f, b.f), true, a, b)
	case opRoot:
		a := evalFloat(n.a, vars)
		if n.b != nil {
			idx := evalFloat(n.b, vars)
			return floatValue(floatRoot(a.f, idx.f), false, a, idx)
		}
		return floatValue(floatRoot(a.f, 2), false, a)
	case opFact:
		// With variables, x! is Gamma(x+1), so that identities like
		// (n+1)! = (n+1) n! hold at the (non-integer) sample points.
		a := evalFloat(n.a, vars)
		return floatValue(gammaFactorial(a.f), false, a)
	case opBinom:
		a, b := evalFloat(n.a, vars), evalFloat(n.b, vars)
		return floatValue(floatBinom(a.f, b.f), false, a, b)
	case opFunc:
		a := evalFloat(n.a, vars)
		if n.b != nil {
			base := evalFloat(n.b, vars)
			return floatValue(applyFunc(n.name, a.f, base.f, true), false, a, base)
		}
		return floatValue(applyFunc(n.name, a.f, 0, false), false, a)
	}
	return numValue{f: math.NaN()}
}

func floatArith(op opKind, a, b float64) float64 {
	switch op {
	case opAdd:
		return a + b
	case opSub:
		return a - b
	case opMul:
		return a * b
	case opDiv:
		if b == 0 {
			return math.NaN()
		}
		return a / b
	}
	return math.NaN()
}

func powValue(a, e numValue) numValue {
	if a.r != nil && e.r != nil {
		if e.r.IsInt() && e.r.Num().IsInt64() {
			k := e.r.Num().Int64()
			// floor(log2) of numerator and denominator: the result has
			// at most about bits*|k| + 2|k| bits, and 2^{2009} (2010 bits)
			// stays exact.
			bits := int64(a.r.Num().BitLen() - 1 + a.r.Denom().BitLen() - 1)
			if k >= -4096 && k <= 4096 && bits*absInt64(k) <= maxRatBits {
				if k < 0 && a.r.Sign() == 0 {
					return inexactValue(math.NaN())
				}
				num := new(big.Int).Exp(a.r.Num(), big.NewInt(absInt64(k)), nil)
				den := new(big.Int).Exp(a.r.Denom(), big.NewInt(absInt64(k)), nil)
				if k < 0 {
					num, den = den, num
				}
				return exactValue(new(big.Rat).SetFrac(num, den))
			}
		} else if e.r.Denom().IsInt64() && e.r.Num().IsInt64() {
			// a^(p/q) = (q-th root of a)^p.
			q := e.r.Denom().Int64()
			if q <= 64 {
				root := rootValue(a, numValue{r: new(big.Rat).SetInt64(q), f: float64(q)})
				if root.r != nil {
					return powValue(root, numValue{r: new(big.Rat).SetInt64(e.r.Num().Int64()), f: float64(e.r.Num().Int64())})
				}
			}
		}
	}
	return floatValue(floatPow(a.f, e.f), true, a, e)
}

func absInt64(k int64) int64 {
	if k < 0 {
		return -k
	}
	return k
}

func floatPow(a, e float64) float64 {
	if a < 0 && e != math.Trunc(e) {
		// Odd roots of negative numbers are real: (-8)^(1/3) = -2.
		if inv := 1 / e; math.Abs(inv-math.Round(inv)) < 1e-9 && int64(math.Round(inv))%2 != 0 {
			return -math.Pow(-a, e)
		}
		return math.NaN()
	}
	return math.Pow(a, e)
}

func floatRoot(a, idx float64) float64 {
	if idx == 0 || idx != math.Trunc(idx) {
		return math.NaN()
	}
	if a < 0 {
		if int64(idx)%2 != 0 {
			return -math.Pow(-a, 1/idx)
		}
		return math.NaN()
	}
	if idx == 2 {
		return math.Sqrt(a)
	}
	if idx == 3 {
		return math.Cbrt(a)
	}
	return math.Pow(a, 1/idx)
}

// rootValue is the idx-th root of a, exact when a is a perfect power.
func rootValue(a, idx numValue) numValue {
	if a.r != nil && idx.r != nil && idx.r.IsInt() && idx.r.Num().IsInt64() {
		k := idx.r.Num().Int64()
		if k >= 1 && k <= 64 && (a.r.Sign() >= 0 || k%2 == 1) {
			num, okN := intRoot(new(big.Int).Abs(a.r.Num()), k)
			den, okD := intRoot(a.r.Denom(), k)
			if okN && okD {
				r := new(big.Rat).SetFrac(num, den)
				if a.r.Sign() < 0 {
					r.Neg(r)
				}
				return exactValue(r)
			}
		}
	}
	return floatValue(floatRoot(a.f, idx.f), false, a, idx)
}

// intRoot returns the exact k-th root of x >= 0 if there is one.
func intRoot(x *big.Int, k int64) (*big.Int, bool) {
	if x.BitLen() > 512 {
		return nil, false
	}
	if k == 2 {
		r := new(big.Int).Sqrt(x)
		return r, new(big.Int).Mul(r, r).Cmp(x) == 0
	}
	f, _ := new(big.Float).SetInt(x).Float64()
	g := math.Round(math.Pow(f, 1/float64(k)))
	if math.IsInf(g, 0) || math.IsNaN(g) || g > 1<<53 {
		return nil, false
	}
	for d := -1.0; d <= 1; d++ {
		c := g + d
		if c < 0 {
			continue
		}
		r := big.NewInt(int64(c))
		if new(big.Int).Exp(r, big.NewInt(k), nil).Cmp(x) == 0 {
			return r, true
		}
	}
	return nil, false
}

func floatFactorial(a float64) float64 {
	if a < 0 || a != math.Trunc(a) || a > 170 {
		if a > 170 {
			return math.Inf(1)
		}
		return math.NaN()
	}
	return math.Gamma(a + 1)
}

// gammaFactorial is Gamma(a+1): a! extended to real a (NaN at negative
// integers).
func gammaFactorial(a float64) float64 {
	if a < 0 && a == math.Trunc(a) {
		return math.NaN()
	}
	if a > 170 {
		return math.Inf(1)
	}
	return math.Gamma(a + 1)
}

func floatBinom(n, k float64) float64 {
	if n != math.Trunc(n) || k != math.Trunc(k) || n < 0 || n > 1e4 {
		return math.NaN()
	}
	if k < 0 || k > n {
		return 0
	}
	lg := func(x float64) float64 { v, _ := math.Lgamma(x); return v }
	return math.Round(math.Exp(lg(n+1) - lg(k+1) - lg(n-k+1)))
}

// funcs are the one-argument functions of expressions; log is applyFunc's,
// since it may have a base.
var funcs = map[string]func(float64) float64{
	"sin":    math.Sin,
	"cos":    math.Cos,
	"tan":    math.Tan,
	"cot":    func(x float64) float64 { return 1 / math.Tan(x) },
	"sec":    func(x float64) float64 { return 1 / math.Cos(x) },
	"csc":    func(x float64) float64 { return 1 / math.Sin(x) },
	"arcsin": math.Asin,
	"arccos": math.Acos,
	"arctan": math.Atan,
	"sinh":   math.Sinh,
	"cosh":   math.Cosh,
	"tanh":   math.Tanh,
	"exp":    math.Exp,
	"ln":     math.Log,
}

// isFuncName reports whether name is a function of expressions.
func isFuncName(name string) bool { return funcs[name] != nil || name == "log" }

func applyFunc(name string, x, base float64, hasBase bool) float64 {
	if f, ok := funcs[name]; ok {
		return f(x)
	}
	if name == "log" {
		if hasBase {
			return math.Log(x) / math.Log(base)
		}
		return math.Log10(x)
	}
	return math.NaN()
}
