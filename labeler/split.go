package labeler

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SplitMode names the way a solution text is cut into steps.
type SplitMode string

const (
	// SplitAuto detects which of the other modes a text uses; see Split.
	SplitAuto SplitMode = "auto"
	// SplitLine makes one step of every non-empty line (GSM8K, PRM800K).
	SplitLine SplitMode = "line"
	// SplitParagraph makes one step of every block of lines separated by
	// blank lines (ProcessBench joins its steps with "\n\n").
	SplitParagraph SplitMode = "paragraph"
	// SplitStepMarker starts a step at every line-leading "Step N:" marker,
	// also in markdown dress ("## Step 1:", "**Step 1:**", "**Step 1**:").
	SplitStepMarker SplitMode = "step"
	// SplitTag ends a step at every occurrence of an explicit step tag,
	// by default Math-Shepherd's "ки", and removes the tags from the text.
	SplitTag SplitMode = "tag"
)

// MathShepherdTag is the step tag of the Math-Shepherd data set (Cyrillic
// "ки"), the default tag of SplitTag.
const MathShepherdTag = "ки"

// DefaultMaxSteps is the step limit used when SplitOptions.MaxSteps is 0.
// Every step costs a batch of rollouts, so a solution with hundreds of steps
// is far more likely a mis-split (or a degenerate generation) than a real
// solution; the longest solution in ProcessBench has 47 steps, so 128 leaves
// ample room.
const DefaultMaxSteps = 128

// SplitModes lists the split modes, the default first.
var SplitModes = []SplitMode{SplitAuto, SplitLine, SplitParagraph, SplitStepMarker, SplitTag}

