package labeler

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// checkSplitInvariants checks what every Solution built by Split or FromSteps
// guarantees. strict adds what Split guarantees beyond FromSteps: only white
// space lies outside the steps.
func checkSplitInvariants(t testing.TB, sol Solution, limit int, strict bool) {
	t.Helper()
	if limit == 0 {
		limit = DefaultMaxSteps
	}
	n := len(sol.Steps)
	if n == 0 || n > limit {
		t.Fatalf("%d steps, want 1..%d", n, limit)
	}
	prev := 0
	for k, st := range sol.Steps {
		if !(prev <= st.Start && st.Start < st.End && st.End <= st.PrefixEnd && st.PrefixEnd <= len(sol.Text)) {
			t.Fatalf("step %d: bad offsets start=%d end=%d prefixEnd=%d (prev %d, len %d)", k, st.Start, st.End, st.PrefixEnd, prev, len(sol.Text))
		}
		if got := sol.Text[st.Start:st.End]; got != st.Text {
			t.Fatalf("step %d: Text[%d:%d]=%q, Step.Text=%q", k, st.Start, st.End, got, st.Text)
		}
		if isBlank(st.Text) || trimmedLen(st.Text) != len(st.Text) {
			t.Fatalf("step %d: text %q is empty or not trimmed", k, st.Text)
		}
		p := sol.Prefix(k)
		if !strings.HasPrefix(sol.Text, p) {
			t.Fatalf("prefix %d is not a prefix of the text", k)
		}
		if k+1 < n {
			if st.PrefixEnd != sol.Steps[k+1].Start {
				t.Fatalf("step %d: PrefixEnd %d != next Start %d", k, st.PrefixEnd, sol.Steps[k+1].Start)
			}
			if !strings.HasPrefix(sol.Prefix(k+1), p) {
				t.Fatalf("prefix %d is not a prefix of prefix %d", k, k+1)
			}
		} else if st.PrefixEnd != len(sol.Text) {
			t.Fatalf("last step: PrefixEnd %d != len(Text) %d", st.PrefixEnd, len(sol.Text))
		}
		if strict && !isBlank(sol.Text[prev:st.Start]) {
			t.Fatalf("step %d: non-space text %q between steps", k, sol.Text[prev:st.Start])
		}
		prev = st.End
	}
	if strict && !isBlank(sol.Text[prev:]) {
		t.Fatalf("non-space text %q after the last step", sol.Text[prev:])
	}
	if got := sol.StepTexts(); len(got) != n {
		t.Fatalf("StepTexts has %d entries, want %d", len(got), n)
	}
}

// trimmedLen is the length of s trimmed by the package's notion of space.
func trimmedLen(s string) int {
	a, b := trimRange(s, 0, len(s))
	return b - a
}

