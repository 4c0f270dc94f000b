package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shepherd-prm/shepherd/labeler"
)

// Format names an output layout of label records: a pure conversion of a
// Record into the row a PRM trainer reads, one row per record. The layouts
// are described in the package documentation.
type Format string

// The output formats.
const (
	FormatRecord       Format = "record"
	FormatTRL          Format = "trl"
	FormatMathShepherd Format = "math-shepherd"
	FormatOpenRLHF     Format = "openrlhf"
	FormatChat         Format = "chat"
)

// TaskOf returns the Math-Shepherd "task" of problems read in input
// format f: "GSM8K" for gsm8k, "MATH" for math (MATH500) and prm800k (whose
// problems are MATH's), as the Math-Shepherd data set writes them; "" where
// the format does not say (jsonl, processbench, whose subsets differ, and
// math-shepherd, whose rows carry their own).
func TaskOf(f InputFormat) string {
	switch f {
	case InputGSM8K:
		return "GSM8K"
	case InputMATH, InputPRM800K:
		return "MATH"
	}
	return ""
}

// Formats lists the output formats.
var Formats = []Format{FormatRecord, FormatTRL, FormatMathShepherd, FormatOpenRLHF, FormatChat}

// formatSummaries say in a few words what a row of each format holds.
var formatSummaries = map[Format]string{
	FormatRecord:       "shepherd's label records",
	FormatTRL:          "TRL prompt/completions/labels",
	FormatMathShepherd: "input/label with ки and +/-",
	FormatOpenRLHF:     "input/value",
	FormatChat:         "messages",
}

// Summary says in a few words what a row of format f holds, for help texts.
func (f Format) Summary() string { return formatSummaries[f] }

// orList joins names as "a, b, c or d".
func orList[T ~string](names []T) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// ParseFormat parses an output format name (case-insensitive, surrounding
// space ignored); "" is FormatRecord.
func ParseFormat(s string) (Format, error) {
	t := Format(strings.ToLower(strings.TrimSpace(s)))
	if t == "" {
		return FormatRecord, nil
	}
	if slices.Contains(Formats, t) {
		return t, nil
	}
	return "", fmt.Errorf("unknown format %q (valid: %s)", s, joinNames(Formats))
}

func joinNames[T ~string](names []T) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}

// ErrFailedSteps is wrapped by the error of exporting a record with failed
// steps: their labels are unknown.
var ErrFailedSteps = errors.New("record has failed steps")

// ExportOptions tune the output formats.
type ExportOptions struct {
	Soft bool   // soft labels (trl, openrlhf); see the package notes above
	Task string // math-shepherd: the "task" field ("GSM8K", "MATH"); empty leaves it out
	// StepTag is the openrlhf placeholder written after every step ("" is
	// MathShepherdTag).
	StepTag string
	// Good and Bad are the label tokens of openrlhf and chat ("" is "+" and
	// "-").
	Good, Bad string
}

func (o ExportOptions) stepTag() string {
	if o.StepTag == "" {
		return labeler.MathShepherdTag
	}
	return o.StepTag
}

func (o ExportOptions) tokens() (good, bad string) {
	good, bad = o.Good, o.Bad
	if good == "" {
		good = "+"
	}
	if bad == "" {
		bad = "-"
	}
	return good, bad
}

// OptionError is an ExportOptions field that does not apply to a format or
// holds an unusable value. Option names the field as a user reads it ("soft
// labels", "task", "placeholder token", "reward tokens"), so a command can
// name its own flag instead.
type OptionError struct {
	Option string
	Msg    string
}

func (e *OptionError) Error() string { return e.Option + ": " + e.Msg }

// The Option names of OptionError, one per field of ExportOptions.
const (
	OptSoft    = "soft labels"
	OptTask    = "task"
	OptStepTag = "placeholder token"
	OptTokens  = "reward tokens"
)

func optionErrorf(option, format string, a ...any) error {
	return &OptionError{Option: option, Msg: fmt.Sprintf(format, a...)}
}