// ParseSplitMode parses a mode name (case-insensitive, surrounding space
// ignored). The empty string means SplitAuto.
func ParseSplitMode(s string) (SplitMode, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return SplitAuto, nil
	}
	for _, m := range SplitModes {
		if t == string(m) {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown split mode %q (valid: %s)", s, validModes())
}

func validModes() string {
	names := make([]string, len(SplitModes))
	for i, m := range SplitModes {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// SplitOptions controls Split.
type SplitOptions struct {
	Mode     SplitMode // "" means SplitAuto
	Tag      string    // step tag for SplitTag (and for detection in SplitAuto); "" means MathShepherdTag
	MaxSteps int       // 0 means DefaultMaxSteps; more steps than this is an error
}

// Step is one step of a solution.
//
// Text is the step's content, trimmed of surrounding white space, and
// [Start,End) is its byte range in Solution.Text. PrefixEnd is the end of the
// prefix up to and including this step and the separator that follows it:
// Solution.Text[:PrefixEnd] is the byte-exact prefix that rollouts continue,
// and it ends exactly where the next step's first byte is. For the last step
// PrefixEnd is len(Solution.Text), trailing white space included.
type Step struct {
	Text       string
	Start, End int
	PrefixEnd  int
}

// Solution is a solution text and its steps. Steps are never empty, appear in
// text order, and satisfy Start <= End <= PrefixEnd == next step's Start.
type Solution struct {
	Text  string
	Steps []Step
}

// Prefix returns the text up to and including step k and the separator after
// it. Prefix(k) is a prefix of Prefix(k+1) and of Text. k must be in
// [0, len(Steps)).
func (s Solution) Prefix(k int) string { return s.Text[:s.Steps[k].PrefixEnd] }

// StepTexts returns the (trimmed) text of every step.
func (s Solution) StepTexts() []string {
	out := make([]string, len(s.Steps))
	for i, st := range s.Steps {
		out[i] = st.Text
	}
	return out
}

// ErrNoSteps is returned when a text holds no non-empty step.
var ErrNoSteps = errors.New("labeler: solution has no non-empty step")

// ErrTooManySteps is wrapped by the error returned when a solution has more
// steps than the limit; the message names the count and the limit.
var ErrTooManySteps = errors.New("too many steps")

// Split cuts a solution text into steps.
//
// In every mode white-space-only steps are dropped and step texts are trimmed.
// Except in SplitTag mode, Solution.Text is text unchanged. Bytes are kept as
// given: invalid UTF-8 is not an error (it is simply never white space).
//
//   - SplitLine: lines are separated by "\n"; a "\r" before it is white space,
//     so CRLF text splits like LF text.
//   - SplitParagraph: a paragraph is a maximal run of non-blank lines; a blank
//     line is empty or white space only.
//   - SplitStepMarker: a step begins at each line that starts (after optional
//     indentation) with a marker "Step N:", case-insensitive, optionally after
//     markdown heading hashes and/or inside bold ("## Step 1:", "**Step 1:**",
//     "**Step 1**:"). Text before the first marker is a step of its own.
//   - SplitTag: a step ends at every occurrence of the tag. The tags are a
//     labeling artifact the model must not see, so Solution.Text is text with
//     every tag, and the single space before it if any, removed; offsets refer
//     to that cleaned text. Text after the last tag, if not blank, is a final
//     step. The tag must be valid UTF-8 and not white space only.
//   - SplitAuto: if the tag occurs in the text, SplitTag. Otherwise, if at
//     least two lines start with a step marker: SplitParagraph when the text
//     has paragraphs (a blank line between two non-blank lines) and every
//     marker line begins a paragraph — then the paragraph split refines the
//     marker split, and keeps the paragraphs (intro, conclusion, extra
//     explanation) a model put between its numbered steps as steps of their
//     own, the way ProcessBench does — else SplitStepMarker. Without step
//     markers: SplitParagraph when the text has paragraphs, else SplitLine.
//     Blank lines only before the first or after the last non-blank line do
//     not make paragraphs.
//
// A text without a non-empty step gives ErrNoSteps; more steps than
// MaxSteps gives an error wrapping ErrTooManySteps.
func Split(text string, opt SplitOptions) (Solution, error) {
	limit, err := stepLimit(opt.MaxSteps)
	if err != nil {
		return Solution{}, err
	}
	tag := opt.Tag
	if tag == "" {
		tag = MathShepherdTag
	}
	mode := opt.Mode
	if mode == "" {
		mode = SplitAuto
	}
	if mode == SplitTag || mode == SplitAuto {
		if err := checkTag(tag); err != nil {
			return Solution{}, err
		}
	}
	if mode == SplitAuto {
		mode = DetectSplitMode(text, tag)
	}
	var spans []span
	clean := text
	switch mode {
	case SplitLine:
		spans = lineSpans(text)
	case SplitParagraph:
		spans = paragraphSpans(text)
	case SplitStepMarker:
		spans = markerSpans(text)
	case SplitTag:
		clean, spans = tagSpans(text, tag)
	default:
		return Solution{}, fmt.Errorf("SplitOptions.Mode: unknown split mode %q (valid: %s)", opt.Mode, validModes())
	}
	return build(clean, spans, limit)
}

// DetectSplitMode returns the mode SplitAuto picks for text (see Split); tag
// "" means MathShepherdTag. The result is never SplitAuto.
func DetectSplitMode(text, tag string) SplitMode {
	if tag == "" {
		tag = MathShepherdTag
	}
	if strings.Contains(text, tag) {
		return SplitTag
	}
	markers, paragraphs := 0, 0
	inPara, markerInside := false, false
	forLines(text, func(a, b int) bool {
		if isBlank(text[a:b]) {
			inPara = false
			return true
		}
		if isMarkerLine(text[a:b]) {
			markers++
			if inPara {
				markerInside = true
			}
		}
		if !inPara {
			paragraphs++
			inPara = true
		}
		return true
	})
	switch {
	case markers >= 2 && paragraphs >= 2 && !markerInside:
		return SplitParagraph
	case markers >= 2:
		return SplitStepMarker
	case paragraphs >= 2:
		return SplitParagraph
	default:
		return SplitLine
	}
}

// FromSteps builds a solution from steps that are already split; they are
// accepted as given, not re-split. Solution.Text is the steps joined with sep
// ("" means "\n\n") byte for byte; white-space-only steps are dropped (with
// their separator). As in Split, Step.Text is the step trimmed and
// [Start,End) locates it in Text, and maxSteps (0 means DefaultMaxSteps)
// bounds the number of steps.
func FromSteps(steps []string, sep string, maxSteps int) (Solution, error) {
	limit, err := stepLimit(maxSteps)
	if err != nil {
		return Solution{}, err
	}
	if sep == "" {
		sep = "\n\n"
	}
	var b strings.Builder
	spans := make([]span, 0, len(steps))
	for _, s := range steps {
		if isBlank(s) {
			continue
		}
		if len(spans) > 0 {
			b.WriteString(sep)
		}
		start := b.Len()
		b.WriteString(s)
		spans = append(spans, span{start, b.Len()})
	}
	return build(b.String(), spans, limit)
}

// SplitMathShepherd splits the input field of a Math-Shepherd record,
// "<question> Step 1: … ки\nStep 2: … ки", into the question and the
// tag-split solution. The solution starts at the "Step 1:" that opens the
// step list: the last "Step 1:" (case-insensitive, not glued to a preceding
// letter or digit) that does not sit on a line opened by another step's
// marker, so that a prompt into which annotations leaked ("… Step 1: … ки")
// does not cut the real solution short, while a step that quotes "Step 1:"
// does not restart it. The question is the text before it, trimmed, with any
// leaked tags removed.
func SplitMathShepherd(input string) (question string, sol Solution, err error) {
	start := mathShepherdStart(input)
	if start < 0 {
		return "", Solution{}, errors.New("math-shepherd input: no \"Step 1:\" found")
	}
	sol, err = Split(input[start:], SplitOptions{Mode: SplitTag})
	if err != nil {
		return "", Solution{}, fmt.Errorf("math-shepherd input: %w", err)
	}
	q, _ := tagSpans(input[:start], MathShepherdTag)
	return strings.TrimSpace(q), sol, nil
}

// MathShepherdLabels reads the label field of a Math-Shepherd record (the
// input text with each "ки" replaced by "+" or "-") and returns one label per
// step, true for "+". Labels are read from the step list only (see
// SplitMathShepherd). A label is a "+" or "-" that ends a line or the text
// (trailing white space aside) and either follows white space or is followed
// by a line opening the next step or by the end of the text — where a tag
// stood in the input. The data's formatting slips are tolerated: a missing
// space before the label, "\r\n" line ends, trailing blanks, and annotations
// leaked into the question.
func MathShepherdLabels(labelText string) ([]bool, error) {
	if strings.Contains(labelText, MathShepherdTag) {
		return nil, fmt.Errorf("math-shepherd label: text still contains the step tag %q", MathShepherdTag)
	}
	start := mathShepherdStart(labelText)
	if start < 0 {
		return nil, errors.New("math-shepherd label: no \"Step 1:\" found")
	}
	s := labelText[start:]
	var labels []bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '+' && c != '-' {
			continue
		}
		j := i + 1
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r') {
			j++
		}
		if j < len(s) && s[j] != '\n' {
			continue
		}
		ok := i > 0 && (s[i-1] == ' ' || s[i-1] == '\t')
		if !ok {
			ok = isBlank(s[j:])
		}
		if !ok {
			next := j + 1
			for next < len(s) && isBlank(lineAt(s, next)) {
				next += len(lineAt(s, next)) + 1
			}
			ok = next < len(s) && isMarkerLine(lineAt(s, next))
		}
		if ok {
			labels = append(labels, c == '+')
		}
	}
	if len(labels) == 0 {
		return nil, errors.New("math-shepherd label: no +/- step label found")
	}
	return labels, nil
}

// lineAt returns the line of s that starts at i, without its "\n".
func lineAt(s string, i int) string {
	if i >= len(s) {
		return ""
	}
	if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
		return s[i : i+j]
	}
	return s[i:]
}

