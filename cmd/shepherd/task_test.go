package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLabelTaskFromInputFormat: label --format math-shepherd writes the
// task the input format names (GSM8K rows: "GSM8K"), and --task wins.
func TestLabelTaskFromInputFormat(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "gsm8k.jsonl", `{"question": "Start with 5. Add 3. What is the result?", "answer": "5 + 3 = <<5+3=8>>8.\n#### 8"}
{"question": "Start with 2. Multiply by 4. What is the result?", "answer": "2 * 4 = <<2*4=8>>8.\n#### 8"}
`)
	for _, c := range []struct {
		extra []string
		want  string
	}{{nil, "GSM8K"}, {[]string{"--task", "MATH"}, "MATH"}} {
		out := filepath.Join(dir, "ms.jsonl")
		args := append([]string{"label", "--in-format", "gsm8k", "--in", in, "--backend", "sim", "--n", "2",
			"--format", "math-shepherd", "--out", out}, c.extra...)
		code, _, stderr := runShepherd(t, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != 2 {
			t.Fatalf("%d rows, want 2:\n%s", len(lines), b)
		}
		for _, line := range lines {
			var row struct{ Task string }
			if err := json.Unmarshal([]byte(line), &row); err != nil {
				t.Fatal(err)
			}
			if row.Task != c.want {
				t.Errorf("%v: task %q, want %q", c.extra, row.Task, c.want)
			}
		}
	}
}