func TestSplitModes(t *testing.T) {
	// Each case gives the text cut where each step's prefix ends: Prefix(k)
	// is cuts[0] + … + cuts[k], and all the cuts together are the text.
	tests := []struct {
		name     string
		mode     SplitMode
		tag      string
		in, text string // text is Solution.Text; "" means in
		steps    []string
		cuts     []string
	}{
		{"line basic", SplitLine, "", "a\nb\n\nc\n", "", []string{"a", "b", "c"}, []string{"a\n", "b\n\n", "c\n"}},
		{"line CRLF", SplitLine, "", "a = 1\r\nb = 2\r\n\r\nc\r\n", "", []string{"a = 1", "b = 2", "c"}, []string{"a = 1\r\n", "b = 2\r\n\r\n", "c\r\n"}},
		{"line surrounding space", SplitLine, "", "  \n  a  \n\t b\t\n \n", "", []string{"a", "b"}, []string{"  \n  a  \n\t ", "b\t\n \n"}},
		{"line unicode space and invalid utf8", SplitLine, "", "\u00a0x\u3000\n\xff\xfe\n\u2003\n", "", []string{"x", "\xff\xfe"}, []string{"\u00a0x\u3000\n", "\xff\xfe\n\u2003\n"}},
		{"paragraph basic", SplitParagraph, "", "p1 line1\np1 line2\n\n  \np2\n\n\np3  \n", "", []string{"p1 line1\np1 line2", "p2", "p3"}, []string{"p1 line1\np1 line2\n\n  \n", "p2\n\n\n", "p3  \n"}},
		{"paragraph CRLF and leading blank", SplitParagraph, "", "\r\n\r\n a\r\nb\r\n\r\nc\r\n", "", []string{"a\r\nb", "c"}, []string{"\r\n\r\n a\r\nb\r\n\r\n", "c\r\n"}},
		{"paragraph single", SplitParagraph, "", "one\ntwo", "", []string{"one\ntwo"}, []string{"one\ntwo"}},
		{"step intro and multi-line steps", SplitStepMarker, "", "Intro.\nStep 1: a\nmore\nStep 2: b\n", "", []string{"Intro.", "Step 1: a\nmore", "Step 2: b"}, []string{"Intro.\n", "Step 1: a\nmore\n", "Step 2: b\n"}},
		{"step markdown", SplitStepMarker, "", "## Step 1: x\n\ntext\n\n## Step 2: y", "", []string{"## Step 1: x\n\ntext", "## Step 2: y"}, []string{"## Step 1: x\n\ntext\n\n", "## Step 2: y"}},
		{"step bold case and spacing", SplitStepMarker, "", "**Step 1:** a\n**step 2**: b\r\n  STEP 3 : c\n### Step10:d", "", []string{"**Step 1:** a", "**step 2**: b", "STEP 3 : c", "### Step10:d"}, []string{"**Step 1:** a\n", "**step 2**: b\r\n  ", "STEP 3 : c\n", "### Step10:d"}},
		{"step no line-leading marker", SplitStepMarker, "", "The Step 1: mid\nStepping: x\nStep one: y\nStep 2 z", "", []string{"The Step 1: mid\nStepping: x\nStep one: y\nStep 2 z"}, []string{"The Step 1: mid\nStepping: x\nStep one: y\nStep 2 z"}},
		{"tag math-shepherd", SplitTag, "", "Step 1: a ки\nStep 2: b ки\nStep 3: c ки", "Step 1: a\nStep 2: b\nStep 3: c", []string{"Step 1: a", "Step 2: b", "Step 3: c"}, []string{"Step 1: a\n", "Step 2: b\n", "Step 3: c"}},
		{"tag empty step dropped and trailing space", SplitTag, "", "a ки ки b ки  ", "a b  ", []string{"a", "b"}, []string{"a ", "b  "}},
		{"tag text after last tag", SplitTag, "", "a ки\r\nb ки\r\ntail\r\n", "a\r\nb\r\ntail\r\n", []string{"a", "b", "tail"}, []string{"a\r\n", "b\r\n", "tail\r\n"}},
		{"tag only one space removed", SplitTag, "", "a  ки\nb", "a \nb", []string{"a", "b"}, []string{"a \n", "b"}},
		{"tag custom", SplitTag, "<step>", "x = 1 <step>\ny = 2<step>\nки stays", "x = 1\ny = 2\nки stays", []string{"x = 1", "y = 2", "ки stays"}, []string{"x = 1\n", "y = 2\n", "ки stays"}},
		{"tag absent", SplitTag, "", "just text\nmore", "", []string{"just text\nmore"}, []string{"just text\nmore"}},
		{"auto tag", SplitAuto, "", "Step 1: a ки\n\nStep 2: b ки", "Step 1: a\n\nStep 2: b", []string{"Step 1: a", "Step 2: b"}, []string{"Step 1: a\n\n", "Step 2: b"}},
		{"auto step markers inside paragraphs", SplitAuto, "", "Intro\nStep 1: a\nStep 2: b\n\nso 5", "", []string{"Intro", "Step 1: a", "Step 2: b\n\nso 5"}, []string{"Intro\n", "Step 1: a\n", "Step 2: b\n\nso 5"}},
		{"auto step markers without paragraphs", SplitAuto, "", "Step 1: a\nstill a\nStep 2: b\n", "", []string{"Step 1: a\nstill a", "Step 2: b"}, []string{"Step 1: a\nstill a\n", "Step 2: b\n"}},
		{"auto step markers opening paragraphs", SplitAuto, "", "Intro\n\n## Step 1: a\nwhy\n\n## Step 2: b\n\nThe answer is 5.", "", []string{"Intro", "## Step 1: a\nwhy", "## Step 2: b", "The answer is 5."}, []string{"Intro\n\n", "## Step 1: a\nwhy\n\n", "## Step 2: b\n\n", "The answer is 5."}},
		{"auto paragraph", SplitAuto, "", "a\nb\n\nc", "", []string{"a\nb", "c"}, []string{"a\nb\n\n", "c"}},
		{"auto line (trailing blank line is no paragraph)", SplitAuto, "", "\n\na\nb\n\n", "", []string{"a", "b"}, []string{"\n\na\n", "b\n\n"}},
		{"empty mode is auto", "", "", "a\n \t\nb", "", []string{"a", "b"}, []string{"a\n \t\n", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sol, err := Split(tc.in, SplitOptions{Mode: tc.mode, Tag: tc.tag})
			if err != nil {
				t.Fatal(err)
			}
			want := tc.text
			if want == "" {
				want = tc.in
			}
			if sol.Text != want {
				t.Errorf("Text = %q, want %q", sol.Text, want)
			}
			if got := sol.StepTexts(); !reflect.DeepEqual(got, tc.steps) {
				t.Errorf("steps = %q, want %q", got, tc.steps)
			}
			var prefixes, wantPrefixes []string
			for k := range sol.Steps {
				prefixes = append(prefixes, sol.Prefix(k))
			}
			for k := range tc.cuts {
				wantPrefixes = append(wantPrefixes, strings.Join(tc.cuts[:k+1], ""))
			}
			if !reflect.DeepEqual(prefixes, wantPrefixes) {
				t.Errorf("prefixes = %q, want %q", prefixes, wantPrefixes)
			}
			checkSplitInvariants(t, sol, 0, true)
		})
	}
}

