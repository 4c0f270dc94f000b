package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/internal/testkit"
	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/dataset"
)

func readProblems(t *testing.T, jsonl string) []labeler.Problem {
	t.Helper()
	var out []labeler.Problem
	for _, line := range strings.Split(strings.TrimSpace(jsonl), "\n") {
		if line == "" {
			continue
		}
		var p labeler.Problem
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, p)
	}
	return out
}

// TestImportProcessBenchCommand imports ProcessBench's JSON arrays.
func TestImportProcessBenchCommand(t *testing.T) {
	gsm := testkit.SharedData(t, "processbench/gsm8k.json")
	out := filepath.Join(t.TempDir(), "pb.jsonl")
	code, _, stderr := runShepherd(t, "", "import", "--in-format", "processbench", "--in", gsm, "--gold-from", testkit.SharedData(t, "gsm8k/test.jsonl"), "--out", out)
	if code != 0 || !strings.Contains(stderr, "imported 400 of 400 processbench rows, 0 left out") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	probs := readProblems(t, readAll(t, out))
	var raw []struct {
		ID      string   `json:"id"`
		Problem string   `json:"problem"`
		Steps   []string `json:"steps"`
	}
	if err := json.Unmarshal([]byte(readAll(t, gsm)), &raw); err != nil {
		t.Fatal(err)
	}
	for i, p := range probs {
		if p.ID != raw[i].ID || p.Question != raw[i].Problem || len(p.Solutions) != 1 || !slices.Equal(p.Solutions[0].Steps, raw[i].Steps) || p.Answer == "" {
			t.Fatalf("row %d: %+v", i, p)
		}
	}

	// Without the gold answers, rows whose final answer is wrong are unusable.
	code, _, stderr = runShepherd(t, "", "import", "--in-format", "processbench", "--in", gsm, "--out", out)
	if code != 1 || !strings.Contains(stderr, "element 1: processbench row processbench-1: unusable: no gold answer") || !strings.Contains(stderr, "--gold-from") {
		t.Errorf("without gold: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("the earlier output is gone after a failed import: %v", err)
	}
	if !strings.Contains(stderr, "--skip-bad leaves such rows out") {
		t.Errorf("without gold: the error does not name --skip-bad: %s", stderr)
	}
	// --skip-unusable is the former name of --skip-bad, kept as an alias.
	for _, flag := range []string{"--skip-bad", "--skip-unusable"} {
		code, stdout, stderr := runShepherd(t, "", "import", "--in-format", "processbench", "--in", gsm, flag)
		if code != 0 || !strings.Contains(stderr, "imported 200 of 400 processbench rows, 200 left out as unusable (the first: processbench row processbench-1: unusable: no gold answer") {
			t.Errorf("%s: exit %d: %s", flag, code, stderr)
		}
		if n := len(readProblems(t, stdout)); n != 200 {
			t.Errorf("%s wrote %d problems", flag, n)
		}
	}
}

// TestImportCommandFormats imports a few rows of every data set, as JSONL
// and as a JSON array, and labels them.
func TestImportCommandFormats(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		format, file string
		rows         int
		gold         []string
	}{
		{"gsm8k", "gsm8k/test.jsonl", 3, nil},
		{"math500", "prm800k/math_splits/test.jsonl", 3, nil},
		{"math", "math/test.jsonl", 3, nil},
		{"prm800k", "prm800k/samples/samples_prm800k.jsonl", 5, nil},
		{"math-shepherd", "math-shepherd/samples_math-shepherd.jsonl", 7, []string{"gsm8k/train.jsonl"}},
	}
	for _, c := range cases {
		lines := strings.SplitN(readAll(t, testkit.SharedData(t, c.file)), "\n", c.rows+1)[:c.rows]
		jsonl := writeFile(t, dir, c.format+".jsonl", "\n"+strings.Join(lines, "\n")+"\n")
		array := writeFile(t, dir, c.format+".json", " [\n"+strings.Join(lines, ",\n")+"]\n")
		var outs []string
		for _, in := range []string{jsonl, array} {
			args := []string{"import", "--in-format", c.format, "--in", in}
			for _, g := range c.gold {
				args = append(args, "--gold-from", testkit.SharedData(t, g))
			}
			code, stdout, stderr := runShepherd(t, "", args...)
			if code != 0 || !strings.Contains(stderr, "left out as unusable") {
				t.Fatalf("%s %s: exit %d: %s", c.format, filepath.Base(in), code, stderr)
			}
			outs = append(outs, stdout)
		}
		// JSONL ids count lines (the leading blank one included), array ids elements.
		jsonlProbs, arrayProbs := readProblems(t, outs[0]), readProblems(t, outs[1])
		if len(jsonlProbs) != c.rows || len(arrayProbs) != c.rows {
			t.Fatalf("%s: %d and %d problems", c.format, len(jsonlProbs), len(arrayProbs))
		}
		for i := range jsonlProbs {
			a, b := jsonlProbs[i], arrayProbs[i]
			if a.Question != b.Question || a.Answer != b.Answer || a.Answer == "" {
				t.Errorf("%s row %d differs: %+v / %+v", c.format, i, a, b)
			}
			if strings.HasPrefix(b.ID, c.format) && (a.ID != dataset.RowID(dataset.InputFormat(c.format), i+2) || b.ID != dataset.RowID(dataset.InputFormat(c.format), i+1)) {
				t.Errorf("%s row %d: ids %q / %q", c.format, i, a.ID, b.ID)
			}
		}
		// label reads the data set directly.
		args := []string{"label", "--in-format", c.format, "--in", jsonl, "--backend", "sim", "--n", "2", "--format", "trl", "--progress", "never"}
		for _, g := range c.gold {
			args = append(args, "--gold-from", testkit.SharedData(t, g))
		}
		code, stdout, stderr := runShepherd(t, "", args...)
		if code != 0 || strings.Count(stdout, "\n") != c.rows {
			t.Errorf("label --in-format %s: exit %d, %d rows: %s", c.format, code, strings.Count(stdout, "\n"), stderr)
		}
	}
}

