package grade

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shepherd-prm/shepherd/labeler"
)

// Answer extraction.
//
// ExtractAnswer prefers an answer the response states as its final answer
// over numbers that happen to come last. It looks for these markers, most
// specific first; the first kind that yields an answer wins, and within a
// kind the last occurrence wins:
//
//  1. \boxed{...} or \fbox{...} (nested braces allowed), or \boxed 5
//     without braces;
//  2. "#### x" (GSM8K) when x looks like an answer, not a markdown
//     heading ("#### For \(T = 3\):", "#### Step 2");
//  3. "the answer is x", "the final answer is: x", "Answer: x" (any case)
//     and "Final Answer" headings (### Final Answer, **Final Answer:**)
//     with the answer on the lines below; the later of these wins;
//  4. "A: x" at the start of a line;
//  5. the closing sentence: the last sentence of the last paragraph that
//     holds a number or formula, read as a statement of the result (see
//     closingAnswer); a closing sentence that says the value found is
//     "not" the solution states no answer;
//  6. the last number in the text (1,000, -2.5, 3/4, .5).
//
// Markers 2 to 4 take the rest of their line, cut at the first sentence
// end (a period followed by white space outside $...$ and braces). A
// marker followed by a sentence rather than a value ("Answer: Verna
// received $7.00 in change") gives the value the sentence states, read
// like a closing sentence; a value followed by words ("18 dollars because
// ...") is cut before the words. The answer is trimmed of white space,
// '$', markdown '*' and trailing periods, so it is always a non-empty
// substring of the text. A last number that is the denominator of a
// \frac{...}{...} gives the whole fraction.

// numberRe matches the numbers of the last-number fallback; every match
// ends with a digit.
var numberRe = regexp.MustCompile(`\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:/\d+)?|\.\d+`)

// The markers are found by scanning backwards from the end of the text
// rather than with regular expressions: responses can be megabytes long and
// the answer is nearly always near the end.

// ExtractAnswer returns the final answer of a response and whether one was
// found. Nothing found is ok=false, never an empty-string match. The answer
// is always a substring of text.
func ExtractAnswer(text string) (answer string, ok bool) {
	if a, _, ok := labeler.LastBoxed(text, len(text)); ok {
		return a, true
	}
	if a, ok := lastHashes(text); ok {
		return a, true
	}
	if a, ok := lastMarker(text); ok {
		return a, true
	}
	if a, ok := lastALine(text); ok {
		return a, true
	}
	if a, stated, ok := closingAnswer(text); stated {
		return a, ok
	}
	return lastNumber(text)
}

func lastHashes(s string) (string, bool) {
	end := len(s)
	for end > 0 {
		i := strings.LastIndex(s[:end], "####")
		if i < 0 {
			return "", false
		}
		end = i
		if a := labeler.CleanAnswer(answerLine(s, i+4)); a != "" && !isHeadingText(a) {
			return a, true
		}
	}
	return "", false
}

// isHeadingText reports whether the text after "####" is a markdown
// heading rather than a GSM8K answer: it starts with a word or ends with
// a colon ("For \(T = 3\):", "Step 2", "Final Answer").
func isHeadingText(a string) bool {
	a = strings.TrimLeft(a, "# ")
	return strings.HasSuffix(a, ":") || proseWordAt(a, 0) > 0
}

// lastMarker returns the answer after the last "answer" marker (at a word
// start, any case) that is followed by a non-empty answer: "answer is x",
// "answer: x", or a "Final Answer" heading with the answer below it. One
// backward scan serves the three, so the latest marker wins.
func lastMarker(s string) (string, bool) {
	end := len(s)
	for {
		i := lastIndexFold(s[:end], "answer")
		if i < 0 {
			return "", false
		}
		end = i
		if i > 0 && isAnsWordByte(s[i-1]) {
			continue
		}
		for _, match := range []func(string, int) int{matchIs, matchColon} {
			if k := match(s, i+len("answer")); k >= 0 {
				if a := markerValue(answerLine(s, k)); a != "" {
					return a, true
				}
			}
		}
		if a, ok := headingAnswer(s, i); ok {
			return a, true
		}
	}
}

