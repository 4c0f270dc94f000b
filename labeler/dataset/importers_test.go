package dataset

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/internal/testkit"
	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
)

func TestImportParseFormat(t *testing.T) {
	for in, want := range map[string]InputFormat{"": InputJSONL, "GSM8K": InputGSM8K, " math500 ": InputMATH, "math": InputMATH,
		"processbench": InputProcessBench, "prm800k": InputPRM800K, "math-shepherd": InputMathShepherd, "jsonl": InputJSONL} {
		if got, err := ParseInputFormat(in); err != nil || got != want {
			t.Errorf("ParseInputFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseInputFormat("csv"); err == nil || !strings.Contains(err.Error(), "processbench") {
		t.Errorf("ParseInputFormat(csv) = %v", err)
	}
}

// prepared imports one row and prepares it as the labeler would.
func prepared(t *testing.T, f InputFormat, row string, opt ImportOptions) (Imported, labeler.PreparedSolution) {
	t.Helper()
	return preparedRow(t, f, []byte(row), "row-1", opt)
}

// preparedRow is prepared for a row whose default id is id (RowID).
func preparedRow(t *testing.T, f InputFormat, row []byte, id string, opt ImportOptions) (Imported, labeler.PreparedSolution) {
	t.Helper()
	im, err := Import(f, row, id, opt)
	if err != nil {
		t.Fatalf("%s %s: %v", f, id, err)
	}
	sols, err := im.Problem.Prepare("x", labeler.InputLimits{})
	if err != nil {
		t.Fatalf("%s %s: prepare: %v", f, id, err)
	}
	if len(sols) != 1 {
		t.Fatalf("%s %s: %d solutions", f, id, len(sols))
	}
	if im.Labels != nil && len(im.Labels) != len(sols[0].Solution.Steps) {
		t.Fatalf("%s %s: %d labels for %d steps", f, id, len(im.Labels), len(sols[0].Solution.Steps))
	}
	return im, sols[0]
}

func TestImportGSM8K(t *testing.T) {
	row := `{"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?", "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72"}`
	im, sol := prepared(t, InputGSM8K, row, ImportOptions{})
	want := []string{"Natalia sold 48/2 = 24 clips in May.", "Natalia sold 48+24 = 72 clips altogether in April and May.\n#### 72"}
	if got := sol.Solution.StepTexts(); !slices.Equal(got, want) {
		t.Errorf("steps %q, want %q", got, want)
	}
	if sol.Gold != "72" || sol.ProblemID != "row-1" || !slices.Equal(im.Labels, []bool{true, true}) {
		t.Errorf("gold %q id %q labels %v", sol.Gold, sol.ProblemID, im.Labels)
	}
	if a, _ := grade.ExtractAnswer(sol.Solution.Text); a != "72" {
		t.Errorf("the solution's own answer reads %q", a)
	}
	for _, bad := range []struct{ row, want string }{
		{`{"question": "q", "answer": "no marker"}`, "####"},
		{`{"question": "q", "answer": "#### 5"}`, "no solution lines"},
		{`{"answer": "a\n#### 5"}`, `"question"`},
		{`["not", "an object"]`, "not a JSON object"},
	} {
		_, err := Import(InputGSM8K, []byte(bad.row), "gsm8k-9", ImportOptions{})
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "gsm8k row gsm8k-9") {
			t.Errorf("%s: %v, want an error with %q", bad.row, err, bad.want)
		}
	}
}

func TestImportMATH(t *testing.T) {
	_, sol := prepared(t, InputMATH, `{"problem": "Compute $1+1$.", "solution": "We add.\n\nSo $1+1=\\boxed{2}$.", "level": "Level 1", "type": "Algebra"}`, ImportOptions{})
	if sol.Gold != "2" || len(sol.Solution.Steps) != 2 || sol.ProblemID != "row-1" {
		t.Errorf("gold %q steps %q id %q", sol.Gold, sol.Solution.StepTexts(), sol.ProblemID)
	}
	_, sol = prepared(t, InputMATH, `{"problem": "p", "solution": "so \\boxed{90^\\circ}", "answer": "90", "unique_id": "test/x/1.json", "level": 3}`, ImportOptions{})
	if sol.Gold != "90" || sol.ProblemID != "test/x/1.json" {
		t.Errorf("gold %q id %q", sol.Gold, sol.ProblemID)
	}
	_, err := Import(InputMATH, []byte(`{"problem": "p", "solution": "no box"}`), "r", ImportOptions{})
	if !errors.Is(err, ErrUnusable) || !strings.Contains(err.Error(), "boxed") {
		t.Errorf("no gold: %v", err)
	}
	_, err = Import(InputMATH, []byte(`{"problem": "p", "answer": "3"}`), "r", ImportOptions{})
	if !errors.Is(err, ErrUnusable) || !strings.Contains(err.Error(), `"solution"`) {
		t.Errorf("no solution: %v", err)
	}
}

func TestImportProcessBench(t *testing.T) {
	row := `{"id": "gsm8k-3", "generator": "m", "problem": "What is 6 * 7?", "steps": ["6 * 7 = 42.", "", "So the answer is \\boxed{42}."], "final_answer_correct": true, "label": -1}`
	im, sol := prepared(t, InputProcessBench, row, ImportOptions{})
	if sol.Gold != "42" || sol.ProblemID != "gsm8k-3" || !slices.Equal(im.Labels, []bool{true, true}) {
		t.Errorf("gold %q id %q labels %v", sol.Gold, sol.ProblemID, im.Labels)
	}
	row = `{"id": "math-7", "problem": "What is 6 * 7?", "steps": ["a", "b", "c", "d"], "final_answer_correct": false, "label": 1}`
	_, err := Import(InputProcessBench, []byte(row), "r", ImportOptions{})
	if !errors.Is(err, ErrUnusable) || !strings.Contains(err.Error(), "final_answer_correct") || !strings.Contains(err.Error(), "--gold-from") {
		t.Errorf("no gold: %v", err)
	}
	gold := NewGoldIndex()
	if err := gold.Add([]byte(`{"question": "What is  6 * 7?\n", "answer": "6 * 7 = <<6*7=42>>42\n#### 42"}`)); err != nil {
		t.Fatal(err)
	}
	im, sol = prepared(t, InputProcessBench, row, ImportOptions{Gold: gold})
	if sol.Gold != "42" || !slices.Equal(im.Labels, []bool{true, false, false, false}) {
		t.Errorf("gold %q labels %v", sol.Gold, im.Labels)
	}
	_, err = Import(InputProcessBench, []byte(`{"id": "x", "problem": "p", "steps": ["a"], "label": 1}`), "r", ImportOptions{Gold: gold})
	if err == nil || !strings.Contains(err.Error(), `"label" = 1`) {
		t.Errorf("label out of range: %v", err)
	}
}

func TestImportMathShepherd(t *testing.T) {
	row := `{"input": "What is 6 * 7? Step 1: 6 * 7 = 42. ки\nStep 2: The answer is: 42 ки", "label": "What is 6 * 7? Step 1: 6 * 7 = 42. +\nStep 2: The answer is: 42 +", "task": "GSM8K"}`
	im, sol := prepared(t, InputMathShepherd, row, ImportOptions{})
	if sol.Question != "What is 6 * 7?" || sol.Gold != "42" || !slices.Equal(im.Labels, []bool{true, true}) || im.Task != "GSM8K" {
		t.Errorf("question %q gold %q labels %v task %q", sol.Question, sol.Gold, im.Labels, im.Task)
	}
	if got := sol.Solution.StepTexts(); !slices.Equal(got, []string{"Step 1: 6 * 7 = 42.", "Step 2: The answer is: 42"}) {
		t.Errorf("steps %q", got)
	}
	bad := strings.Replace(row, "42 +\"", "42 -\"", 1)
	if _, err := Import(InputMathShepherd, []byte(bad), "r", ImportOptions{}); !errors.Is(err, ErrUnusable) || !strings.Contains(err.Error(), "labelled +") {
		t.Errorf("last label -: %v", err)
	}
	bad = strings.Replace(row, "42. +", "42.", 1)
	if _, err := Import(InputMathShepherd, []byte(bad), "r", ImportOptions{}); err == nil || !strings.Contains(err.Error(), "1 labels for the 2 steps") {
		t.Errorf("label count: %v", err)
	}
}

func TestImportJSONL(t *testing.T) {
	gold := NewGoldIndex()
	_ = gold.Add([]byte(`{"id": "a", "answer": "7"}`))
	im, sol := prepared(t, InputJSONL, `{"id": "a", "question": "q", "solutions": ["x\ny"]}`, ImportOptions{Gold: gold})
	if sol.Gold != "7" || im.Labels != nil || im.Problem.ID != "a" {
		t.Errorf("gold %q labels %v", sol.Gold, im.Labels)
	}
	im, _ = prepared(t, InputJSONL, `{"question": "q", "answer": "1", "solutions": ["x"]}`, ImportOptions{})
	if im.Problem.ID != "row-1" {
		t.Errorf("default id %q", im.Problem.ID)
	}
	if _, err := Import(InputJSONL, []byte(`{"question": "q", "solutions": ["x"]}`), "r", ImportOptions{Gold: gold}); !errors.Is(err, ErrUnusable) {
		t.Errorf("no gold: %v", err)
	}
}

func TestImportGoldIndex(t *testing.T) {
	g := NewGoldIndex()
	for _, row := range []string{
		`{"question": "A  b?", "answer": "x\n#### 1,000"}`,
		`{"problem": "C?", "solution": "so \\boxed{\\frac{1}{2}}."}`,
		`{"unique_id": "test/1.json", "problem": "D?", "answer": "5"}`,
		`{"id": 17, "ground_truth_answer": "9"}`,
		`{"question": "E?", "answer": "1"}`,
		`{"question": "E?", "answer": "2"}`,
	} {
		if err := g.Add([]byte(row)); err != nil {
			t.Fatalf("%s: %v", row, err)
		}
	}
	for _, c := range []struct{ id, q, want string }{
		{"", "A b?", "1,000"}, {"", " C? ", `\frac{1}{2}`}, {"test/1.json", "", "5"}, {"", "D?", "5"}, {"17", "", "9"}, {"nope", "A\nb?", "1,000"}, {"", "E?", ""},
	} {
		got, ok := g.Lookup(c.id, c.q)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("Lookup(%q, %q) = %q, %v; want %q", c.id, c.q, got, ok, c.want)
		}
	}
	for _, bad := range []string{`{"question": "q"}`, `{"answer": "1"}`, `[]`, `{"id": [1], "answer": "1"}`} {
		if err := g.Add([]byte(bad)); err == nil {
			t.Errorf("Add(%s): no error", bad)
		}
	}
	var nilIndex *GoldIndex
	if _, ok := nilIndex.Lookup("a", "b"); ok {
		t.Error("nil index found an answer")
	}
}

