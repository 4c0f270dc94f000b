package grade

import (
	"sort"
	"strings"

	"github.com/shepherd-prm/shepherd/labeler"
)

// Reading the closing sentence of a response that states its result in
// prose, without an answer marker: "Thus, the range is \([-1, 1]\).",
// "\[14 + 20 = 34\] So she spends 34 hours in 4 weeks.".

// closingMaxBytes bounds the tail of the text closingAnswer reads, and
// markerMaxBytes the text after a marker read as a sentence.
const (
	closingMaxBytes = 4096
	markerMaxBytes  = 2048
)

// mathSpan is a math segment of a text: s[open:close] is the whole segment
// with its delimiters, s[inner:innerEnd] its content.
type mathSpan struct{ open, inner, innerEnd, close int }

// mathSpans finds $...$, $$...$$, \(...\) and \[...\] in s. A '$' before a
// number that is not closed right after it ("$7.00 in change") is a
// currency sign, not a delimiter.
func mathSpans(s string) []mathSpan {
	var out []mathSpan
	for i := 0; i < len(s); i++ {
		var openLen int
		var closer string
		switch {
		case strings.HasPrefix(s[i:], `\(`):
			openLen, closer = 2, `\)`
		case strings.HasPrefix(s[i:], `\[`):
			openLen, closer = 2, `\]`
		case strings.HasPrefix(s[i:], "$$"):
			openLen, closer = 2, "$$"
		case s[i] == '$':
			if i > 0 && s[i-1] == '\\' {
				continue
			}
			if isCurrency(s, i) {
				continue
			}
			openLen, closer = 1, "$"
		case s[i] == '\\':
			i++ // an escaped character
			continue
		default:
			continue
		}
		j := strings.Index(s[i+openLen:], closer)
		if j < 0 {
			return out
		}
		inner := i + openLen
		out = append(out, mathSpan{open: i, inner: inner, innerEnd: inner + j, close: inner + j + len(closer)})
		i = inner + j + len(closer) - 1
	}
	return out
}

// isCurrency reports whether the '$' at s[i] is a currency sign: a number
// follows that is not closed by a '$' right after it.
func isCurrency(s string, i int) bool {
	j := i + 1
	if j >= len(s) || !isASCIIDigit(s[j]) {
		return false
	}
	for j < len(s) && (isASCIIDigit(s[j]) || s[j] == '.' || s[j] == ',') {
		j++
	}
	return j >= len(s) || s[j] != '$'
}

// spanAt returns the span holding s[i]; spans are sorted and disjoint.
func spanAt(spans []mathSpan, i int) (mathSpan, bool) {
	k := sort.Search(len(spans), func(k int) bool { return spans[k].close > i })
	if k < len(spans) && spans[k].open <= i {
		return spans[k], true
	}
	return mathSpan{}, false
}

// proseWordAt returns the length of the prose word starting at s[i]: two
// or more ASCII letters not part of a command (\text), a name (x_ab) or a
// longer word, or 0. "and", "or" and "pi" are not prose: they join or
// make up answers.
func proseWordAt(s string, i int) int {
	if i > 0 && (isAnsWordByte(s[i-1]) || s[i-1] == '\\' || s[i-1] == '^') {
		return 0
	}
	j := i
	for j < len(s) && isASCIILetter(s[j]) {
		j++
	}
	if j-i < 2 || j < len(s) && (isASCIIDigit(s[j]) || s[j] == '_') {
		return 0
	}
	switch strings.ToLower(s[i:j]) {
	case "and", "or", "pi":
		return 0
	}
	return j - i
}

// cutAtProse cuts an answer before the first prose word outside braces
// and math: "18 dollars because she sold them" is "18".
func cutAtProse(a string) string {
	spans := mathSpans(a)
	depth := 0
	for i := 0; i < len(a); i++ {
		switch a[i] {
		case '{':
			depth++
		case '}':
			depth--
		case '\\':
			i++
			for i+1 < len(a) && isASCIILetter(a[i+1]) {
				i++
			}
		default:
			if depth == 0 && i > 0 && isASCIILetter(a[i]) && proseWordAt(a, i) > 0 {
				if _, in := spanAt(spans, i); !in {
					return strings.TrimRight(a[:i], " \t,;:(")
				}
			}
		}
	}
	return a
}

// sentenceStatus says what a sentence states.
type sentenceStatus uint8

const (
	stNone    sentenceStatus = iota // no "is" or "="
	stValue                         // a value after its last "is" or "="
	stNegated                       // "... is not a solution"
	stProse                         // words after its last "is"
)

