package grade

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shepherd-prm/shepherd/labeler"
)

// String normalisation of an answer before it is parsed. See answersEquivalent
// for the list of rules.

var unicodeMath = strings.NewReplacer(
	"\u2212", "-", // minus sign
	"\u00a0", " ", "\u2009", "", "\u202f", "", "\u200b", "",
	"\u00d7", `\times `, "\u00f7", "/", "\u00b7", `\cdot `, "\u22c5", `\cdot `,
	"\u03c0", `\pi `, "\u221e", `\infty `, "\u221a", `\sqrt `,
	"\u00b0", `^\circ`, "\u00b1", `\pm `, "\u2213", `\mp `,
	"\uff0c", ",", "\u2264", `\le `, "\u2265", `\ge `,
)

// textCommands have an argument that is text, not math.
var textCommands = map[string]bool{
	"text": true, "textrm": true, "textbf": true, "textit": true, "textup": true, "textsf": true,
	"texttt": true, "textnormal": true, "mbox": true, "mathrm": true, "mathbf": true,
	"mathit": true, "mathsf": true, "mathtt": true, "mathnormal": true, "hbox": true, "emph": true,
	"boxed": true, "fbox": true, "operatorname": true,
}

// wrapperCommands are unwrapped, keeping their argument as math.
var wrapperCommands = map[string]bool{"boxed": true, "fbox": true, "operatorname": true}

var (
	spacingRe = strings.NewReplacer(
		`\\`, `\\`, // a LaTeX line break is kept whole, so \\ 2 is not read as \ and "\ 2"
		"{,}", ",", // 115{,}000
		`\qquad`, " ", `\quad`, " ", `\!`, "", `\,`, "", `\;`, "", `\:`, "", `\>`, "",
		`\ `, " ", "~", " ", `\displaystyle`, "", `\limits`, "", `\nolimits`, "",
		`\dfrac`, `\frac`, `\tfrac`, `\frac`, `\cfrac`, `\frac`, `\dbinom`, `\binom`, `\tbinom`, `\binom`,
		`\langle`, "(", `\rangle`, ")", `\lbrace`, `\{`, `\rbrace`, `\}`,
		`\lbrack`, "[", `\rbrack`, "]", `\lvert`, "|", `\rvert`, "|",
	)
	degreeRe    = regexp.MustCompile(`\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\^\s*\{\s*\\degree\s*\}|\\degree`)
	thinCommaRe = regexp.MustCompile(`,\\!\s*`)
	sizingRe    = regexp.MustCompile(`\\(?:left|right|big|Big|bigg|Bigg)[lr]?(?:\s*\.|\b)`)
	spacesRe    = regexp.MustCompile(`\s+`)
	thousandsRe = regexp.MustCompile(`\d{1,3}(?:,\d{3})+`)
	emptyGroup  = regexp.MustCompile(`\{\s*\}`)
)

// normalizedAnswer is an answer after string normalisation.
type normalizedAnswer struct {
	s   string
	pct bool // a percent sign was removed
}