func TestImportCommandErrors(t *testing.T) {
	dir := t.TempDir()
	prm := testkit.SharedData(t, "prm800k/samples/samples_prm800k.jsonl")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--in-format", "csv"}, 2, "unknown input format"},
		{[]string{"--in-format", "prm800k", "--in", prm}, 1, "line 6: prm800k row prm800k-6: unusable: no gold answer: question.ground_truth_answer is null"},
		{[]string{"--in-format", "gsm8k", "--in", writeFile(t, dir, "bad.jsonl", `{"question": "q", "answer": "a\n#### 1"}`+"\n[1]\n")}, 1, "line 2: gsm8k row gsm8k-2: not a JSON object"},
		{[]string{"--in-format", "gsm8k", "--in", writeFile(t, dir, "open.json", `[{"question": "q", "answer": "a\n#### 1"}`)}, 1, "not closed"},
		{[]string{"--in-format", "gsm8k", "--in", writeFile(t, dir, "trail.json", `[] []`)}, 1, "data after the JSON array"},
		{[]string{"--in-format", "processbench", "--gold-from", writeFile(t, dir, "gold.jsonl", `{"question": "q"}`+"\n")}, 1, "--gold-from " + filepath.Join(dir, "gold.jsonl") + ": line 1: no answer"},
		{[]string{"--in-format", "processbench", "--gold-from", "-"}, 2, "--gold-from wants a file"},
	} {
		code, _, stderr := runShepherd(t, "", append([]string{"import"}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want exit %d with %q", c.args, code, stderr, c.code, c.want)
		}
	}
	// label names the row too, and writes nothing for it.
	code, stdout, stderr := runShepherd(t, "", "label", "--in-format", "prm800k", "--in", prm, "--backend", "sim", "--progress", "never")
	if code != 1 || !strings.Contains(stderr, "prm800k row prm800k-6: unusable: no gold answer") {
		t.Errorf("label: exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "prm800k-6") {
		t.Errorf("label wrote the unusable row: %s", stdout)
	}
}

// TestLabelImportedNamesTheRow: label --in-format reads the importer's
// problems as they are, and an error names the data set's own row (a
// line of the file, blank lines counted, or an element of an array).
func TestLabelImportedNamesTheRow(t *testing.T) {
	dir := t.TempDir()
	row := func(steps int) string {
		return `{"question": "q", "answer": "` + strings.Repeat(`a step\n`, steps) + `#### 1"}`
	}
	for _, c := range []struct{ name, in, want string }{
		{"rows.jsonl", "\n" + row(1) + "\n\n" + row(4) + "\n", "input line 4: problem gsm8k-4: solutions[0] (gsm8k-4-0): "},
		{"rows.json", "[" + row(1) + ",\n" + row(4) + "]", "input element 2: problem gsm8k-2: solutions[0] (gsm8k-2-0): "},
	} {
		in := writeFile(t, dir, c.name, c.in)
		code, _, stderr := runShepherd(t, "", "label", "--in-format", "gsm8k", "--in", in, "--backend", "sim", "--max-steps", "3", "--progress", "never")
		if code == 0 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "more than the limit of 3") {
			t.Errorf("%s: exit %d, %q; want an error with %q", c.name, code, stderr, c.want)
		}
	}
}
