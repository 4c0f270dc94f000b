package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/labeler"
)

func fptr(f float64) *float64 { return &f }

// sampleRecord has a measured, an inferred (null) and an outcome soft label.
func sampleRecord() labeler.Record {
	return labeler.Record{
		ProblemID: "p", SolutionID: "p-0",
		Prompt:      "What is 2 + 3 * 4?",
		Completions: []string{"3 * 4 = 12.", "2 + 12 = 15.", "The answer is 15."},
		Labels:      []bool{true, false, false},
		SoftLabels:  []*float64{fptr(0.75), nil, fptr(0)},
		Rollouts:    []int{8, 0, 0}, CorrectRollout: []int{6, 0, 0},
		FirstErrorStep: 1, Strategy: labeler.Binary, Model: "m", GraderVersion: "g",
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// TestFormatExamples pins one line of every format.
func TestFormatExamples(t *testing.T) {
	r := sampleRecord()
	cases := []struct {
		f    Format
		opt  ExportOptions
		want string
	}{
		{FormatTRL, ExportOptions{}, `{"prompt":"What is 2 + 3 * 4?","completions":["3 * 4 = 12.","2 + 12 = 15.","The answer is 15."],"labels":[true,false,false]}`},
		{FormatTRL, ExportOptions{Soft: true}, `{"prompt":"What is 2 + 3 * 4?","completions":["3 * 4 = 12.","2 + 12 = 15.","The answer is 15."],"labels":[true,false,false],"soft_labels":[0.75,0.0,0.0]}`},
		{FormatMathShepherd, ExportOptions{Task: "GSM8K"}, `{"input":"What is 2 + 3 * 4? Step 1: 3 * 4 = 12. ки\nStep 2: 2 + 12 = 15. ки\nStep 3: The answer is 15. ки","label":"What is 2 + 3 * 4? Step 1: 3 * 4 = 12. +\nStep 2: 2 + 12 = 15. -\nStep 3: The answer is 15. -","task":"GSM8K"}`},
		{FormatMathShepherd, ExportOptions{}, `{"input":"What is 2 + 3 * 4? Step 1: 3 * 4 = 12. ки\nStep 2: 2 + 12 = 15. ки\nStep 3: The answer is 15. ки","label":"What is 2 + 3 * 4? Step 1: 3 * 4 = 12. +\nStep 2: 2 + 12 = 15. -\nStep 3: The answer is 15. -"}`},
		{FormatOpenRLHF, ExportOptions{}, `{"input":"What is 2 + 3 * 4? Step 1: 3 * 4 = 12. ки\nStep 2: 2 + 12 = 15. ки\nStep 3: The answer is 15. ки","value":["+","-","-"]}`},
		{FormatOpenRLHF, ExportOptions{Soft: true, StepTag: "<step>"}, `{"input":"What is 2 + 3 * 4? Step 1: 3 * 4 = 12. <step>\nStep 2: 2 + 12 = 15. <step>\nStep 3: The answer is 15. <step>","value":[0.75,0.0,0.0]}`},
		{FormatChat, ExportOptions{}, `{"messages":[{"role":"user","content":"What is 2 + 3 * 4?\n3 * 4 = 12."},{"role":"assistant","content":"+"},{"role":"user","content":"2 + 12 = 15."},{"role":"assistant","content":"-"},{"role":"user","content":"The answer is 15."},{"role":"assistant","content":"-"}]}`},
		{FormatChat, ExportOptions{Good: "good", Bad: "bad"}, `{"messages":[{"role":"user","content":"What is 2 + 3 * 4?\n3 * 4 = 12."},{"role":"assistant","content":"good"},{"role":"user","content":"2 + 12 = 15."},{"role":"assistant","content":"bad"},{"role":"user","content":"The answer is 15."},{"role":"assistant","content":"bad"}]}`},
	}
	for _, c := range cases {
		row, err := Export(r, c.f, c.opt)
		if err != nil {
			t.Fatalf("%s %+v: %v", c.f, c.opt, err)
		}
		if got := mustJSON(t, row); got != c.want {
			t.Errorf("%s %+v:\n got %s\nwant %s", c.f, c.opt, got, c.want)
		}
	}
	row, err := Export(r, FormatRecord, ExportOptions{})
	if err != nil || mustJSON(t, row) != mustJSON(t, r) {
		t.Errorf("record format: %v, %s", err, mustJSON(t, row))
	}
}

// TestFormatSoftFallback: an inferred (null) soft label becomes the hard
// label; a record without soft labels at all gets the hard ones.
func TestFormatSoftFallback(t *testing.T) {
	r := sampleRecord()
	r.Labels = []bool{true, true, false}
	r.SoftLabels = []*float64{nil, fptr(0.25), nil}
	row, err := ToTRL(r, ExportOptions{Soft: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(row.SoftLabels, []float64{1, 0.25, 0}) {
		t.Errorf("soft labels %v", row.SoftLabels)
	}
	r.SoftLabels = nil
	o, err := ToOpenRLHF(r, ExportOptions{Soft: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.SoftValue, []float64{1, 1, 0}) {
		t.Errorf("soft value %v", o.SoftValue)
	}
	// Numbers are floats in the JSON too.
	b, err := json.Marshal(jsonFloats{1, 0, 0.125, 1e-7, 2.5e-3})
	if err != nil || string(b) != "[1.0,0.0,0.125,0.0000001,0.0025]" {
		t.Errorf("jsonFloats: %s, %v", b, err)
	}
	if b, err := json.Marshal(TRLRow{Prompt: "q", Completions: []string{"a"}, Labels: []bool{true}}); err != nil || string(b) != `{"prompt":"q","completions":["a"],"labels":[true]}` {
		t.Errorf("TRLRow without soft labels: %s, %v", b, err)
	}
}

func TestFormatParse(t *testing.T) {
	for _, f := range Formats {
		if g, err := ParseFormat(" " + strings.ToUpper(string(f)) + " "); err != nil || g != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, g, err)
		}
	}
	if g, err := ParseFormat(""); err != nil || g != FormatRecord {
		t.Errorf("ParseFormat(\"\") = %q, %v", g, err)
	}
	if _, err := ParseFormat("csv"); err == nil || !strings.Contains(err.Error(), "trl") {
		t.Errorf("ParseFormat(csv) = %v", err)
	}
}

func TestFormatOptionsCheck(t *testing.T) {
	bad := []struct {
		f    Format
		opt  ExportOptions
		want string
	}{
		{FormatMathShepherd, ExportOptions{Soft: true}, "soft"},
		{FormatChat, ExportOptions{Soft: true}, "soft"},
		{FormatRecord, ExportOptions{Soft: true}, "soft"},
		{FormatTRL, ExportOptions{Task: "GSM8K"}, "task"},
		{FormatMathShepherd, ExportOptions{StepTag: "<s>"}, "placeholder"},
		{FormatOpenRLHF, ExportOptions{StepTag: " <s>"}, "white space"},
		{FormatOpenRLHF, ExportOptions{StepTag: "a\nb"}, "spans lines"},
		{FormatMathShepherd, ExportOptions{Good: "y"}, "reward tokens"},
		{FormatChat, ExportOptions{Good: "-"}, "both"},
		{FormatOpenRLHF, ExportOptions{StepTag: "<+>", Good: "+"}, "contains a reward token"},
		{"xml", ExportOptions{}, "unknown format"},
	}
	for _, c := range bad {
		err := c.opt.Check(c.f)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %+v: %v, want an error with %q", c.f, c.opt, err, c.want)
		}
		if _, err := Export(sampleRecord(), c.f, c.opt); err == nil {
			t.Errorf("Export %s %+v: no error", c.f, c.opt)
		}
	}
}

func TestFormatBadRecords(t *testing.T) {
	mod := func(f func(*labeler.Record)) labeler.Record { r := sampleRecord(); f(&r); return r }
	cases := []struct {
		r    labeler.Record
		want string
	}{
		{mod(func(r *labeler.Record) { r.FailedSteps = []int{1} }), "failed steps"},
		{mod(func(r *labeler.Record) { r.Prompt = " " }), "prompt"},
		{mod(func(r *labeler.Record) { r.Completions, r.Labels, r.SoftLabels = nil, nil, nil }), "completions"},
		{mod(func(r *labeler.Record) { r.Labels = r.Labels[:2] }), "2 labels for 3"},
		{mod(func(r *labeler.Record) { r.SoftLabels = r.SoftLabels[:1] }), "1 soft labels"},
		{mod(func(r *labeler.Record) { r.Completions[1] = "\n" }), "completions[1] is empty"},
		{mod(func(r *labeler.Record) { r.SoftLabels[0] = fptr(1.5) }), "not in [0, 1]"},
	}
	for _, c := range cases {
		for _, f := range Formats[1:] {
			_, err := Export(c.r, f, ExportOptions{})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "p/p-0") {
				t.Errorf("%s: %v, want an error naming the record and %q", f, err, c.want)
			}
		}
	}
	failed := mod(func(r *labeler.Record) { r.FailedSteps = []int{2} })
	if _, err := ToTRL(failed, ExportOptions{}); !errors.Is(err, ErrFailedSteps) {
		t.Errorf("failed steps: %v does not wrap ErrFailedSteps", err)
	}
	if row, err := Export(failed, FormatRecord, ExportOptions{}); err != nil || mustJSON(t, row) != mustJSON(t, failed) {
		t.Errorf("record format: %v", err)
	}
}

// TestFormatMathShepherdAmbiguous: text that would read back differently is
// refused instead of written.
func TestFormatMathShepherdAmbiguous(t *testing.T) {
	for _, steps := range [][]string{
		{"a ки b", "c"},
		{"x = 3 -\ny = 4", "done"},
		{"Step 3: start", "go on"},
	} {
		r := sampleRecord()
		r.Completions = steps
		r.Labels = []bool{true, true}
		r.SoftLabels = nil
		if _, err := ToMathShepherd(r, ExportOptions{}); err == nil || !strings.Contains(err.Error(), "unambiguously") {
			t.Errorf("steps %q: %v", steps, err)
		}
	}
	r := sampleRecord()
	r.Prompt = "Note the ки here."
	if _, err := ToOpenRLHF(r, ExportOptions{}); err == nil || !strings.Contains(err.Error(), "occurs 4 times") {
		t.Errorf("placeholder in the question: %v", err)
	}
}

// parsed is what a reader of any format recovers of a record.
type parsed struct {
	prompt string
	steps  []string
	labels []bool
	soft   []float64
}

// readBack parses an exported row (as JSON, the way a trainer reads it)
// without the exporter's code paths where it can.
func readBack(t *testing.T, f Format, opt ExportOptions, line string) parsed {
	t.Helper()
	var p parsed
	switch f {
	case FormatTRL:
		var row struct {
			Prompt      string    `json:"prompt"`
			Completions []string  `json:"completions"`
			Labels      []bool    `json:"labels"`
			SoftLabels  []float64 `json:"soft_labels"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		p = parsed{row.Prompt, row.Completions, row.Labels, row.SoftLabels}
	case FormatMathShepherd:
		var row struct{ Input, Label string }
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		q, sol, err := labeler.SplitMathShepherd(row.Input)
		if err != nil {
			t.Fatal(err)
		}
		labels, err := labeler.MathShepherdLabels(row.Label)
		if err != nil {
			t.Fatal(err)
		}
		want := row.Input
		for _, l := range labels {
			want = strings.Replace(want, " "+labeler.MathShepherdTag, " "+map[bool]string{true: "+", false: "-"}[l], 1)
		}
		if want != row.Label {
			t.Errorf("label text is not the input with its tags replaced:\n%q\n%q", row.Input, row.Label)
		}
		p = parsed{q, sol.StepTexts(), labels, nil}
	case FormatOpenRLHF:
		var row struct {
			Input string `json:"input"`
			Value []any  `json:"value"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		tag := opt.StepTag
		if tag == "" {
			tag = labeler.MathShepherdTag
		}
		parts := strings.Split(row.Input, " "+tag)
		if len(parts) != len(row.Value)+1 || parts[len(parts)-1] != "" {
			t.Fatalf("%d placeholders for %d values in %q", len(parts)-1, len(row.Value), row.Input)
		}
		first := strings.Index(parts[0], " Step 1: ")
		p.prompt = parts[0][:first]
		parts[0] = parts[0][first+1:]
		good, _ := opt.tokens()
		for i, s := range parts[:len(parts)-1] {
			p.steps = append(p.steps, strings.TrimPrefix(s, "\n"))
			switch v := row.Value[i].(type) {
			case string:
				p.labels = append(p.labels, v == good)
			case float64:
				p.soft = append(p.soft, v)
			}
		}
	case FormatChat:
		var row struct {
			Messages []struct{ Role, Content string } `json:"messages"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		good, _ := opt.tokens()
		for i, m := range row.Messages {
			want := "user"
			if i%2 == 1 {
				want = "assistant"
			}
			if m.Role != want {
				t.Fatalf("message %d has role %q", i, m.Role)
			}
			switch {
			case i == 0:
				q, s, _ := strings.Cut(m.Content, "\n")
				p.prompt = q
				p.steps = append(p.steps, s)
			case i%2 == 0:
				p.steps = append(p.steps, m.Content)
			default:
				p.labels = append(p.labels, m.Content == good)
			}
		}
	}
	return p
}

// TestFormatRoundTrip exports random records in every format and reads
// them back.
func TestFormatRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"x", "=", "3", "+", "-", "*", "apples", "Step", "so", "$\\frac{1}{2}$", "ки?", "12.", "\\boxed{7}"}
	text := func() string {
		n := 1 + rng.IntN(8)
		w := make([]string, n)
		for i := range w {
			w[i] = words[rng.IntN(len(words))]
		}
		s := strings.Join(w, " ")
		if strings.HasSuffix(s, " +") || strings.HasSuffix(s, " -") || strings.Contains(s, "ки") {
			s += " ok" // keep the math-shepherd layout unambiguous
		}
		s = strings.ReplaceAll(s, "ки", "k")
		return s
	}
	opts := map[Format][]ExportOptions{
		FormatTRL:          {{}, {Soft: true}},
		FormatMathShepherd: {{}, {Task: "MATH"}},
		FormatOpenRLHF:     {{}, {Soft: true}, {StepTag: "<|step|>", Good: "good", Bad: "bad"}},
		FormatChat:         {{}, {Good: "correct", Bad: "wrong"}},
	}
	for i := range 300 {
		n := 1 + rng.IntN(6)
		r := labeler.Record{ProblemID: "p", SolutionID: fmt.Sprint(i), Prompt: "Q" + text() + "?"}
		for range n {
			r.Completions = append(r.Completions, text())
			r.Labels = append(r.Labels, rng.IntN(2) == 0)
			if rng.IntN(3) == 0 {
				r.SoftLabels = append(r.SoftLabels, nil)
			} else {
				r.SoftLabels = append(r.SoftLabels, fptr(float64(rng.IntN(9))/8))
			}
		}
		for f, os := range opts {
			for _, opt := range os {
				row, err := Export(r, f, opt)
				if err != nil {
					t.Fatalf("%s %+v %+v: %v", f, opt, r, err)
				}
				got := readBack(t, f, opt, mustJSON(t, row))
				steps := r.Completions
				if f == FormatMathShepherd || f == FormatOpenRLHF {
					steps = numberedSteps(steps)
				}
				if got.prompt != r.Prompt || !slices.Equal(got.steps, steps) {
					t.Fatalf("%s %+v: read back %q %q, want %q %q", f, opt, got.prompt, got.steps, r.Prompt, steps)
				}
				if opt.Soft {
					if want := softLabels(r); !slices.Equal(got.soft, want) {
						t.Fatalf("%s: soft %v, want %v", f, got.soft, want)
					}
				}
				if (!opt.Soft || f == FormatTRL) && !slices.Equal(got.labels, r.Labels) {
					t.Fatalf("%s %+v: labels %v, want %v", f, opt, got.labels, r.Labels)
				}
			}
		}
	}
}

// TestFormatKeepsMarkers: steps that already carry "Step k:" are not
// numbered again, the other ones are.
func TestFormatKeepsMarkers(t *testing.T) {
	got := numberedSteps([]string{"Step 1: a", " b ", "## Step 3: c", "**Step 4:** d", "Steps: e"})
	want := []string{"Step 1: a", "Step 2: b", "## Step 3: c", "**Step 4:** d", "Step 5: Steps: e"}
	if !slices.Equal(got, want) {
		t.Errorf("numberedSteps = %q, want %q", got, want)
	}
}

func TestTaskOf(t *testing.T) {
	for f, want := range map[InputFormat]string{
		InputGSM8K: "GSM8K", InputMATH: "MATH", InputPRM800K: "MATH",
		InputJSONL: "", InputProcessBench: "", InputMathShepherd: "",
	} {
		if got := TaskOf(f); got != want {
			t.Errorf("TaskOf(%s) = %q, want %q", f, got, want)
		}
	}
}