// mathShepherdStart returns the offset of the "Step 1:" that opens the step
// list of a Math-Shepherd text, or -1. It runs in linear time.
func mathShepherdStart(s string) int {
	best := -1
	var ls, dressEnd int  // current line start, end of its leading dress
	var lineIsMarker bool // the current line starts with a step marker
	newLine := func(at int) {
		ls, dressEnd = at, at
		for dressEnd < len(s) && isDressByte(s[dressEnd]) {
			dressEnd++
		}
		lineIsMarker = isMarkerLine(lineAt(s, at))
	}
	newLine(0)
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			newLine(i + 1)
			continue
		}
		if s[i]|0x20 != 's' || (i > 0 && isWordByte(s[i-1])) {
			continue
		}
		if n, ok := parseStepNumber(s, i); !ok || n != "1" {
			continue
		}
		switch {
		case i == dressEnd:
			best = ls // line-leading, markdown dress included
		case lineIsMarker:
			// quoted inside another step's line
		default:
			best = i
			for best > ls && (s[best-1] == '*' || s[best-1] == '_') {
				best-- // "Question? **Step 1:** …"
			}
		}
	}
	return best
}

// isDressByte reports whether c may precede a line-leading step marker:
// indentation and markdown heading or emphasis characters.
func isDressByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '#' || c == '*' || c == '_'
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// parseStepNumber parses `step[ \t]*N[ \t]*(\*\*|__|\*|_)?[ \t]*:` at s[i:],
// case-insensitive, and returns N.
func parseStepNumber(s string, i int) (num string, ok bool) {
	if len(s)-i < 4 || !strings.EqualFold(s[i:i+4], "step") {
		return "", false
	}
	i = skipHSpace(s, i+4)
	d := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == d {
		return "", false
	}
	num = s[d:i]
	i = skipHSpace(s, i)
	i = skipEmphasis(s, i)
	i = skipHSpace(s, i)
	if i >= len(s) || s[i] != ':' {
		return "", false
	}
	return num, true
}

func skipHSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func skipEmphasis(s string, i int) int {
	switch {
	case strings.HasPrefix(s[i:], "**"), strings.HasPrefix(s[i:], "__"):
		return i + 2
	case strings.HasPrefix(s[i:], "*"), strings.HasPrefix(s[i:], "_"):
		return i + 1
	}
	return i
}

// OpensWithStepMarker reports whether the first line of s starts with a
// step marker ("Step 3:", "## Step 3", "**Step 3:**") as Split reads them.
func OpensWithStepMarker(s string) bool { return isMarkerLine(lineAt(s, 0)) }

// isMarkerLine reports whether line starts with a step marker: optional
// indentation, optional heading hashes, optional bold/italic opener, then
// "Step N:" (see parseStepNumber).
func isMarkerLine(line string) bool {
	i := skipHSpace(line, 0)
	if i < len(line) && line[i] == '#' {
		for i < len(line) && line[i] == '#' {
			i++
		}
		i = skipHSpace(line, i)
	}
	i = skipEmphasis(line, i)
	i = skipHSpace(line, i)
	_, ok := parseStepNumber(line, i)
	return ok
}

func stepLimit(maxSteps int) (int, error) {
	switch {
	case maxSteps < 0:
		return 0, fmt.Errorf("MaxSteps must be >= 0 (0 means the default, %d), got %d", DefaultMaxSteps, maxSteps)
	case maxSteps == 0:
		return DefaultMaxSteps, nil
	}
	return maxSteps, nil
}

func checkTag(tag string) error {
	if !utf8.ValidString(tag) {
		return fmt.Errorf("SplitOptions.Tag %q is not valid UTF-8", tag)
	}
	if isBlank(tag) {
		return fmt.Errorf("SplitOptions.Tag %q is white space only", tag)
	}
	return nil
}

// span is a raw byte range [a,b) of a step candidate, before trimming.
type span struct{ a, b int }