// Check reports options that do not apply to format f or are unusable; an
// option at fault gives an *OptionError.
func (o ExportOptions) Check(f Format) error {
	if _, err := ParseFormat(string(f)); err != nil {
		return err
	}
	if o.Soft && f != FormatTRL && f != FormatOpenRLHF {
		return optionErrorf(OptSoft, "the %s format carries label tokens or records, not soft labels (those go with trl or openrlhf)", f)
	}
	if o.Task != "" && f != FormatMathShepherd {
		return optionErrorf(OptTask, "the %s format has no task (math-shepherd only)", f)
	}
	if o.StepTag != "" {
		if f != FormatOpenRLHF {
			return optionErrorf(OptStepTag, "the %s format has no placeholder token (openrlhf only; math-shepherd always uses %s)", f, labeler.MathShepherdTag)
		}
		if err := checkToken(OptStepTag, o.StepTag); err != nil {
			return err
		}
	}
	if o.Good != "" || o.Bad != "" {
		if f != FormatOpenRLHF && f != FormatChat {
			return optionErrorf(OptTokens, "the %s format has no reward tokens (openrlhf and chat only; math-shepherd always uses + and -)", f)
		}
		good, bad := o.tokens()
		for _, t := range []string{good, bad} {
			if err := checkToken(OptTokens, t); err != nil {
				return err
			}
		}
		if good == bad {
			return optionErrorf(OptTokens, "good and bad steps are both %q", good)
		}
		if f == FormatOpenRLHF && (strings.Contains(o.stepTag(), good) || strings.Contains(o.stepTag(), bad)) {
			return optionErrorf(OptStepTag, "%q contains a reward token", o.stepTag())
		}
	}
	return nil
}

func checkToken(option, t string) error {
	switch {
	case !utf8.ValidString(t):
		return optionErrorf(option, "%q is not valid UTF-8", t)
	case strings.TrimSpace(t) != t || t == "":
		return optionErrorf(option, "%q is empty or has surrounding white space", t)
	case strings.ContainsAny(t, "\n\r"):
		return optionErrorf(option, "%q spans lines", t)
	}
	return nil
}

// TRLRow is a row of TRL's stepwise-supervision data set.
type TRLRow struct {
	Prompt      string    `json:"prompt"`
	Completions []string  `json:"completions"`
	Labels      []bool    `json:"labels"`
	SoftLabels  []float64 `json:"soft_labels,omitempty"` // with ExportOptions.Soft; written as floats ("1.0")
}

// MathShepherdRow is a row of the Math-Shepherd data set.
type MathShepherdRow struct {
	Input string `json:"input"`
	Label string `json:"label"`
	Task  string `json:"task,omitempty"`
}

// OpenRLHFRow is a row of OpenRLHF's process-reward data set: Value holds
// the label tokens, or SoftValue the soft labels; the JSON field "value"
// is whichever is set.
type OpenRLHFRow struct {
	Input     string
	Value     []string
	SoftValue []float64
}

// MarshalJSON writes {"input", "value"}.
func (r OpenRLHFRow) MarshalJSON() ([]byte, error) {
	var v any = r.Value
	if r.SoftValue != nil {
		v = jsonFloats(r.SoftValue)
	}
	return marshalRow(struct {
		Input string `json:"input"`
		Value any    `json:"value"`
	}{r.Input, v})
}

// MarshalJSON writes the row, soft labels as floats.
func (r TRLRow) MarshalJSON() ([]byte, error) {
	return marshalRow(struct {
		Prompt      string     `json:"prompt"`
		Completions []string   `json:"completions"`
		Labels      []bool     `json:"labels"`
		SoftLabels  jsonFloats `json:"soft_labels,omitempty"`
	}{r.Prompt, r.Completions, r.Labels, r.SoftLabels})
}