func TestSplitOffsets(t *testing.T) {
	sol, err := Split("  a\r\n\r\n bc \n", SplitOptions{Mode: SplitLine})
	if err != nil {
		t.Fatal(err)
	}
	want := []Step{
		{Text: "a", Start: 2, End: 3, PrefixEnd: 8},
		{Text: "bc", Start: 8, End: 10, PrefixEnd: 12},
	}
	if !reflect.DeepEqual(sol.Steps, want) {
		t.Fatalf("steps = %+v, want %+v", sol.Steps, want)
	}
}

func TestDetectSplitMode(t *testing.T) {
	tests := []struct {
		in   string
		tag  string
		want SplitMode
	}{
		{"a ки b", "", SplitTag},
		{"a <s> b", "<s>", SplitTag},
		{"a ки b", "<s>", SplitLine},
		{"Step 1: a\nStep 2: b", "", SplitStepMarker},
		{"Step 1: a\n\nStep 2: b", "", SplitParagraph},
		{"x\nStep 1: a\n\nStep 2: b", "", SplitStepMarker},
		{"Step 1: a\n\nb", "", SplitParagraph}, // one marker is no marker list
		{"a\n\nb", "", SplitParagraph},
		{"a\n  \t\r\nb", "", SplitParagraph},
		{"a\nb\n\n", "", SplitLine},
		{"a", "", SplitLine},
		{"", "", SplitLine},
	}
	for _, tc := range tests {
		if got := DetectSplitMode(tc.in, tc.tag); got != tc.want {
			t.Errorf("DetectSplitMode(%q, %q) = %q, want %q", tc.in, tc.tag, got, tc.want)
		}
	}
}

func TestSplitErrors(t *testing.T) {
	for _, in := range []string{"", " \n\t\r\n", "\u00a0\r\n\u3000"} {
		for _, m := range SplitModes {
			if _, err := Split(in, SplitOptions{Mode: m}); !errors.Is(err, ErrNoSteps) {
				t.Errorf("Split(%q, %s) error = %v, want ErrNoSteps", in, m, err)
			}
		}
	}
	for _, m := range []SplitMode{SplitAuto, SplitTag} {
		if _, err := Split("ки ки \n ки", SplitOptions{Mode: m}); !errors.Is(err, ErrNoSteps) {
			t.Errorf("Split(tags only, %s) error = %v, want ErrNoSteps", m, err)
		}
	}

	_, err := Split("a\nb\nc", SplitOptions{Mode: SplitLine, MaxSteps: 2})
	if !errors.Is(err, ErrTooManySteps) || !strings.Contains(err.Error(), "3 steps") || !strings.Contains(err.Error(), "limit of 2") {
		t.Errorf("max steps error = %v", err)
	}
	if _, err := Split("a\nb", SplitOptions{Mode: SplitLine, MaxSteps: 2}); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	long := strings.Repeat("x\n", DefaultMaxSteps+1)
	_, err = Split(long, SplitOptions{})
	if want := fmt.Sprintf("%d steps, more than the limit of %d", DefaultMaxSteps+1, DefaultMaxSteps); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("default limit error = %v, want it to contain %q", err, want)
	}
	if _, err := Split(long[:2*DefaultMaxSteps], SplitOptions{}); err != nil {
		t.Errorf("default limit, exactly %d steps: %v", DefaultMaxSteps, err)
	}
	if _, err := Split("a", SplitOptions{MaxSteps: -1}); err == nil || !strings.Contains(err.Error(), "MaxSteps") {
		t.Errorf("negative MaxSteps error = %v", err)
	}
	if _, err := Split("a", SplitOptions{Mode: "sentences"}); err == nil || !strings.Contains(err.Error(), "auto, line, paragraph, step, tag") {
		t.Errorf("bad mode error = %v", err)
	}
	for _, tag := range []string{"\xba", " \t"} {
		if _, err := Split("a", SplitOptions{Mode: SplitTag, Tag: tag}); err == nil || !strings.Contains(err.Error(), "Tag") {
			t.Errorf("tag %q error = %v", tag, err)
		}
	}
	// A bad tag does not matter when the mode does not use it.
	if _, err := Split("a", SplitOptions{Mode: SplitLine, Tag: "\xba"}); err != nil {
		t.Errorf("line mode with unused bad tag: %v", err)
	}
}

