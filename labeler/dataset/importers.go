package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
)

// InputFormat names a data set layout an importer reads (one row of a
// public data set into a Problem with one solution and the labels the data
// set gives it); the layouts are described in the package documentation.
type InputFormat string

// The input formats.
const (
	InputJSONL        InputFormat = "jsonl"
	InputGSM8K        InputFormat = "gsm8k"
	InputMATH         InputFormat = "math"
	InputProcessBench InputFormat = "processbench"
	InputPRM800K      InputFormat = "prm800k"
	InputMathShepherd InputFormat = "math-shepherd"
)

// InputFormats lists the input formats.
var InputFormats = []InputFormat{InputJSONL, InputGSM8K, InputMATH, InputProcessBench, InputPRM800K, InputMathShepherd}

// ParseInputFormat parses an input format name (case-insensitive); "" is
// InputJSONL and "math500" is InputMATH.
func ParseInputFormat(s string) (InputFormat, error) {
	t := InputFormat(strings.ToLower(strings.TrimSpace(s)))
	switch t {
	case "":
		return InputJSONL, nil
	case "math500":
		return InputMATH, nil
	}
	if slices.Contains(InputFormats, t) {
		return t, nil
	}
	return "", fmt.Errorf("unknown input format %q (valid: %s, math500)", s, joinNames(InputFormats))
}

// ErrUnusable is wrapped by the error of a well-formed row that cannot be
// labelled: it has no gold answer or no solution.
var ErrUnusable = errors.New("unusable")

// ImportOptions tune the importers.
type ImportOptions struct {
	Gold *GoldIndex // gold answers for rows that carry none; may be nil
}

// Imported is one data set row as labeling input.
type Imported struct {
	Problem labeler.Problem
	// Labels are the data set's own labels of the steps of
	// Problem.Solutions[0] (given as steps), true for a correct step; nil
	// when the data set has none.
	Labels []bool
	Task   string // Math-Shepherd's "task" field, if any
}

// importers reads a row of each input format.
var importers = map[InputFormat]func(row []byte, defaultID string, opt ImportOptions) (Imported, error){
	InputJSONL:        importJSONL,
	InputGSM8K:        importGSM8K,
	InputMATH:         importMATH,
	InputProcessBench: importProcessBench,
	InputPRM800K:      importPRM800K,
	InputMathShepherd: importMathShepherd,
}

// Import converts one row of format f. defaultID names a problem whose row
// has no id.
func Import(f InputFormat, row []byte, defaultID string, opt ImportOptions) (Imported, error) {
	read, ok := importers[f]
	if !ok {
		return Imported{}, fmt.Errorf("%s row %s: unknown input format %q", f, defaultID, f)
	}
	im, err := read(row, defaultID, opt)
	if err != nil {
		return Imported{}, fmt.Errorf("%s row %s: %w", f, defaultID, err)
	}
	return im, nil
}

// decodeRow unmarshals a row into v, which must be a JSON object.
func decodeRow(row []byte, v any) error {
	row = bytes.TrimSpace(row)
	if len(row) == 0 || row[0] != '{' {
		return errors.New("not a JSON object")
	}
	return json.Unmarshal(row, v)
}

func missing(field string) error {
	return fmt.Errorf("field %q is missing or empty", field)
}

func noGold(why string) error {
	return fmt.Errorf("%w: no gold answer: %s (give the gold answers with --gold-from FILE)", ErrUnusable, why)
}

// lookupGold returns the indexed gold answer of a row.
func lookupGold(opt ImportOptions, id, question string) (string, bool) {
	if opt.Gold == nil {
		return "", false
	}
	return opt.Gold.Lookup(id, question)
}

// keepSteps drops blank steps (and their labels), as FromSteps would, so
// that labels stay aligned with the prepared steps.
func keepSteps(steps []string, labels []bool) ([]string, []bool) {
	var outS []string
	var outL []bool
	for i, s := range steps {
		if strings.TrimSpace(s) == "" {
			continue
		}
		outS = append(outS, s)
		if labels != nil {
			outL = append(outL, labels[i])
		}
	}
	return outS, outL
}