// normalizeAnswer applies the string-level rules: math delimiters, \boxed,
// \left/\right, spacing, \dfrac, text and unit words in \text{...},
// degrees, percent, dollars and thousands separators.
func normalizeAnswer(s string) normalizedAnswer {
	var out normalizedAnswer
	s = strings.TrimSpace(unicodeMath.Replace(s))
	if needsBackslashFix(s) {
		s = fixBackslashes(s)
	}
	s = stripDelimiters(s)
	hasCommand := strings.Contains(s, `\`)
	if hasCommand {
		if strings.Contains(s, `,\!`) {
			s = thinCommaRe.ReplaceAllString(s, ",")
		}
		if strings.Contains(s, `\left`) || strings.Contains(s, `\right`) || strings.Contains(s, `\big`) || strings.Contains(s, `\Big`) {
			s = sizingRe.ReplaceAllString(s, "")
		}
	}
	if hasCommand || strings.Contains(s, "~") || strings.Contains(s, "{,}") {
		s = spacingRe.Replace(s)
	}
	s = unwrapText(s)
	if strings.Contains(s, `\circ`) || strings.Contains(s, `\degree`) {
		s = degreeRe.ReplaceAllString(s, "")
	}
	if strings.Contains(s, "%") {
		out.pct = true
		s = strings.ReplaceAll(s, `\%`, "")
		s = strings.ReplaceAll(s, "%", "")
	}
	s = strings.ReplaceAll(s, `\$`, "")
	s = strings.ReplaceAll(s, "$", "")
	if strings.Contains(s, "{") {
		s = emptyGroup.ReplaceAllString(s, "")
	}
	if strings.Contains(s, "  ") || strings.ContainsAny(s, "\t\n\r\f\v") {
		s = spacesRe.ReplaceAllString(s, " ")
	}
	s = trimSentence(s)
	s = removeThousands(s)
	out.s = s
	return out
}

// stripDelimiters removes surrounding $...$, \(...\), \[...\] and
// markdown emphasis (**12**).
func stripDelimiters(s string) string {
	for {
		t := strings.TrimSpace(s)
		switch {
		case strings.HasPrefix(t, `\(`) && strings.HasSuffix(t, `\)`) && len(t) >= 4:
			t = t[2 : len(t)-2]
		case strings.HasPrefix(t, `\[`) && strings.HasSuffix(t, `\]`) && len(t) >= 4:
			t = t[2 : len(t)-2]
		}
		t = strings.Trim(t, "$* \t\n")
		if t == s {
			return t
		}
		s = t
	}
}

// trimSentence removes trailing periods, backslash line breaks and
// white space.
func trimSentence(s string) string {
	for {
		t := strings.TrimSpace(s)
		t = strings.TrimSuffix(t, `\\`)
		if strings.HasSuffix(t, ".") && !strings.HasSuffix(t, `\.`) {
			t = t[:len(t)-1]
		}
		if t == s {
			return t
		}
		s = t
	}
}

// unwrapText replaces text-like commands by their argument. A \text{...}
// holding only words that follows something else is a unit and is
// dropped, with a following ^2 or ^3 (5\text{ cm}^2 is 5). The words "or"
// and "and" are kept as list separators.
func unwrapText(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	i := 0
	for i < len(s) {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i + 1
		for j < len(s) && isASCIILetter(s[j]) {
			j++
		}
		name := s[i+1 : j]
		if !textCommands[name] {
			if j == i+1 && j < len(s) {
				j++ // \{ and other escaped symbols
			}
			b.WriteString(s[i:j])
			i = j
			continue
		}
		k := j
		for k < len(s) && s[k] == ' ' {
			k++
		}
		if k >= len(s) || s[k] != '{' {
			i = j // \textbf without braces, \rm-like use: drop the command
			continue
		}
		end := labeler.MatchBrace(s, k)
		if end < 0 {
			i = j
			continue
		}
		content := s[k+1 : end]
		i = end + 1
		if wrapperCommands[name] {
			b.WriteString(unwrapText(content))
			continue
		}
		c := strings.TrimSpace(content)
		lc := strings.ToLower(c)
		switch {
		case lc == "or" || lc == "and" || lc == ",":
			b.WriteString(" " + lc + " ")
		case isUnitWords(c) && strings.TrimSpace(b.String()) != "":
			i = skipUnitPower(s, i)
		default:
			b.WriteString(unwrapText(content))
		}
	}
	return b.String()
}

// skipUnitPower skips a ^2, ^3, ^{2} or ^{3} at s[i:].
func skipUnitPower(s string, i int) int {
	t := s[i:]
	u := strings.TrimLeft(t, " ")
	if !strings.HasPrefix(u, "^") {
		return i
	}
	u = strings.TrimLeft(u[1:], " ")
	n := len(t) - len(u)
	switch {
	case len(u) >= 1 && (u[0] == '2' || u[0] == '3'):
		return i + n + 1
	case len(u) >= 3 && u[0] == '{' && (u[1] == '2' || u[1] == '3') && u[2] == '}':
		return i + n + 3
	}
	return i
}

// isUnitWords reports whether s is one or more words (letters, with
// periods, hyphens, slashes and spaces between them).
func isUnitWords(s string) bool {
	letters := 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
		case r == ' ' || r == '.' || r == '-' || r == '/':
		default:
			return false
		}
	}
	return letters > 0
}

// removeThousands removes thousands separators (1,000 and 10,080) from
// numbers outside brackets; inside (1,2) or [1,000] commas separate
// elements.
func removeThousands(s string) string {
	if !strings.Contains(s, ",") {
		return s
	}
	locs := thousandsRe.FindAllStringIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		i, j := l[0], l[1]
		if i > 0 && (isASCIIDigit(s[i-1]) || s[i-1] == '.' || s[i-1] == ',') {
			continue
		}
		if j < len(s) && (isASCIIDigit(s[j]) || s[j] == ',' && j+1 < len(s) && isASCIIDigit(s[j+1])) {
			continue
		}
		if bracketDepthAt(s, i) != 0 {
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(strings.ReplaceAll(s[i:j], ",", ""))
		last = j
	}
	b.WriteString(s[last:])
	return b.String()
}

// bracketDepthAt returns the bracket depth at s[i] counting (, [, { and \{.
func bracketDepthAt(s string, i int) int {
	d := 0
	for k := 0; k < i && k < len(s); k++ {
		switch s[k] {
		case '(', '[', '{':
			d++
		case ')', ']', '}':
			d--
		}
	}
	return d
}

// stripUnitWords removes trailing unit words from an answer whose other
// part is a number: "5 dollars", "18 apples", "90 degrees", "10 sq ft",
// "12 cm^2". A word attached to the number needs three letters or more
// ("5cm" is kept as is, "2xy" stays a product, "12inches" is 12).
func stripUnitWords(s string, isConst func(string) bool) string {
	t := strings.TrimSpace(s)
	if k := skipUnitPowerSuffix(t); k >= 0 {
		t = strings.TrimSpace(t[:k])
	}
	end, cut := len(t), -1
	for {
		j := end
		for j > 0 && t[j-1] == ' ' {
			j--
		}
		k := j
		if k > 0 && t[k-1] == '.' {
			k--
		}
		w := k
		for w > 0 {
			r, size := utf8.DecodeLastRuneInString(t[:w])
			if !unicode.IsLetter(r) {
				break
			}
			w -= size
		}
		n := utf8.RuneCountInString(t[w:k])
		if w == k || n < 2 || w > 0 && (t[w-1] == '\\' || t[w-1] == '_' || t[w-1] == '^' || t[w-1] == '{') {
			break
		}
		attached := w > 0 && t[w-1] != ' '
		if attached && n < 3 {
			break
		}
		cut, end = w, w
		if attached {
			break
		}
	}
	if cut <= 0 {
		return s
	}
	prefix := strings.TrimSpace(t[:cut])
	if prefix == "" || !isConst(prefix) {
		return s
	}
	return prefix
}

// skipUnitPowerSuffix returns where a trailing ^2/^3/^{2}/^{3} after a
// letter starts, or -1.
func skipUnitPowerSuffix(t string) int {
	for _, suf := range []string{"^2", "^3", "^{2}", "^{3}"} {
		if strings.HasSuffix(t, suf) {
			k := len(t) - len(suf)
			if k > 0 && unicode.IsLetter(rune(t[k-1])) && t[k-1] < utf8.RuneSelf {
				// only after a whole word of two letters or more (cm^2, not x^2)
				w := k
				for w > 0 && isASCIILetter(t[w-1]) {
					w--
				}
				if k-w >= 2 && (w == 0 || t[w-1] == ' ') {
					return k
				}
			}
		}
	}
	return -1
}

// needsBackslashFix reports whether s has a backslash before a digit or a
// doubled backslash before a letter (see fixBackslashes).
func needsBackslashFix(s string) bool {
	for i := strings.IndexByte(s, '\\'); i >= 0 && i+1 < len(s); {
		c := s[i+1]
		if isASCIIDigit(c) || c == '\\' && i+2 < len(s) && isASCIILetter(s[i+2]) {
			return true
		}
		j := strings.IndexByte(s[i+2:], '\\')
		if j < 0 {
			return false
		}
		i += 2 + j
	}
	return false
}

// fixBackslashes undoes two slips of answers written through a string
// escape: a doubled backslash before a command (\\frac{5}{9}, from JSON or
// Python source) and a backslash before a digit (\15, an escaped dollar
// sign without its dollar). A \\ in a matrix or array is a row break and
// is kept.
func fixBackslashes(s string) string {
	matrix := strings.Contains(s, `\begin`) || strings.Contains(s, "&")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch c := s[i+1]; {
		case isASCIIDigit(c):
			continue // drop the backslash of \15
		case c == '\\' && !matrix && i+2 < len(s) && isASCIILetter(s[i+2]):
			continue // \\frac: keep one backslash
		case c == '\\':
			b.WriteString(`\\`)
			i++
		default:
			b.WriteByte('\\')
		}
	}
	return b.String()
}
