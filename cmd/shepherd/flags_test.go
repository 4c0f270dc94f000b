package main

import (
	"strings"
	"testing"
)

// TestUnknownFlagErrorOnce: an unknown flag is reported once, after the
// usage, with exit status 2.
func TestUnknownFlagErrorOnce(t *testing.T) {
	for _, cmd := range []string{"grade", "import", "export", "label"} {
		code, _, stderr := runShepherd(t, "", cmd, "--no-such-flag")
		if code != 2 {
			t.Errorf("%s: exit %d, want 2", cmd, code)
		}
		if n := strings.Count(stderr, "flag provided but not defined: -no-such-flag"); n != 1 {
			t.Errorf("%s: the error is printed %d times:\n%s", cmd, n, stderr)
		}
		if !strings.Contains(stderr, "usage: shepherd "+cmd) {
			t.Errorf("%s: no usage:\n%s", cmd, stderr)
		}
	}
}

// TestSkipBadNaming: "skip rows that cannot be used" is --skip-bad in every
// command; import's former --skip-unusable still parses but is not shown.
func TestSkipBadNaming(t *testing.T) {
	for _, cmd := range []string{"grade", "import"} {
		_, _, stderr := runShepherd(t, "", cmd, "-h")
		if !strings.Contains(stderr, "-skip-bad") {
			t.Errorf("%s -h lacks --skip-bad:\n%s", cmd, stderr)
		}
		if strings.Contains(stderr, "skip-unusable") {
			t.Errorf("%s -h shows the old name --skip-unusable:\n%s", cmd, stderr)
		}
	}
	in := `{"question": "q", "answer": "no gold marker"}` + "\n"
	for _, flag := range []string{"--skip-bad", "--skip-unusable"} {
		code, _, stderr := runShepherd(t, in, "import", "--in-format", "gsm8k", flag)
		if code != 0 || !strings.Contains(stderr, "imported 0 of 1 gsm8k rows, 1 left out") {
			t.Errorf("import %s: exit %d: %s", flag, code, stderr)
		}
	}
	code, _, stderr := runShepherd(t, in, "import", "--in-format", "gsm8k")
	if code == 0 || !strings.Contains(stderr, "--skip-bad leaves such rows out") {
		t.Errorf("import of an unusable row: exit %d: %s", code, stderr)
	}
}