func stepsProblem(id, question, gold string, steps []string, labels []bool) Imported {
	steps, labels = keepSteps(steps, labels)
	return Imported{
		Problem: labeler.Problem{ID: id, Question: question, Answer: gold, Solutions: []labeler.SolutionInput{{Steps: steps}}},
		Labels:  labels,
	}
}

func importJSONL(row []byte, defaultID string, opt ImportOptions) (Imported, error) {
	var p labeler.Problem
	if err := decodeRow(row, &p); err != nil {
		return Imported{}, err
	}
	ownID := strings.TrimSpace(p.ID)
	if ownID == "" {
		p.ID = defaultID
	}
	if strings.TrimSpace(p.Answer) == "" {
		g, ok := lookupGold(opt, ownID, p.Question)
		if !ok {
			return Imported{}, noGold("field \"answer\" is missing or empty")
		}
		p.Answer = g
	}
	return Imported{Problem: p}, nil
}

// calculatorNote matches a GSM8K calculator annotation.
var calculatorNote = regexp.MustCompile(`<<[^<>\n]*>>`)

// StripCalculatorNotes removes GSM8K's calculator annotations
// ("<<48/2=24>>") from s.
func StripCalculatorNotes(s string) string {
	return calculatorNote.ReplaceAllString(s, "")
}

func importGSM8K(row []byte, defaultID string, opt ImportOptions) (Imported, error) {
	var r struct {
		Question string `json:"question"`
		Answer   string `json:"answer"`
	}
	if err := decodeRow(row, &r); err != nil {
		return Imported{}, err
	}
	if strings.TrimSpace(r.Question) == "" {
		return Imported{}, missing("question")
	}
	if strings.TrimSpace(r.Answer) == "" {
		return Imported{}, missing("answer")
	}
	var steps []string
	final := ""
	for line := range strings.SplitSeq(r.Answer, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "####") {
			final = line
			continue
		}
		if line = strings.TrimSpace(StripCalculatorNotes(line)); line != "" {
			steps = append(steps, line)
		}
	}
	gold := ""
	if final != "" {
		gold = strings.TrimSpace(final[4:])
	}
	if gold == "" {
		g, ok := lookupGold(opt, "", r.Question)
		if !ok {
			return Imported{}, noGold("field \"answer\" has no \"#### x\" line")
		}
		gold = g
	}
	if len(steps) == 0 {
		return Imported{}, fmt.Errorf("%w: field \"answer\" has no solution lines before \"####\"", ErrUnusable)
	}
	if final != "" {
		steps[len(steps)-1] += "\n" + final
	}
	labels := make([]bool, len(steps))
	for i := range labels {
		labels[i] = true
	}
	return stepsProblem(defaultID, r.Question, gold, steps, labels), nil
}

func importMATH(row []byte, defaultID string, opt ImportOptions) (Imported, error) {
	var r struct {
		Problem  string          `json:"problem"`
		Solution string          `json:"solution"`
		Answer   json.RawMessage `json:"answer"`
		UniqueID string          `json:"unique_id"`
	}
	if err := decodeRow(row, &r); err != nil {
		return Imported{}, err
	}
	if strings.TrimSpace(r.Problem) == "" {
		return Imported{}, missing("problem")
	}
	ownID := strings.TrimSpace(r.UniqueID)
	id := ownID
	if id == "" {
		id = defaultID
	}
	gold, err := scalarText(r.Answer)
	if err != nil {
		return Imported{}, fmt.Errorf("field \"answer\": %v", err)
	}
	if gold == "" {
		if b, _, ok := labeler.LastBoxed(r.Solution, len(r.Solution)); ok {
			gold = b
		} else if g, ok := lookupGold(opt, ownID, r.Problem); ok {
			gold = g
		} else {
			return Imported{}, noGold("no field \"answer\" and no \\boxed{} in field \"solution\"")
		}
	}
	if strings.TrimSpace(r.Solution) == "" {
		return Imported{}, fmt.Errorf("%w: field \"solution\" is missing or empty", ErrUnusable)
	}
	return Imported{Problem: labeler.Problem{ID: id, Question: r.Problem, Answer: gold, Solutions: []labeler.SolutionInput{{Text: r.Solution}}}}, nil
}