// markerValue is the answer stated by the text after a marker, up to the
// end of its first sentence: the value itself, cut before trailing words
// ("18 dollars because ..." is 18), or, when the text is a sentence
// ("Verna received $7.00 in change"), the value the sentence states.
func markerValue(line string) string {
	s := strings.TrimSpace(firstSentence(line))
	if len(s) > markerMaxBytes {
		return labeler.CleanAnswer(s)
	}
	if a := labeler.CleanAnswer(s); a == "" || proseWordAt(a, 0) == 0 {
		return labeler.CleanAnswer(cutAtProse(a))
	}
	v, st := statedValue(s)
	if st == stValue {
		return v
	}
	if st == stNone && len(numberRe.FindAllStringIndex(s, 2)) == 1 {
		if a, ok := lastNumber(s); ok {
			return a
		}
	}
	return labeler.CleanAnswer(s)
}

// headingAnswer reads a "Final Answer" heading whose "answer" is at
// s[i] (### Final Answer, **Final Answer:**, Final Answer alone on its
// line): the first non-empty line below it, its bold part if it has one.
func headingAnswer(s string, i int) (string, bool) {
	const final = "final "
	f := i - len(final)
	if f < 0 || lastIndexFold(s[f:i], final) != 0 {
		return "", false
	}
	ls := strings.LastIndexAny(s[:f], "\n\r") + 1
	if strings.Trim(s[ls:f], "#* \t") != "" {
		return "", false
	}
	le := i + len("answer")
	rest := answerLine(s, le)
	if strings.Trim(rest, "#*: \t") != "" {
		return "", false
	}
	for j := le + len(rest); j < len(s) && j-le < 1024; {
		line := answerLine(s, j)
		if strings.TrimSpace(line) != "" {
			a := headingValue(line)
			return a, a != ""
		}
		j += len(line) + 1
	}
	return "", false
}

func headingValue(line string) string {
	if b := strings.Index(line, "**"); b >= 0 {
		if e := strings.Index(line[b+2:], "**"); e > 0 {
			if a := labeler.CleanAnswer(line[b+2 : b+2+e]); a != "" && strings.IndexFunc(a, unicode.IsDigit) >= 0 {
				return a
			}
		}
	}
	return markerValue(line)
}

// matchIs matches `\s+is\b\s*:?` (case-insensitive) at s[j:].
func matchIs(s string, j int) int {
	k := skipAnswerSpace(s, j)
	if k == j || k+2 > len(s) || s[k]|0x20 != 'i' || s[k+1]|0x20 != 's' || k+2 < len(s) && isAnsWordByte(s[k+2]) {
		return -1
	}
	k = skipAnswerSpace(s, k+2)
	if k < len(s) && s[k] == ':' {
		k++
	}
	return k
}

// matchColon matches `\s*:` at s[j:].
func matchColon(s string, j int) int {
	k := skipAnswerSpace(s, j)
	if k < len(s) && s[k] == ':' {
		return k + 1
	}
	return -1
}

func skipAnswerSpace(s string, j int) int {
	for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r' || s[j] == '\f') {
		j++
	}
	return j
}

// lastALine returns the answer after the last "A:" at the start of a line
// (after spaces or tabs) that is followed by a non-empty answer.
func lastALine(s string) (string, bool) {
	end := len(s)
	for {
		i := strings.LastIndex(s[:end], "A:")
		if i < 0 {
			return "", false
		}
		end = i
		k := i
		for k > 0 && (s[k-1] == ' ' || s[k-1] == '\t') {
			k--
		}
		if k > 0 && s[k-1] != '\n' {
			continue
		}
		if a := markerValue(answerLine(s, i+2)); a != "" {
			return a, true
		}
	}
}

