package labeler

import (
	"bufio"
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/internal/testkit"
)

// splitTrimmedNonBlank is what a split keeps of pre-split steps: each step
// trimmed, blank ones dropped.
func splitTrimmedNonBlank(steps []string) []string {
	var out []string
	for _, s := range steps {
		if a, b := trimRange(s, 0, len(s)); a < b {
			out = append(out, s[a:b])
		}
	}
	return out
}

func splitReadJSONL(t *testing.T, path string, each func(line []byte)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
	for sc.Scan() {
		if len(strings.TrimSpace(sc.Text())) > 0 {
			each(sc.Bytes())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestSplitProcessBench: ProcessBench steps joined with "\n\n" split back
// into the same steps, in paragraph mode and in auto mode, and FromSteps
// rebuilds every row byte-exactly.
func TestSplitProcessBench(t *testing.T) {
	for _, name := range []string{"gsm8k", "math", "olympiadbench", "omnimath"} {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(testkit.SharedData(t, "processbench/"+name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var rows []struct {
				ID    string   `json:"id"`
				Steps []string `json:"steps"`
			}
			if err := json.Unmarshal(raw, &rows); err != nil {
				t.Fatal(err)
			}
			if len(rows) == 0 {
				t.Fatal("no rows")
			}
			var blankInside, withMarkers, markerDiffers, untrimmed, steps int
			for _, r := range rows {
				steps += len(r.Steps)
				joined := strings.Join(r.Steps, "\n\n")
				want := splitTrimmedNonBlank(r.Steps)
				if len(want) != len(r.Steps) {
					t.Errorf("%s: has blank steps", r.ID)
				}
				for _, s := range r.Steps {
					if trimmedLen(s) != len(s) {
						untrimmed++
					}
				}

				// FromSteps round-trips every row exactly.
				fs, err := FromSteps(r.Steps, "\n\n", 0)
				if err != nil {
					t.Fatalf("%s: FromSteps: %v", r.ID, err)
				}
				checkSplitInvariants(t, fs, 0, true)
				if fs.Text != joined {
					t.Fatalf("%s: FromSteps text differs from the joined steps", r.ID)
				}
				if got := fs.StepTexts(); !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: FromSteps steps differ", r.ID)
				}
				off := 0
				for k, s := range r.Steps {
					off += len(s)
					if k+1 < len(r.Steps) {
						off += len("\n\n")
						next := r.Steps[k+1]
						a, _ := trimRange(next, 0, len(next))
						if got := fs.Prefix(k); got != joined[:off+a] {
							t.Fatalf("%s: FromSteps prefix %d = %q", r.ID, k, got)
						}
					} else if fs.Prefix(k) != joined {
						t.Fatalf("%s: last FromSteps prefix is not the whole text", r.ID)
					}
				}

				// Paragraph and auto split give back the steps, unless a step
				// holds a blank line itself.
				inner := false
				for _, s := range r.Steps {
					if len(paragraphSpans(s)) > 1 {
						inner = true
					}
				}
				if splitCountMarkerLines(joined) >= 2 {
					withMarkers++
					// Splitting these at the markers alone would merge the
					// paragraphs between numbered steps into them.
					if sm, err := Split(joined, SplitOptions{Mode: SplitStepMarker}); err == nil && !reflect.DeepEqual(sm.StepTexts(), want) {
						markerDiffers++
					}
				}
				if inner {
					blankInside++
					continue
				}
				for _, mode := range []SplitMode{SplitParagraph, SplitAuto} {
					sol, err := Split(joined, SplitOptions{Mode: mode})
					if err != nil {
						t.Fatalf("%s: %s: %v", r.ID, mode, err)
					}
					checkSplitInvariants(t, sol, 0, true)
					if sol.Text != joined {
						t.Fatalf("%s: %s: text changed", r.ID, mode)
					}
					if got := sol.StepTexts(); !reflect.DeepEqual(got, want) {
						t.Errorf("%s: %s split gives %d steps, want %d (detected %s)", r.ID, mode, len(got), len(want), DetectSplitMode(joined, ""))
						continue
					}
					// Same text, same steps: same offsets as FromSteps.
					if !reflect.DeepEqual(sol.Steps, fs.Steps) {
						t.Errorf("%s: %s offsets differ from FromSteps", r.ID, mode)
					}
				}
			}
			t.Logf("%s: %d rows, %d steps (%d with surrounding white space); %d rows have >=2 step markers (marker split would differ on %d); %d rows have a step containing a blank line (paragraph split skipped)",
				name, len(rows), steps, untrimmed, withMarkers, markerDiffers, blankInside)
		})
	}
}

func splitCountMarkerLines(s string) int {
	n := 0
	forLines(s, func(a, b int) bool {
		if isMarkerLine(s[a:b]) {
			n++
		}
		return true
	})
	return n
}

// TestSplitMathShepherdSamples: tag split gives one step per tag, and the
// label field gives one label per step.
func TestSplitMathShepherdSamples(t *testing.T) {
	var records, steps, positive int
	splitReadJSONL(t, testkit.SharedData(t, "math-shepherd/samples_math-shepherd.jsonl"), func(line []byte) {
		var r struct {
			Input string `json:"input"`
			Label string `json:"label"`
			Task  string `json:"task"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		records++
		tags := strings.Count(r.Input, MathShepherdTag)
		q, sol, err := SplitMathShepherd(r.Input)
		if err != nil {
			t.Fatalf("record %d: %v", records, err)
		}
		checkSplitInvariants(t, sol, 0, true)
		if len(sol.Steps) != tags {
			t.Errorf("record %d: %d steps for %d tags", records, len(sol.Steps), tags)
		}
		if q == "" || strings.Contains(sol.Text, MathShepherdTag) || strings.Contains(q, MathShepherdTag) {
			t.Errorf("record %d: question %q, tag left in text %v", records, q, strings.Contains(sol.Text, MathShepherdTag))
		}
		if got, want := q+" "+sol.Text, strings.ReplaceAll(r.Input, " "+MathShepherdTag, ""); got != want {
			t.Errorf("record %d: question + solution = %q, want %q", records, got, want)
		}
		for k, st := range sol.Steps {
			if n, ok := parseStepNumber(st.Text, 0); !ok || n != strconv.Itoa(k+1) {
				t.Errorf("record %d: step %d starts %.20q", records, k, st.Text)
			}
		}
		// Auto mode on the raw input detects the tag (question in step 1).
		if full, err := Split(r.Input, SplitOptions{}); err != nil || len(full.Steps) != tags {
			t.Errorf("record %d: auto split: %v", records, err)
		}
		labels, err := MathShepherdLabels(r.Label)
		if err != nil {
			t.Fatalf("record %d: labels: %v", records, err)
		}
		if len(labels) != tags {
			t.Errorf("record %d: %d labels for %d tags", records, len(labels), tags)
		}
		steps += len(sol.Steps)
		for _, l := range labels {
			if l {
				positive++
			}
		}
	})
	if records == 0 {
		t.Fatal("no records")
	}
	t.Logf("math-shepherd: %d records, %d steps, %d labelled +", records, steps, positive)
}

// TestSplitGSM8K: a GSM8K answer splits by line into its step lines and the
// final "#### x" line.
func TestSplitGSM8K(t *testing.T) {
	var rows, steps, blank int
	splitReadJSONL(t, testkit.SharedData(t, "gsm8k/test.jsonl"), func(line []byte) {
		var r struct {
			Answer string `json:"answer"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		rows++
		want := splitTrimmedNonBlank(strings.Split(r.Answer, "\n"))
		sol, err := Split(r.Answer, SplitOptions{Mode: SplitLine})
		if err != nil {
			t.Fatalf("row %d: %v", rows, err)
		}
		checkSplitInvariants(t, sol, 0, true)
		if got := sol.StepTexts(); !reflect.DeepEqual(got, want) {
			t.Fatalf("row %d: steps %q, want %q", rows, got, want)
		}
		if last := sol.Steps[len(sol.Steps)-1].Text; !strings.HasPrefix(last, "#### ") {
			t.Errorf("row %d: last step %q", rows, last)
		}
		steps += len(sol.Steps)
		// Auto mode agrees unless the answer has a blank line (paragraphs).
		if DetectSplitMode(r.Answer, "") != SplitLine {
			blank++
			if len(paragraphSpans(r.Answer)) < 2 {
				t.Errorf("row %d: auto mode is %s", rows, DetectSplitMode(r.Answer, ""))
			}
		}
	})
	if rows == 0 {
		t.Fatal("no rows")
	}
	t.Logf("gsm8k test: %d answers, %d steps (incl. #### lines); %d answers contain a blank line, so auto mode picks paragraph for them", rows, steps, blank)
}