// marshalRow encodes v without HTML escaping, like the rows around it
// ("<step>" stays readable).
func marshalRow(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// jsonFloats encodes numbers with a decimal point always ("1.0", not "1"),
// so readers that infer column types block by block (pyarrow's JSON
// reader, Hugging Face datasets) see a float column throughout.
type jsonFloats []float64

func (f jsonFloats) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	for i, v := range f {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("soft label %v is not a number", v)
		}
		if i > 0 {
			b = append(b, ',')
		}
		n := len(b)
		b = strconv.AppendFloat(b, v, 'f', -1, 64)
		if !bytes.ContainsRune(b[n:], '.') {
			b = append(b, ".0"...)
		}
	}
	return append(b, ']'), nil
}

// ChatMessage is one turn of a ChatRow.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatRow is a solution as a conversation: a user turn per step, each
// answered by an assistant turn holding the step's label token.
type ChatRow struct {
	Messages []ChatMessage `json:"messages"`
}

// Export converts r into a row of format f: the Record itself, a TRLRow, a
// MathShepherdRow, an OpenRLHFRow or a ChatRow.
func Export(r labeler.Record, f Format, opt ExportOptions) (any, error) {
	if err := opt.Check(f); err != nil {
		return nil, err
	}
	switch f {
	case FormatRecord:
		return r, nil // the canonical record stands as it is, failed steps and all
	case FormatTRL:
		return ToTRL(r, opt)
	case FormatMathShepherd:
		return ToMathShepherd(r, opt)
	case FormatOpenRLHF:
		return ToOpenRLHF(r, opt)
	case FormatChat:
		return ToChat(r, opt)
	}
	return nil, fmt.Errorf("unknown format %q", f)
}

// checkRecord validates what every format relies on.
func checkRecord(r labeler.Record) error {
	name := recordName(r)
	switch {
	case len(r.FailedSteps) > 0:
		return fmt.Errorf("%s: steps %v: %w", name, r.FailedSteps, ErrFailedSteps)
	case strings.TrimSpace(r.Prompt) == "":
		return fmt.Errorf("%s: field \"prompt\" is empty", name)
	case len(r.Completions) == 0:
		return fmt.Errorf("%s: field \"completions\" is empty", name)
	case len(r.Labels) != len(r.Completions):
		return fmt.Errorf("%s: %d labels for %d completions", name, len(r.Labels), len(r.Completions))
	case len(r.SoftLabels) != 0 && len(r.SoftLabels) != len(r.Completions):
		return fmt.Errorf("%s: %d soft labels for %d completions", name, len(r.SoftLabels), len(r.Completions))
	}
	for i, c := range r.Completions {
		if strings.TrimSpace(c) == "" {
			return fmt.Errorf("%s: completions[%d] is empty", name, i)
		}
	}
	for i, s := range r.SoftLabels {
		if s != nil && !(*s >= 0 && *s <= 1) {
			return fmt.Errorf("%s: soft_labels[%d] = %v is not in [0, 1]", name, i, *s)
		}
	}
	return nil
}

func recordName(r labeler.Record) string {
	return fmt.Sprintf("record %s/%s", r.ProblemID, r.SolutionID)
}

// softLabels returns the soft label of every step, the hard label as 1 or
// 0 where none was measured.
func softLabels(r labeler.Record) []float64 {
	out := make([]float64, len(r.Labels))
	for i, h := range r.Labels {
		switch {
		case i < len(r.SoftLabels) && r.SoftLabels[i] != nil:
			out[i] = *r.SoftLabels[i]
		case h:
			out[i] = 1
		}
	}
	return out
}

// ToTRL converts a record into TRL's stepwise-supervision columns.
func ToTRL(r labeler.Record, opt ExportOptions) (TRLRow, error) {
	if err := checkRecord(r); err != nil {
		return TRLRow{}, err
	}
	row := TRLRow{Prompt: r.Prompt, Completions: r.Completions, Labels: r.Labels}
	if opt.Soft {
		row.SoftLabels = softLabels(r)
	}
	return row, nil
}