func TestParseSplitMode(t *testing.T) {
	for in, want := range map[string]SplitMode{
		"": SplitAuto, "auto": SplitAuto, "line": SplitLine, " Paragraph ": SplitParagraph,
		"STEP": SplitStepMarker, "tag": SplitTag,
	} {
		got, err := ParseSplitMode(in)
		if err != nil || got != want {
			t.Errorf("ParseSplitMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := ParseSplitMode("lines")
	if err == nil || !strings.Contains(err.Error(), `"lines"`) || !strings.Contains(err.Error(), "auto, line, paragraph, step, tag") {
		t.Errorf("ParseSplitMode(lines) error = %v", err)
	}
}

func TestFromSteps(t *testing.T) {
	sol, err := FromSteps([]string{"a ", " \n", "\tb", "c"}, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if sol.Text != "a \n\n\tb\n\nc" {
		t.Errorf("Text = %q", sol.Text)
	}
	if got := sol.StepTexts(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("steps = %q", got)
	}
	if got := []string{sol.Prefix(0), sol.Prefix(1)}; !reflect.DeepEqual(got, []string{"a \n\n\t", "a \n\n\tb\n\n"}) {
		t.Errorf("prefixes = %q", got)
	}
	checkSplitInvariants(t, sol, 0, true)

	// Steps are not re-split, whatever they contain.
	sol, err = FromSteps([]string{"x\n\ny ки", "Step 2: z"}, " | ", 0)
	if err != nil {
		t.Fatal(err)
	}
	if sol.Text != "x\n\ny ки | Step 2: z" || len(sol.Steps) != 2 || sol.Prefix(0) != "x\n\ny ки | " {
		t.Errorf("custom sep: %+v", sol)
	}
	checkSplitInvariants(t, sol, 0, false)

	if _, err := FromSteps([]string{" ", ""}, "", 0); !errors.Is(err, ErrNoSteps) {
		t.Errorf("blank steps error = %v", err)
	}
	if _, err := FromSteps(nil, "", 0); !errors.Is(err, ErrNoSteps) {
		t.Errorf("no steps error = %v", err)
	}
	_, err = FromSteps([]string{"a", "b", "c"}, "\n", 2)
	if !errors.Is(err, ErrTooManySteps) || !strings.Contains(err.Error(), "3 steps") || !strings.Contains(err.Error(), "limit of 2") {
		t.Errorf("max steps error = %v", err)
	}
	if _, err := FromSteps([]string{"a"}, "", -3); err == nil {
		t.Error("negative maxSteps accepted")
	}
}

const msInput = "Janet pays $40/hour. How much more? Step 1: Janet spends 3 + 5 = <<3+5=8>>8 hours. ки\nStep 2: She spends 40 * 3 = 120. ки\nStep 3: The answer is: 13520 ки"
const msLabel = "Janet pays $40/hour. How much more? Step 1: Janet spends 3 + 5 = <<3+5=8>>8 hours. +\nStep 2: She spends 40 * 3 = 120. +\nStep 3: The answer is: 13520 -"

func TestSplitMathShepherd(t *testing.T) {
	q, sol, err := SplitMathShepherd(msInput)
	if err != nil {
		t.Fatal(err)
	}
	if q != "Janet pays $40/hour. How much more?" {
		t.Errorf("question = %q", q)
	}
	want := []string{"Step 1: Janet spends 3 + 5 = <<3+5=8>>8 hours.", "Step 2: She spends 40 * 3 = 120.", "Step 3: The answer is: 13520"}
	if got := sol.StepTexts(); !reflect.DeepEqual(got, want) {
		t.Errorf("steps = %q", got)
	}
	if sol.Prefix(0) != want[0]+"\n" || sol.Prefix(2) != strings.Join(want, "\n") {
		t.Errorf("prefixes %q, %q", sol.Prefix(0), sol.Prefix(2))
	}
	checkSplitInvariants(t, sol, 0, true)

	tests := []struct {
		name, in, question string
		steps              int
	}{
		{"quoted step 1 inside a step", "Q? Step 1: a ки\nStep 2: from Step 1: b ки", "Q?", 2},
		{"annotations leaked into the prompt", "Q? Step 1: old ки Step 2: old ки\nNow: Step 1: a ки\nStep 2: b ки", "Q? Step 1: old Step 2: old\nNow:", 2},
		{"line-leading step 1 and markdown", "Q?\n**Step 1:** a ки\n**Step 2:** b ки", "Q?", 2},
		{"bold step 1 after the question", "Q? **Step 1:** a ки\n**Step 2:** b ки", "Q?", 2},
		{"no space before the tag", "Q?Step 1: aки\nStep 2: bки", "Q?", 2},
	}
	for _, tc := range tests {
		q, sol, err := SplitMathShepherd(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if q != tc.question || len(sol.Steps) != tc.steps {
			t.Errorf("%s: question %q, steps %q", tc.name, q, sol.StepTexts())
		}
	}
	if _, _, err := SplitMathShepherd("Q? First: a ки"); err == nil {
		t.Error("input without Step 1: accepted")
	}
}

func TestMathShepherdLabels(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []bool
	}{
		{"sample", msLabel, []bool{true, true, false}},
		{"CRLF and trailing blanks", "Q? Step 1: a +\r\nStep 2: b -  \r\n\n", []bool{true, false}},
		{"missing space before label", "Q? Step 1: x = 5+\nStep 2: y-", []bool{true, false}},
		{"question with +/- line ends ignored", "Is 1 -\n2 +\nStep 1: a -\nStep 2: b +", []bool{false, true}},
		{"inline operators are not labels", "Q? Step 1: 3 - 2 + 1 = 2 -\nStep 2: -5 + x +", []bool{false, true}},
		{"label before a blank line", "Q? Step 1: a +\n\nStep 2: b -", []bool{true, false}},
		{"annotations leaked into the prompt", "Q? Step 1: old +\nStep 2: old -\nNow: Step 1: a -", []bool{false}},
	}
	for _, tc := range tests {
		got, err := MathShepherdLabels(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	for _, bad := range []string{msInput, "Q? Step 1: a", "no steps +"} {
		if _, err := MathShepherdLabels(bad); err == nil {
			t.Errorf("MathShepherdLabels(%q) accepted", bad)
		}
	}
	// Labels and tags line up on the same record.
	labels, err := MathShepherdLabels(msLabel)
	if err != nil {
		t.Fatal(err)
	}
	_, sol, err := SplitMathShepherd(msInput)
	if err != nil {
		t.Fatal(err)
	}
	if len(labels) != len(sol.Steps) {
		t.Errorf("%d labels for %d steps", len(labels), len(sol.Steps))
	}
}

// TestSplitLinearTime feeds inputs that made earlier versions of the
// Math-Shepherd readers quadratic; at this size a quadratic pass takes
// seconds per input, a linear one milliseconds.
func TestSplitLinearTime(t *testing.T) {
	if testing.Short() {
		t.Skip("large inputs")
	}
	inputs := map[string]string{
		"step 1 markers on one line": strings.Repeat("Step 1:", 60000),
		"indentation then markers":   strings.Repeat(" ", 200000) + strings.Repeat("Step 1:", 30000),
		"labels then trailing space": "Step 1: " + strings.Repeat("x+\n", 50000) + strings.Repeat(" ", 200000),
		"labels then blank lines":    "Step 1: " + strings.Repeat("x+\n"+strings.Repeat(" \n", 100), 2000),
		"markdown dress":             strings.Repeat("*", 300000) + "Step 1:",
		"marker lines":               strings.Repeat("## Step 12: x\n", 30000),
		"lines":                      strings.Repeat("a\n", 200000),
		"tags":                       strings.Repeat("ки", 200000),
	}
	for name, s := range inputs {
		start := time.Now()
		for _, m := range SplitModes {
			_, _ = Split(s, SplitOptions{Mode: m, MaxSteps: 1 << 30})
		}
		_, _, _ = SplitMathShepherd(s)
		_, _ = MathShepherdLabels(s)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s (%d KB): %v", name, len(s)>>10, d)
		}
	}
}