// statedValue returns the value a sentence states: the value after its
// last "is" or "=" (a whole formula when one follows "is": "is \(x^2 +
// y^2 = 13\)"), cut before trailing words, with what the sentence says.
func statedValue(s string) (string, sentenceStatus) {
	spans := mathSpans(s)
	is := lastIsWord(s, spans)
	eq := lastEquals(s)
	if is < 0 && eq < 0 {
		return "", stNone
	}
	if eq > is {
		m, in := spanAt(spans, eq)
		if in && is >= 0 && m.open > is && onlyFiller(s[is+2:m.open]) {
			return labeler.CleanAnswer(s[m.inner:m.innerEnd]), stValue
		}
		end := len(s)
		if in {
			end = m.innerEnd
		}
		v := strings.TrimSpace(s[eq+1 : end])
		if strings.HasPrefix(v, "<<") {
			if k := strings.Index(v, ">>"); k >= 0 {
				v = v[k+2:] // a calculator note, <<2*9=18>>18
			}
		}
		v = labeler.CleanAnswer(cutAtProse(v))
		if v == "" {
			return "", stProse
		}
		// "3 = A_4": the number, not the name it is the value of.
		if isName(v) {
			start := 0
			if in {
				start = m.inner
			}
			if k := lastEquals(s[start:eq]); k >= 0 {
				start += k + 1
			}
			if lhs := labeler.CleanAnswer(s[start:eq]); lhs != "" && isConstString(lhs) {
				return lhs, stValue
			}
		}
		return v, stValue
	}
	rest := strings.TrimLeft(s[is+2:], " \t\n\r:")
	rest = skipFiller(rest)
	off := len(s) - len(rest)
	if strings.HasPrefix(rest, "**") {
		// A bold value: "is **3** minutes", "is **No**".
		if e := strings.Index(rest[2:], "**"); e > 0 {
			if v := labeler.CleanAnswer(rest[2 : 2+e]); v != "" {
				return v, stValue
			}
		}
	}
	if m, in := spanAt(spans, off); in && m.open == off {
		if v := labeler.CleanAnswer(s[m.inner:m.innerEnd]); v != "" {
			return v, stValue
		}
		return "", stProse
	}
	if n := proseWordAt(rest, 0); n > 0 {
		switch strings.ToLower(rest[:n]) {
		case "not", "no", "never":
			return "", stNegated
		}
		return "", stProse
	}
	v := labeler.CleanAnswer(cutAtProse(rest))
	if v == "" || !strings.ContainsAny(v, "0123456789\\") {
		return "", stProse
	}
	return v, stValue
}

var fillerWords = []string{
	"equal to ", "equals ", "approximately ", "about ", "exactly ", "given by ", "just ", "simply ",
	"therefore ", "thus ", "then ", "hence ", "clearly ", "indeed ", "now ", "also ", "still ",
}

func skipFiller(s string) string {
	for {
		t := s
		for _, w := range fillerWords {
			if len(s) >= len(w) && strings.EqualFold(s[:len(w)], w) {
				s = strings.TrimLeft(s[len(w):], " \t\n\r:")
			}
		}
		if t == s {
			return s
		}
	}
}

func onlyFiller(s string) bool {
	return strings.TrimSpace(skipFiller(strings.TrimLeft(s, " \t\n\r:"))) == ""
}

// lastIsWord returns the index of the last word "is" outside math, or -1.
func lastIsWord(s string, spans []mathSpan) int {
	for i := len(s) - 2; i >= 0; i-- {
		if s[i]|0x20 != 'i' || s[i+1]|0x20 != 's' {
			continue
		}
		if i > 0 && isAnsWordByte(s[i-1]) || i+2 < len(s) && isAnsWordByte(s[i+2]) || i > 0 && s[i-1] == '\\' {
			continue
		}
		if _, in := spanAt(spans, i); in {
			continue
		}
		return i
	}
	return -1
}

// lastEquals returns the index of the last '=' that is not part of <=,
// >=, != or :=, or -1.
func lastEquals(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != '=' {
			continue
		}
		if i > 0 && strings.IndexByte("<>!:=", s[i-1]) >= 0 || i+1 < len(s) && s[i+1] == '=' {
			continue
		}
		if inCalculatorNote(s, i) {
			continue
		}
		return i
	}
	return -1
}

// inCalculatorNote reports whether s[i] is inside a GSM8K calculator note
// <<2*9=18>>.
func inCalculatorNote(s string, i int) bool {
	o := strings.LastIndex(s[:i], "<<")
	return o >= 0 && !strings.Contains(s[o:i], ">>") && strings.Contains(s[i:], ">>")
}