// scalarText reads a JSON string or number as text; null or absent is "".
func scalarText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return strings.TrimSpace(s), nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", errors.New("want a string or a number")
	}
	return n.String(), nil
}

func importProcessBench(row []byte, defaultID string, opt ImportOptions) (Imported, error) {
	var r struct {
		ID                 json.RawMessage `json:"id"`
		Problem            string          `json:"problem"`
		Steps              []string        `json:"steps"`
		FinalAnswerCorrect *bool           `json:"final_answer_correct"`
		Label              *int            `json:"label"`
	}
	if err := decodeRow(row, &r); err != nil {
		return Imported{}, err
	}
	ownID, err := scalarText(r.ID)
	if err != nil {
		return Imported{}, fmt.Errorf("field \"id\": %v", err)
	}
	id := ownID
	if id == "" {
		id = defaultID
	}
	if strings.TrimSpace(r.Problem) == "" {
		return Imported{}, missing("problem")
	}
	var labels []bool
	if r.Label != nil {
		first := *r.Label
		if first < -1 || first >= len(r.Steps) {
			return Imported{}, fmt.Errorf("field \"label\" = %d is not -1 or a step index below %d", first, len(r.Steps))
		}
		labels = make([]bool, len(r.Steps))
		for i := range labels {
			labels[i] = first == -1 || i < first
		}
	}
	steps, labels := keepSteps(r.Steps, labels)
	if len(steps) == 0 {
		return Imported{}, fmt.Errorf("%w: field \"steps\" is missing or empty", ErrUnusable)
	}
	gold, ok := lookupGold(opt, ownID, r.Problem)
	switch {
	case ok:
	case r.FinalAnswerCorrect != nil && *r.FinalAnswerCorrect:
		a, found := grade.ExtractAnswer(strings.Join(steps, "\n\n"))
		if !found {
			return Imported{}, noGold("final_answer_correct is true but the solution states no final answer")
		}
		gold = a
	default:
		return Imported{}, noGold("ProcessBench has none and final_answer_correct is not true")
	}
	return stepsProblem(id, r.Problem, gold, steps, labels), nil
}

type prmCompletion struct {
	Text   string `json:"text"`
	Rating *int   `json:"rating"`
}

// UnmarshalJSON also accepts a bare string (a human completion in some
// releases).
func (c *prmCompletion) UnmarshalJSON(b []byte) error {
	type plain prmCompletion
	var p plain
	if err := labeler.UnmarshalTextOr(b, &p.Text, &p, false); err != nil {
		return err
	}
	*c = prmCompletion(p)
	return nil
}