// build trims the spans, drops the empty ones, checks the limit and fills in
// the prefix ends.
func build(text string, spans []span, limit int) (Solution, error) {
	n := 0
	for _, sp := range spans {
		if a, b := trimRange(text, sp.a, sp.b); a < b {
			spans[n] = span{a, b}
			n++
		}
	}
	spans = spans[:n]
	if n == 0 {
		return Solution{Text: text}, ErrNoSteps
	}
	if n > limit {
		return Solution{}, fmt.Errorf("labeler: solution has %d steps, more than the limit of %d (MaxSteps): %w", n, limit, ErrTooManySteps)
	}
	steps := make([]Step, n)
	for i, sp := range spans {
		pe := len(text)
		if i+1 < n {
			pe = spans[i+1].a
		}
		steps[i] = Step{Text: text[sp.a:sp.b], Start: sp.a, End: sp.b, PrefixEnd: pe}
	}
	return Solution{Text: text, Steps: steps}, nil
}

// forLines calls f with the range [a,b) of every line of s (without its
// "\n") until f returns false. A final line after the last "\n" is included
// even if empty.
func forLines(s string, f func(a, b int) bool) {
	a := 0
	for {
		j := strings.IndexByte(s[a:], '\n')
		if j < 0 {
			f(a, len(s))
			return
		}
		if !f(a, a+j) {
			return
		}
		a += j + 1
	}
}

func lineSpans(s string) []span {
	var out []span
	forLines(s, func(a, b int) bool {
		out = append(out, span{a, b})
		return true
	})
	return out
}

func paragraphSpans(s string) []span {
	var out []span
	start, end := -1, -1
	forLines(s, func(a, b int) bool {
		if isBlank(s[a:b]) {
			if start >= 0 {
				out = append(out, span{start, end})
				start = -1
			}
			return true
		}
		if start < 0 {
			start = a
		}
		end = b
		return true
	})
	if start >= 0 {
		out = append(out, span{start, end})
	}
	return out
}

func markerSpans(s string) []span {
	var out []span
	start := 0
	forLines(s, func(a, b int) bool {
		if a > start && isMarkerLine(s[a:b]) {
			out = append(out, span{start, a})
			start = a
		}
		return true
	})
	return append(out, span{start, len(s)})
}

// tagSpans removes every tag (and the single space before it) from s and
// returns the cleaned text with the ranges between tags.
func tagSpans(s, tag string) (string, []span) {
	if !strings.Contains(s, tag) {
		return s, []span{{0, len(s)}}
	}
	var b strings.Builder
	b.Grow(len(s))
	var out []span
	segStart, i := 0, 0
	for {
		j := strings.Index(s[i:], tag)
		if j < 0 {
			break
		}
		j += i
		end := j
		if end > i && s[end-1] == ' ' {
			end--
		}
		b.WriteString(s[i:end])
		out = append(out, span{segStart, b.Len()})
		segStart = b.Len()
		i = j + len(tag)
	}
	b.WriteString(s[i:])
	out = append(out, span{segStart, b.Len()})
	return b.String(), out
}

// isSpaceAt decodes the rune at s[i:] and reports whether it is white space
// and its size. Invalid UTF-8 is one non-space byte.
func isSpaceAt(s string, i int) (bool, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiSpace(c), 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	return r != utf8.RuneError && unicode.IsSpace(r), size
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// trimRange narrows [a,b) of s to exclude leading and trailing white space.
func trimRange(s string, a, b int) (int, int) {
	for a < b {
		sp, size := isSpaceAt(s[:b], a)
		if !sp {
			break
		}
		a += size
	}
	for a < b {
		c := s[b-1]
		if c < utf8.RuneSelf {
			if !asciiSpace(c) {
				break
			}
			b--
			continue
		}
		r, size := utf8.DecodeLastRuneInString(s[a:b])
		if r == utf8.RuneError || !unicode.IsSpace(r) {
			break
		}
		b -= size
	}
	return a, b
}

// isBlank reports whether s is empty or white space only. It scans forward
// only, so it costs no more than the leading white space of s.
func isBlank(s string) bool {
	for i := 0; i < len(s); {
		sp, size := isSpaceAt(s, i)
		if !sp {
			return false
		}
		i += size
	}
	return true
}