// closingAnswer reads the end of a response without answer markers: the
// last sentences (at most four) of the last paragraph holding a number or
// formula. The first of them from the end that has a number or formula
// gives the answer: the value after its last "is" or "=", or, when it has
// neither, its number; of several numbers, the one restating the value
// computed just before ("= 34 hours] So she spends 34 hours in 4 weeks"),
// else the last. A sentence whose "is" is followed by words is skipped,
// unless the words deny ("is not a solution"): then no answer is stated.
// stated is false when the end of the text has no sentence to read.
func closingAnswer(text string) (answer string, stated, ok bool) {
	region := lastParagraph(text)
	if region == "" {
		return "", false, false
	}
	sentences := splitSentences(region)
	for k, n := len(sentences)-1, 0; k >= 0 && n < 4 && len(sentences)-k <= 16; k-- {
		s := sentences[k]
		if !strings.ContainsAny(s, "0123456789") && len(mathSpans(s)) == 0 {
			continue
		}
		n++
		v, st := statedValue(s)
		switch st {
		case stValue:
			return v, true, true
		case stNegated:
			return "", true, false
		case stProse:
			continue
		}
		if a, ok := endingFormula(s); ok {
			return a, true, true
		}
		if a, ok := restatedNumber(s, sentences[:k]); ok {
			return a, true, true
		}
	}
	return "", false, false
}

// lastParagraph returns the last paragraph of text (after its last blank
// line) that has a digit or a formula, within the last closingMaxBytes bytes.
func lastParagraph(text string) string {
	t := strings.TrimRight(text, " \t\n\r")
	if len(t) > closingMaxBytes {
		t = t[len(t)-closingMaxBytes:]
	}
	for tries := 0; tries < 3 && t != ""; tries++ {
		i := strings.LastIndex(t, "\n\n")
		p := t[i+1:]
		if strings.ContainsAny(p, "0123456789") || len(mathSpans(p)) > 0 {
			return strings.TrimSpace(p)
		}
		if i < 0 {
			break
		}
		t = strings.TrimRight(t[:i], " \t\n\r")
	}
	return ""
}

// splitSentences splits a paragraph after '.', '!' or '?' followed by
// white space, and after display math (\[...\], $$...$$) followed by white
// space, outside math and braces.
func splitSentences(p string) []string {
	spans := mathSpans(p)
	var out []string
	last, depth, si := 0, 0, 0
	for i := 0; i < len(p); i++ {
		for si < len(spans) && spans[si].close <= i {
			si++
		}
		if si < len(spans) && spans[si].open <= i {
			m := spans[si]
			i = m.close - 1
			display := strings.HasPrefix(p[m.open:], `\[`) || strings.HasPrefix(p[m.open:], "$$")
			if display && startsSentence(p[m.close:]) {
				out = append(out, p[last:m.close])
				last = m.close
			}
			continue
		}
		switch p[i] {
		case '\\':
			i++
		case '{':
			depth++
		case '}':
			depth--
		case '.', '!', '?':
			if depth <= 0 && i+1 < len(p) && isSpace(p[i+1]) {
				out = append(out, p[last:i+1])
				last = i + 1
			}
		}
	}
	if strings.TrimSpace(p[last:]) != "" {
		out = append(out, p[last:])
	}
	return out
}

// startsSentence reports whether s is white space then a capital letter:
// the text after display math begins a new sentence ("\] So, she ..."),
// unlike "\] for all n".
func startsSentence(s string) bool {
	t := strings.TrimLeft(s, " \t\n\r")
	return len(t) < len(s) && t != "" && 'A' <= t[0] && t[0] <= 'Z'
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// endingFormula returns the formula a sentence ends with ("so we leave it
// as $\sqrt{3}$."), if it has a digit or a command.
func endingFormula(s string) (string, bool) {
	spans := mathSpans(s)
	if len(spans) == 0 {
		return "", false
	}
	m := spans[len(spans)-1]
	if strings.Trim(s[m.close:], " \t\n\r.,;!") != "" {
		return "", false
	}
	// A bare name ("assumptions about \(m\) and \(p\).") is not a result.
	a := labeler.CleanAnswer(s[m.inner:m.innerEnd])
	return a, a != "" && strings.ContainsAny(a, "0123456789\\")
}

// restatedNumber picks the number of sentence s: its only one, or of
// several the one equal to the value stated last before it, else the last.
func restatedNumber(s string, before []string) (string, bool) {
	locs := numberRe.FindAllStringIndex(s, -1)
	if len(locs) == 0 {
		return "", false
	}
	if len(locs) > 1 {
		for k := len(before) - 1; k >= 0 && k >= len(before)-2; k-- {
			v, st := statedValue(before[k])
			if st != stValue {
				continue
			}
			want, ok := leadingNumber(v)
			if !ok {
				break
			}
			for _, l := range locs {
				if c, ok := canonicalDecimal(strings.ReplaceAll(s[l[0]:l[1]], ",", "")); ok && c == want {
					return s[l[0]:l[1]], true
				}
			}
			break
		}
	}
	return lastNumber(s)
}

// leadingNumber returns the canonical form of the number a value starts
// with ("34 \text{ hours}" gives 34).
func leadingNumber(v string) (string, bool) {
	v = strings.TrimLeft(v, `\$ `)
	loc := numberRe.FindStringIndex(v)
	if loc == nil || loc[0] != 0 {
		return "", false
	}
	return canonicalDecimal(strings.ReplaceAll(v[:loc[1]], ",", ""))
}