// lastIndexFold is strings.LastIndex for a lower-case ASCII word, matching
// it in any case.
func lastIndexFold(s, word string) int {
	for i := len(s) - len(word); i >= 0; i-- {
		if s[i]|0x20 != word[0] {
			continue
		}
		k := 1
		for k < len(word) && s[i+k]|0x20 == word[k] {
			k++
		}
		if k == len(word) {
			return i
		}
	}
	return -1
}

func isAnsWordByte(c byte) bool { return isASCIILetter(c) || isASCIIDigit(c) || c == '_' }

func answerLine(s string, i int) string {
	r := s[i:]
	if j := strings.IndexAny(r, "\n\r"); j >= 0 {
		r = r[:j]
	}
	return r
}

// firstSentence cuts s at the first period followed by white space that is
// outside $...$ and outside braces.
func firstSentence(s string) string {
	inMath, depth := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '$':
			inMath = !inMath
		case '{':
			depth++
		case '}':
			depth--
		case '.':
			if !inMath && depth <= 0 && i+1 < len(s) && (s[i+1] == ' ' || s[i+1] == '\t') {
				return s[:i]
			}
		}
	}
	return s
}

// lastNumber returns the last number in s. A minus sign belongs to the
// number unless it follows a digit, letter or closing bracket (then it is
// a binary minus). Only the text around the last digit is searched.
func lastNumber(s string) (string, bool) {
	d := len(s) - 1
	for d >= 0 && !isASCIIDigit(s[d]) {
		d--
	}
	if d < 0 {
		return "", false
	}
	// Start the window at a byte that cannot be inside a number, so the
	// matches in it are those of the whole text.
	start := d
	for start > 0 && d-start < 4096 && (isASCIIDigit(s[start-1]) || strings.IndexByte(",./", s[start-1]) >= 0) {
		start--
	}
	w := s[start : d+1]
	locs := numberRe.FindAllStringIndex(w, -1)
	if len(locs) == 0 {
		return "", false
	}
	i, j := start+locs[len(locs)-1][0], start+locs[len(locs)-1][1]
	i, j = widenFraction(s, i, j)
	i = widenRoot(s, i)
	if i > 0 && s[i-1] == '-' {
		neg := true
		if i > 1 {
			r, _ := utf8.DecodeLastRuneInString(s[:i-1])
			if unicode.IsLetter(r) || unicode.IsDigit(r) || r == ')' || r == ']' || r == '}' {
				neg = false
			}
		}
		if neg {
			i--
		}
	}
	return s[i:j], true
}

// widenRoot widens the number starting at s[i] to a root sign before it
// and the coefficient before that: the last number of "leave it as √3." is
// √3, of "2√3" is 2√3.
func widenRoot(s string, i int) int {
	const root = "\u221a"
	if !strings.HasSuffix(s[:i], root) {
		return i
	}
	i -= len(root)
	for i > 0 && (isASCIIDigit(s[i-1]) || s[i-1] == '.' && i > 1 && isASCIIDigit(s[i-2])) {
		i--
	}
	return i
}

// widenFraction widens the number s[i:j] to the whole fraction when it is
// the denominator of \frac{...}{...} (or \dfrac, \tfrac): the last number
// of "is $-\frac{24}{25}$" is -\frac{24}{25}, not 25.
func widenFraction(s string, i, j int) (int, int) {
	if i < 2 || j >= len(s) || s[j] != '}' || s[i-1] != '{' || s[i-2] != '}' {
		return i, j
	}
	// Find the '{' opening the numerator that ends at s[i-2], within a
	// bounded distance.
	depth := 0
	for k := i - 2; k >= 0 && i-k < 256; k-- {
		switch s[k] {
		case '}':
			depth++
		case '{':
			depth--
			if depth == 0 {
				for _, cmd := range []string{`\frac`, `\dfrac`, `\tfrac`} {
					if strings.HasSuffix(s[:k], cmd) {
						return k - len(cmd), j + 1
					}
				}
				return i, j
			}
		}
	}
	return i, j
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