func importPRM800K(row []byte, defaultID string, opt ImportOptions) (Imported, error) {
	var r struct {
		Question *struct {
			Problem           string   `json:"problem"`
			GroundTruthAnswer *string  `json:"ground_truth_answer"`
			PreGeneratedSteps []string `json:"pre_generated_steps"`
		} `json:"question"`
		Label *struct {
			Steps []struct {
				Completions      []prmCompletion `json:"completions"`
				HumanCompletion  *prmCompletion  `json:"human_completion"`
				ChosenCompletion *int            `json:"chosen_completion"`
			} `json:"steps"`
			FinishReason string `json:"finish_reason"`
		} `json:"label"`
	}
	if err := decodeRow(row, &r); err != nil {
		return Imported{}, err
	}
	if r.Question == nil || strings.TrimSpace(r.Question.Problem) == "" {
		return Imported{}, missing("question.problem")
	}
	var steps []string
	var labels []bool
	if r.Label != nil {
	path:
		for i, st := range r.Label.Steps {
			switch {
			case st.ChosenCompletion != nil:
				k := *st.ChosenCompletion
				if k < 0 || k >= len(st.Completions) {
					return Imported{}, fmt.Errorf("label.steps[%d].chosen_completion = %d is out of range (%d completions)", i, k, len(st.Completions))
				}
				c := st.Completions[k]
				steps = append(steps, c.Text)
				labels = append(labels, c.Rating == nil || *c.Rating >= 0)
			case st.HumanCompletion != nil:
				steps = append(steps, st.HumanCompletion.Text)
				labels = append(labels, true)
			default:
				if r.Label.FinishReason == "found_error" {
					for _, c := range st.Completions {
						if c.Rating != nil && *c.Rating < 0 {
							steps = append(steps, c.Text)
							labels = append(labels, false)
							break
						}
					}
				}
				break path
			}
		}
	}
	if len(steps) == 0 {
		steps, labels = r.Question.PreGeneratedSteps, nil
	}
	steps, labels = keepSteps(steps, labels)
	if len(steps) == 0 {
		return Imported{}, fmt.Errorf("%w: no steps: neither label.steps nor question.pre_generated_steps gives any", ErrUnusable)
	}
	gold := ""
	if r.Question.GroundTruthAnswer != nil {
		gold = strings.TrimSpace(*r.Question.GroundTruthAnswer)
	}
	if gold == "" {
		g, ok := lookupGold(opt, "", r.Question.Problem)
		if !ok {
			return Imported{}, noGold("question.ground_truth_answer is null or empty")
		}
		gold = g
	}
	return stepsProblem(defaultID, r.Question.Problem, gold, steps, labels), nil
}

func importMathShepherd(row []byte, defaultID string, opt ImportOptions) (Imported, error) {
	var r struct {
		Input string  `json:"input"`
		Label *string `json:"label"`
		Task  string  `json:"task"`
	}
	if err := decodeRow(row, &r); err != nil {
		return Imported{}, err
	}
	if strings.TrimSpace(r.Input) == "" {
		return Imported{}, missing("input")
	}
	question, sol, err := labeler.SplitMathShepherd(r.Input)
	if err != nil {
		return Imported{}, fmt.Errorf("field \"input\": %v", err)
	}
	if question == "" {
		return Imported{}, errors.New("field \"input\": no question before \"Step 1:\"")
	}
	steps := sol.StepTexts()
	var labels []bool
	if r.Label != nil {
		labels, err = labeler.MathShepherdLabels(*r.Label)
		if err != nil {
			return Imported{}, fmt.Errorf("field \"label\": %v", err)
		}
		if len(labels) != len(steps) {
			return Imported{}, fmt.Errorf("field \"label\" has %d labels for the %d steps of field \"input\"", len(labels), len(steps))
		}
	}
	gold, ok := lookupGold(opt, "", question)
	if !ok {
		if len(labels) == 0 || !labels[len(labels)-1] {
			return Imported{}, noGold("Math-Shepherd has none and the last step is not labelled +")
		}
		a, found := grade.ExtractAnswer(sol.Text)
		if !found {
			return Imported{}, noGold("the solution states no final answer")
		}
		gold = a
	}
	im := stepsProblem(defaultID, question, gold, steps, labels)
	im.Task = r.Task
	return im, nil
}

// GoldIndex holds gold answers by row id and by question text, read from
// the rows of a reference data set: an id from "id" or "unique_id"; a
// question from "question" or "problem"; the answer from "answer" (a bare
// answer, a GSM8K solution ending "#### x", or a text with \boxed{}),
// "ground_truth_answer", or the last \boxed{} of "solution". So the GSM8K
// and MATH test files serve as they are. Questions match after white space
// is collapsed; a key given two different answers is ambiguous and is not
// found.
type GoldIndex struct {
	byID, byQuestion map[string]string
}

// NewGoldIndex returns an empty index.
func NewGoldIndex() *GoldIndex {
	return &GoldIndex{byID: map[string]string{}, byQuestion: map[string]string{}}
}

const ambiguous = "\x00ambiguous"

// Len is the number of keys (ids and questions) indexed.
func (g *GoldIndex) Len() int { return len(g.byID) + len(g.byQuestion) }