func TestImportPRM800KSmall(t *testing.T) {
	row := `{"question": {"problem": "p", "ground_truth_answer": "3"}, "label": {"steps": [
		{"completions": [{"text": "a", "rating": 1}], "human_completion": null, "chosen_completion": 0},
		{"completions": [{"text": "b", "rating": -1}], "human_completion": "b fixed", "chosen_completion": null},
		{"completions": [{"text": "c", "rating": 0}, {"text": "c2", "rating": 1}], "human_completion": null, "chosen_completion": 0},
		{"completions": [{"text": "d", "rating": 1}, {"text": "e", "rating": -1}], "human_completion": null, "chosen_completion": null}
	], "finish_reason": "found_error"}}`
	im, sol := prepared(t, InputPRM800K, row, ImportOptions{})
	if got := sol.Solution.StepTexts(); !slices.Equal(got, []string{"a", "b fixed", "c", "e"}) || !slices.Equal(im.Labels, []bool{true, true, true, false}) || sol.Gold != "3" {
		t.Errorf("steps %q labels %v gold %q", got, im.Labels, sol.Gold)
	}
	_, err := Import(InputPRM800K, []byte(`{"question": {"problem": "p", "ground_truth_answer": "3"}, "label": {"steps": [{"completions": [], "chosen_completion": 2}]}}`), "r", ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "chosen_completion = 2") {
		t.Errorf("bad chosen: %v", err)
	}
	_, sol = prepared(t, InputPRM800K, `{"question": {"problem": "p", "ground_truth_answer": "3", "pre_generated_steps": ["x", "y"]}}`, ImportOptions{})
	if got := sol.Solution.StepTexts(); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("pre-generated steps %q", got)
	}
}