// ToMathShepherd converts a record into the Math-Shepherd layout.
func ToMathShepherd(r labeler.Record, opt ExportOptions) (MathShepherdRow, error) {
	if err := checkRecord(r); err != nil {
		return MathShepherdRow{}, err
	}
	steps := numberedSteps(r.Completions)
	marks := make([]string, len(steps))
	for i, l := range r.Labels {
		marks[i] = labelToken(l, "+", "-")
	}
	row := MathShepherdRow{
		Input: taggedText(r.Prompt, steps, nil, labeler.MathShepherdTag),
		Label: taggedText(r.Prompt, steps, marks, ""),
		Task:  opt.Task,
	}
	// The layout has no escaping: make sure the text reads back as written.
	_, sol, err := labeler.SplitMathShepherd(row.Input)
	if err == nil && !slices.Equal(sol.StepTexts(), steps) {
		err = fmt.Errorf("a step holds the tag %s, or the question a \"Step 1:\" that opens the steps", labeler.MathShepherdTag)
	}
	if err == nil {
		var labels []bool
		labels, err = labeler.MathShepherdLabels(row.Label)
		if err == nil && !slices.Equal(labels, r.Labels) {
			err = errors.New("a line of a step ends in a lone + or -, which reads as a label")
		}
	}
	if err != nil {
		return MathShepherdRow{}, fmt.Errorf("%s: cannot be written unambiguously in the math-shepherd layout: %v", recordName(r), err)
	}
	return row, nil
}

// ToOpenRLHF converts a record into OpenRLHF's process-reward layout.
func ToOpenRLHF(r labeler.Record, opt ExportOptions) (OpenRLHFRow, error) {
	if err := checkRecord(r); err != nil {
		return OpenRLHFRow{}, err
	}
	tag := opt.stepTag()
	steps := numberedSteps(r.Completions)
	row := OpenRLHFRow{Input: taggedText(r.Prompt, steps, nil, tag)}
	// The trainer pairs the i-th placeholder with the i-th value.
	if n := strings.Count(row.Input, tag); n != len(steps) {
		return OpenRLHFRow{}, fmt.Errorf("%s: the placeholder %q occurs %d times in the text of %d steps (the question or a step contains it)", recordName(r), tag, n, len(steps))
	}
	if opt.Soft {
		row.SoftValue = softLabels(r)
		return row, nil
	}
	good, bad := opt.tokens()
	row.Value = make([]string, len(r.Labels))
	for i, l := range r.Labels {
		row.Value[i] = labelToken(l, good, bad)
	}
	return row, nil
}

// ToChat converts a record into a conversation.
func ToChat(r labeler.Record, opt ExportOptions) (ChatRow, error) {
	if err := checkRecord(r); err != nil {
		return ChatRow{}, err
	}
	good, bad := opt.tokens()
	msgs := make([]ChatMessage, 0, 2*len(r.Completions))
	for i, c := range r.Completions {
		if i == 0 {
			c = strings.TrimSpace(r.Prompt) + "\n" + c
		}
		msgs = append(msgs, ChatMessage{Role: "user", Content: c}, ChatMessage{Role: "assistant", Content: labelToken(r.Labels[i], good, bad)})
	}
	return ChatRow{Messages: msgs}, nil
}

func labelToken(l bool, good, bad string) string {
	if l {
		return good
	}
	return bad
}

// numberedSteps trims every step and prefixes "Step k: " to those that do
// not open with a step marker already.
func numberedSteps(steps []string) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		s = strings.TrimSpace(s)
		if !labeler.OpensWithStepMarker(s) {
			s = "Step " + strconv.Itoa(i+1) + ": " + s
		}
		out[i] = s
	}
	return out
}

// taggedText writes question, a space, then the steps one per line, each
// followed by a space and its mark (marks[i], or tag for every step when
// marks is nil).
func taggedText(question string, steps, marks []string, tag string) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(question))
	b.WriteByte(' ')
	for i, s := range steps {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
		b.WriteByte(' ')
		if marks != nil {
			b.WriteString(marks[i])
		} else {
			b.WriteString(tag)
		}
	}
	return b.String()
}