// Add indexes one row.
func (g *GoldIndex) Add(row []byte) error {
	var r struct {
		ID                json.RawMessage `json:"id"`
		UniqueID          string          `json:"unique_id"`
		Question          json.RawMessage `json:"question"`
		Problem           string          `json:"problem"`
		Answer            json.RawMessage `json:"answer"`
		GroundTruthAnswer *string         `json:"ground_truth_answer"`
		Solution          string          `json:"solution"`
	}
	if err := decodeRow(row, &r); err != nil {
		return err
	}
	id, err := scalarText(r.ID)
	if err != nil {
		return fmt.Errorf("field \"id\": %v", err)
	}
	if id == "" {
		id = strings.TrimSpace(r.UniqueID)
	}
	var question string
	if q := bytes.TrimSpace(r.Question); len(q) > 0 && q[0] == '"' {
		if err := json.Unmarshal(q, &question); err != nil {
			return fmt.Errorf("field \"question\": %v", err)
		}
	}
	if strings.TrimSpace(question) == "" {
		question = r.Problem
	}
	answer, err := scalarText(r.Answer)
	if err != nil {
		return fmt.Errorf("field \"answer\": %v", err)
	}
	if answer != "" {
		answer = labeler.GoldAnswer(answer)
	} else if r.GroundTruthAnswer != nil && strings.TrimSpace(*r.GroundTruthAnswer) != "" {
		answer = strings.TrimSpace(*r.GroundTruthAnswer)
	} else if b, _, ok := labeler.LastBoxed(r.Solution, len(r.Solution)); ok {
		answer = b
	}
	switch {
	case answer == "":
		return errors.New("no answer: want \"answer\", \"ground_truth_answer\" or a \\boxed{} in \"solution\"")
	case id == "" && strings.TrimSpace(question) == "":
		return errors.New("no key: want \"id\", \"unique_id\", \"question\" or \"problem\"")
	}
	if id != "" {
		put(g.byID, id, answer)
	}
	if q := questionKey(question); q != "" {
		put(g.byQuestion, q, answer)
	}
	return nil
}

func put(m map[string]string, k, v string) {
	if old, ok := m[k]; ok && old != v {
		v = ambiguous
	}
	m[k] = v
}

// Lookup returns the answer indexed for id, else for question.
func (g *GoldIndex) Lookup(id, question string) (string, bool) {
	if g == nil {
		return "", false
	}
	if a, ok := g.byID[strings.TrimSpace(id)]; ok && a != ambiguous {
		return a, true
	}
	if a, ok := g.byQuestion[questionKey(question)]; ok && a != ambiguous {
		return a, true
	}
	return "", false
}

func questionKey(q string) string { return strings.Join(strings.Fields(q), " ") }

// RowID returns the default id of the n-th row (1-based) of a data set in
// format f: "<format>-<n>".
func RowID(f InputFormat, n int) string { return string(f) + "-" + strconv.Itoa(n) }

// Row is one data set row converted to labeling input, with its place in
// the file.
type Row struct {
	Imported
	N    int    // the line number in JSONL, the 1-based element number in an array
	What string // "line" or "element"
	Size int    // the row's bytes
}

// Problems yields the rows of a data set of format f converted to labeling
// input by Import, each handed over as it is read; rows calls its function
// with every row (its JSON bytes, its number and what it is, "line" or
// "element") and stops at its error. defaultID names the problem of the
// n-th row when the row has none. The first error, naming its row, ends
// it; so does the consumer, by stopping.
func Problems(f InputFormat, opt ImportOptions, rows func(fn func(row []byte, n int, what string) error) error, defaultID func(n int) string) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		stopped := errors.New("stopped")
		err := rows(func(row []byte, n int, what string) error {
			im, err := Import(f, row, defaultID(n), opt)
			if err != nil {
				return fmt.Errorf("%s %d: %w", what, n, err)
			}
			if !yield(Row{Imported: im, N: n, What: what, Size: len(row)}, nil) {
				return stopped
			}
			return nil
		})
		if err != nil && err != stopped {
			yield(Row{}, err)
		}
	}
}