// readJSONL returns the raw lines of a JSONL file.
func readJSONL(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<26)
	for sc.Scan() {
		if len(strings.TrimSpace(sc.Text())) > 0 {
			rows = append(rows, slices.Clone(sc.Bytes()))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// readJSONArray returns the elements of a JSON array file.
func readJSONArray(t *testing.T, path string) []json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func goldIndexOf(t *testing.T, paths ...string) *GoldIndex {
	t.Helper()
	g := NewGoldIndex()
	for _, p := range paths {
		for i, row := range readJSONL(t, p) {
			if err := g.Add(row); err != nil {
				t.Fatalf("%s row %d: %v", p, i+1, err)
			}
		}
	}
	return g
}

// recordOf builds the record a labeling run would write, with the data
// set's own labels.
func recordOf(t *testing.T, im Imported, sol labeler.PreparedSolution) labeler.Record {
	t.Helper()
	labels := im.Labels
	if labels == nil { // a reference solution: every step correct
		labels = make([]bool, len(sol.Solution.Steps))
		for i := range labels {
			labels[i] = true
		}
	}
	steps := make([]labeler.StepLabel, len(labels))
	for i, l := range labels {
		steps[i] = labeler.StepLabel{Hard: l}
	}
	return labeler.NewRecord(sol.ProblemID, sol.SolutionID, sol.Question, sol.Solution.StepTexts(), steps, labels[len(labels)-1], labeler.Exhaustive, "dataset", grade.Version)
}

// checkTRL exports a record as TRL and checks it carries the solution.
func checkTRL(t *testing.T, r labeler.Record, question string, steps []string, labels []bool) {
	t.Helper()
	row, err := ToTRL(r, ExportOptions{Soft: true})
	if err != nil {
		t.Fatal(err)
	}
	if row.Prompt != question || !slices.Equal(row.Completions, steps) || (labels != nil && !slices.Equal(row.Labels, labels)) {
		t.Fatalf("trl row %+v, want %q %q %v", row, question, steps, labels)
	}
}

// TestImportMathShepherdSamples: the Math-Shepherd samples survive import
// → record → math-shepherd export byte for byte.
func TestImportMathShepherdData(t *testing.T) {
	path := testkit.SharedData(t, "math-shepherd/samples_math-shepherd.jsonl")
	gold := goldIndexOf(t, testkit.SharedData(t, "gsm8k/train.jsonl"))
	rows := readJSONL(t, path)
	if len(rows) != 7 {
		t.Fatalf("%d samples", len(rows))
	}
	for i, raw := range rows {
		var orig MathShepherdRow
		if err := json.Unmarshal(raw, &orig); err != nil {
			t.Fatal(err)
		}
		// Every sample's last label is "-": without the GSM8K answers there is no gold.
		if _, err := Import(InputMathShepherd, raw, RowID(InputMathShepherd, i+1), ImportOptions{}); !errors.Is(err, ErrUnusable) {
			t.Errorf("sample %d without gold: %v", i+1, err)
		}
		im, sol := preparedRow(t, InputMathShepherd, raw, RowID(InputMathShepherd, i+1), ImportOptions{Gold: gold})
		r := recordOf(t, im, sol)
		row, err := ToMathShepherd(r, ExportOptions{Task: im.Task})
		if err != nil {
			t.Fatal(err)
		}
		if row != orig {
			t.Errorf("sample %d:\n got %q\n     %q\nwant %q\n     %q", i+1, row.Input, row.Label, orig.Input, orig.Label)
		}
		o, err := ToOpenRLHF(r, ExportOptions{})
		if err != nil || o.Input != orig.Input {
			t.Errorf("sample %d: openrlhf input %q, %v", i+1, o.Input, err)
		}
	}
}

func TestImportPRM800KData(t *testing.T) {
	rows := readJSONL(t, testkit.SharedData(t, "prm800k/samples/samples_prm800k.jsonl"))
	want := []struct {
		steps    int
		human    []int // steps taken from a human completion
		labels   string
		gold     string
		lastText string
	}{
		{6, []int{1}, "++++++", "29", "That means a pencil costs 29 cents.\n\n# Answer\n\n29"},
		{7, nil, "++++++-", "28800", "For the Democrats, there are 5! ways to order them in a line, but only half of them are distinct around a circle, since reversing the order gives the same seating."},
		{5, nil, "+++++", "468", "Exactly.\n\n# Answer\n\n468"},
		{7, nil, "+++++++", "9", "Right. So the number of boys is 9.\n\n# Answer\n\n9"},
		{8, []int{7}, "++++++++", "1+2\\sqrt{3}", "By symmetry, we have that the intersection of the plane with the tetrahedron is a square of side $1$. So, we have to add this area."},
	}
	if len(rows) != len(want)+1 {
		t.Fatalf("%d samples", len(rows))
	}
	for i, w := range want {
		im, err := Import(InputPRM800K, rows[i], RowID(InputPRM800K, i+1), ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		sols, err := im.Problem.Prepare("x", labeler.InputLimits{})
		if err != nil {
			t.Fatal(err)
		}
		sol := sols[0]
		steps := sol.Solution.StepTexts()
		var labels strings.Builder
		for _, l := range im.Labels {
			labels.WriteString(map[bool]string{true: "+", false: "-"}[l])
		}
		if len(steps) != w.steps || labels.String() != w.labels || sol.Gold != w.gold || steps[len(steps)-1] != w.lastText {
			t.Errorf("sample %d: %d steps, labels %s, gold %q, last %q", i+1, len(steps), labels.String(), sol.Gold, steps[len(steps)-1])
		}
		var raw struct {
			Question struct{ Problem string }
			Label    struct {
				Steps []struct {
					HumanCompletion *struct{ Text string } `json:"human_completion"`
				}
			}
		}
		if err := json.Unmarshal(rows[i], &raw); err != nil {
			t.Fatal(err)
		}
		for _, h := range w.human {
			if steps[h] != strings.TrimSpace(raw.Label.Steps[h].HumanCompletion.Text) {
				t.Errorf("sample %d step %d: %q is not the human completion", i+1, h, steps[h])
			}
		}
		checkTRL(t, recordOf(t, im, sol), raw.Question.Problem, steps, im.Labels)
	}
	// The screening question has no ground truth answer.
	_, err := Import(InputPRM800K, rows[5], "prm800k-6", ImportOptions{})
	if !errors.Is(err, ErrUnusable) || !strings.Contains(err.Error(), "ground_truth_answer") {
		t.Errorf("screening sample: %v", err)
	}
}

// TestImportProcessBench imports every ProcessBench row: the GSM8K and MATH
// subsets with the gold answers of their source test sets, the others with
// the solution's own answer where it is marked correct.
func TestImportProcessBenchData(t *testing.T) {
	gold := goldIndexOf(t, testkit.SharedData(t, "gsm8k/test.jsonl"), testkit.SharedData(t, "math/test.jsonl"))
	grader := grade.New(grade.Options{})
	for _, name := range []string{"gsm8k", "math", "olympiadbench", "omnimath"} {
		rows := readJSONArray(t, testkit.SharedData(t, "processbench/"+name+".json"))
		var imported, unusable, agree, ownCorrect int
		for i, raw := range rows {
			var pb struct {
				ID                 string
				Problem            string
				Steps              []string
				FinalAnswerCorrect bool `json:"final_answer_correct"`
				Label              int
			}
			if err := json.Unmarshal(raw, &pb); err != nil {
				t.Fatal(err)
			}
			im, err := Import(InputProcessBench, raw, RowID(InputProcessBench, i+1), ImportOptions{Gold: gold})
			// Unusable: an incorrect final answer and no indexed gold, or a
			// proof that states no final answer.
			if errors.Is(err, ErrUnusable) && (!pb.FinalAnswerCorrect || strings.Contains(err.Error(), "states no final answer")) {
				unusable++
				continue
			}
			if err != nil {
				t.Fatalf("%s row %d: %v", name, i, err)
			}
			imported++
			sols, err := im.Problem.Prepare("x", labeler.InputLimits{})
			if err != nil {
				t.Fatalf("%s %s: %v", name, pb.ID, err)
			}
			sol := sols[0]
			if sol.ProblemID != pb.ID || !slices.Equal(sol.Solution.StepTexts(), trimAll(pb.Steps)) {
				t.Fatalf("%s %s: id %q steps differ", name, pb.ID, sol.ProblemID)
			}
			if got := labeler.FirstError(stepLabels(im.Labels)); got != pb.Label {
				t.Fatalf("%s %s: first error %d, want %d", name, pb.ID, got, pb.Label)
			}
			checkTRL(t, recordOf(t, im, sol), pb.Problem, trimAll(pb.Steps), im.Labels)
			if _, indexed := gold.Lookup(pb.ID, pb.Problem); indexed && pb.FinalAnswerCorrect {
				ownCorrect++
				if grader.Grade(sol.Gold, sol.Solution.Text).Correct {
					agree++
				}
			}
		}
		t.Logf("%s: %d rows, %d imported, %d unusable; own answer graded correct against the indexed gold in %d of %d rows marked correct", name, len(rows), imported, unusable, agree, ownCorrect)
		if (name == "gsm8k" || name == "math") && (imported != len(rows) || unusable != 0) {
			t.Errorf("%s: %d of %d rows imported with the indexed gold answers", name, imported, len(rows))
		}
		// ProcessBench's "final answer correct" is what the grader makes of
		// the indexed gold answer, nearly always.
		if ownCorrect > 0 && float64(agree) < 0.95*float64(ownCorrect) {
			t.Errorf("%s: own answer agrees with the indexed gold in only %d of %d rows", name, agree, ownCorrect)
		}
	}
}

func trimAll(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func stepLabels(labels []bool) []labeler.StepLabel {
	out := make([]labeler.StepLabel, len(labels))
	for i, l := range labels {
		out[i] = labeler.StepLabel{Hard: l}
	}
	return out
}

// TestImportGSM8KData imports all of GSM8K test.
func TestImportGSM8KData(t *testing.T) {
	for i, raw := range readJSONL(t, testkit.SharedData(t, "gsm8k/test.jsonl")) {
		var row struct{ Question, Answer string }
		if err := json.Unmarshal(raw, &row); err != nil {
			t.Fatal(err)
		}
		im, sol := preparedRow(t, InputGSM8K, raw, RowID(InputGSM8K, i+1), ImportOptions{})
		if sol.Gold != labeler.GoldAnswer(row.Answer) || strings.Contains(sol.Solution.Text, "<<") {
			t.Fatalf("row %d: gold %q, text %q", i+1, sol.Gold, sol.Solution.Text)
		}
		if a, ok := grade.ExtractAnswer(sol.Solution.Text); !ok || a != sol.Gold {
			t.Fatalf("row %d: the solution's own answer reads %q, gold %q", i+1, a, sol.Gold)
		}
		lines := 0
		for l := range strings.SplitSeq(row.Answer, "\n") {
			if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "####") {
				lines++
			}
		}
		if len(sol.Solution.Steps) != lines || len(im.Labels) != lines {
			t.Fatalf("row %d: %d steps, %d labels for %d lines", i+1, len(sol.Solution.Steps), len(im.Labels), lines)
		}
		checkTRL(t, recordOf(t, im, sol), row.Question, sol.Solution.StepTexts(), im.Labels)
	}
}

// TestImportMATHData imports MATH500 and the full MATH test set.
func TestImportMATHData(t *testing.T) {
	grader := grade.New(grade.Options{})
	for _, name := range []string{"prm800k/math_splits/test.jsonl", "math/test.jsonl"} {
		rows := readJSONL(t, testkit.SharedData(t, name))
		agree := 0
		for i, raw := range rows {
			var row struct{ Problem, Solution, Answer string }
			if err := json.Unmarshal(raw, &row); err != nil {
				t.Fatal(err)
			}
			im, sol := preparedRow(t, InputMATH, raw, RowID(InputMATH, i+1), ImportOptions{})
			want := row.Answer
			if want == "" {
				want = labeler.GoldAnswer(row.Solution)
			}
			if sol.Gold != want || sol.Solution.Text != row.Solution {
				t.Fatalf("%s row %d: gold %q, want %q", name, i+1, sol.Gold, want)
			}
			if grader.Grade(sol.Gold, sol.Solution.Text).Correct {
				agree++
			}
			checkTRL(t, recordOf(t, im, sol), row.Problem, sol.Solution.StepTexts(), nil)
		}
		t.Logf("%s: %d rows imported; the reference solution grades correct in %d", name, len(rows), agree)
		if float64(agree) < 0.98*float64(len(rows)) {
			t.Errorf("%s: reference solutions grade correct in only %d of %d", name, agree, len(rows))
		}
	}
}
