package labeler

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var fuzzSplitModes = []SplitMode{"", SplitAuto, SplitLine, SplitParagraph, SplitStepMarker, SplitTag}

func FuzzSplit(f *testing.F) {
	seeds := []string{
		"",
		"a\nb\n\nc\n",
		"a\r\nb\r\n\r\nc",
		"  \n  a  \n\t b\t\n \n",
		"Step 1: a ки\nStep 2: b ки",
		"Q? Step 1: a ки\nStep 2: b ки\nStep 3: The answer is: 5 ки",
		"a ки ки b ки  ",
		"Intro\n\n## Step 1: a\nwhy\n\n## Step 2: b\n\nThe answer is 5.",
		"**Step 1:** a\n**step 2**: b\r\n  STEP 3 : c",
		"x\nStep 1: a\nStep 2: b\n\nso",
		"\xff\xfe\n\u00a0\u3000\n\xd0",
		"к\xd0и ки\xba",
		"a <step> b <step>",
	}
	for i, s := range seeds {
		f.Add(s, uint8(i), "", uint8(0))
	}
	f.Add("x<step>y<step>z", uint8(5), "<step>", uint8(2))
	f.Add("a  ab  ab", uint8(5), " ab", uint8(0))
	f.Add("aaa", uint8(5), "aa", uint8(1))
	f.Add("к", uint8(5), "\xba", uint8(0))

	f.Fuzz(func(t *testing.T, text string, modeSel uint8, tag string, maxSteps uint8) {
		opt := SplitOptions{Mode: fuzzSplitModes[int(modeSel)%len(fuzzSplitModes)], Tag: tag, MaxSteps: int(maxSteps)}
		sol, err := Split(text, opt)
		usesTag := opt.Mode == SplitTag || opt.Mode == SplitAuto || opt.Mode == ""
		if err != nil {
			if errors.Is(err, ErrNoSteps) || errors.Is(err, ErrTooManySteps) {
				return
			}
			if usesTag && checkTag(tag) != nil {
				return
			}
			t.Fatalf("unexpected error: %v", err)
		}
		checkSplitInvariants(t, sol, opt.MaxSteps, true)

		effTag := tag
		if effTag == "" {
			effTag = MathShepherdTag
		}
		mode := opt.Mode
		if mode == "" || mode == SplitAuto {
			mode = DetectSplitMode(text, tag)
			again, err := Split(text, SplitOptions{Mode: mode, Tag: tag, MaxSteps: opt.MaxSteps})
			if err != nil || !reflect.DeepEqual(again, sol) {
				t.Fatalf("auto split differs from %s split: %v", mode, err)
			}
		}
		if mode != SplitTag || !strings.Contains(text, effTag) {
			if sol.Text != text {
				t.Fatalf("%s mode changed the text", mode)
			}
		} else {
			if len(sol.Text) >= len(text) {
				t.Fatalf("tag mode removed nothing")
			}
			if len(sol.Steps) > strings.Count(text, effTag)+1 {
				t.Fatalf("%d steps for %d tags", len(sol.Steps), strings.Count(text, effTag))
			}
		}

		// Pre-split steps come back unchanged from FromSteps.
		fs, err := FromSteps(sol.StepTexts(), "", opt.MaxSteps)
		if err != nil {
			t.Fatalf("FromSteps: %v", err)
		}
		checkSplitInvariants(t, fs, opt.MaxSteps, true)
		if !reflect.DeepEqual(fs.StepTexts(), sol.StepTexts()) {
			t.Fatalf("FromSteps changed the steps")
		}

		// The Math-Shepherd readers never panic and agree with their own
		// invariants.
		if _, ms, err := SplitMathShepherd(text); err == nil {
			checkSplitInvariants(t, ms, 0, true)
		}
		if labels, err := MathShepherdLabels(text); err == nil && len(labels) == 0 {
			t.Fatal("no labels and no error")
		}
	})
}
