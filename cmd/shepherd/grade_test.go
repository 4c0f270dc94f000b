package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gradeRun runs "shepherd grade args..." in-process.
func gradeRun(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code = run(ctx, env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, append([]string{"grade"}, args...))
	return code, out.String(), errb.String()
}

func gradeLine(answer, response string) string {
	b, _ := json.Marshal(map[string]string{"answer": answer, "response": response})
	return string(b) + "\n"
}

func TestGradeCommand(t *testing.T) {
	in := gradeLine("Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n#### 18", "She makes 9 * 2 = $18.\nA: 18") +
		"\n   \n" +
		gradeLine(`\frac{1}{2}`, `So the answer is $\boxed{0.5}$.`) +
		gradeLine("12", "The answer is: 2") +
		gradeLine("5", "I cannot tell.") +
		gradeLine(`The area is $\boxed{864 \mbox{ inches}^2}$.`, `\boxed{864}`) +
		gradeLine("<b>&</b>", "Answer: <b>&</b>")
	want := `{"extracted":"18","correct":true}
{"extracted":"0.5","correct":true}
{"extracted":"2","correct":false}
{"extracted":null,"correct":false}
{"extracted":"864","correct":true}
{"extracted":"<b>&</b>","correct":true}
`
	for _, args := range [][]string{nil, {"--in", "-"}, {"--workers", "1"}, {"--workers", "7"}} {
		code, out, errOut := gradeRun(t, in, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %s", args, code, errOut)
		}
		if out != want {
			t.Errorf("%v: output\n%s\nwant\n%s", args, out, want)
		}
		if !strings.Contains(errOut, "graded 6 responses: 4 correct, 1 without a final answer, 0 bad lines skipped") {
			t.Errorf("%v: stderr %q", args, errOut)
		}
	}
}

// TestGradeCommandOrder grades many lines concurrently; the output must
// follow the input order.
func TestGradeCommandOrder(t *testing.T) {
	var in, want strings.Builder
	for i := 0; i < 3000; i++ {
		gold := fmt.Sprint(i % 97)
		resp := fmt.Sprintf("Step one.\nThe answer is %d.", i%89)
		in.WriteString(gradeLine(gold, resp))
		fmt.Fprintf(&want, `{"extracted":"%d","correct":%v}`+"\n", i%89, i%97 == i%89)
	}
	code, out, errOut := gradeRun(t, in.String(), "--workers", "8")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != want.String() {
		t.Error("output differs from the expected in-order output")
	}
}

func TestGradeCommandFiles(t *testing.T) {
	dir := t.TempDir()
	inPath, outPath := writeFile(t, dir, "in.jsonl", gradeLine("3", "A: 3")+gradeLine("3", "A: 4")), filepath.Join(dir, "out.jsonl")
	code, out, errOut := gradeRun(t, "", "--in", inPath, "--out", outPath)
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	got, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"extracted\":\"3\",\"correct\":true}\n{\"extracted\":\"4\",\"correct\":false}\n"; string(got) != want {
		t.Errorf("output file %q, want %q", got, want)
	}

	// A failed run leaves no output file (and no temporary file) behind.
	writeFile(t, dir, "in.jsonl", gradeLine("3", "A: 3")+"{bad\n")
	failed := filepath.Join(dir, "failed.jsonl")
	if code, _, _ := gradeRun(t, "", "--in", inPath, "--out", failed); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "in.jsonl" && e.Name() != "out.jsonl" {
			t.Errorf("unexpected file %s after a failed run", e.Name())
		}
	}

	if code, _, errOut := gradeRun(t, "", "--in", filepath.Join(dir, "missing.jsonl")); code != 1 || !strings.Contains(errOut, "--in") {
		t.Errorf("missing input: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := gradeRun(t, "", "--workers", "0"); code != 2 {
		t.Errorf("--workers 0: exit %d, want 2", code)
	}
	if code, _, _ := gradeRun(t, "", "extra"); code != 2 {
		t.Errorf("extra argument: exit %d, want 2", code)
	}
}

func TestGradeCommandBadLines(t *testing.T) {
	good := gradeLine("1", "A: 1")
	bad := []struct {
		line, msg string
	}{
		{"{not json\n", "input line 2: bad JSON"},
		{`{"response": "A: 1"}` + "\n", `input line 2: field "answer" is missing`},
		{`{"answer": "1"}` + "\n", `input line 2: field "response" is missing`},
		{`{"answer": 1, "response": "A: 1"}` + "\n", `input line 2: field "answer" must be a string`},
		{`{"answer": "1", "response": null}` + "\n", `input line 2: field "response" must be a string`},
		{`{"answer": "1", "response": ["A: 1"]}` + "\n", `input line 2: field "response" must be a string`},
		{`[1, 2]` + "\n", "input line 2: bad JSON"},
		{`null` + "\n", `input line 2: field "answer" is missing`},
	}
	for _, b := range bad {
		in := good + b.line + good
		code, out, errOut := gradeRun(t, in)
		if code != 1 {
			t.Errorf("%q: exit %d, want 1", b.line, code)
		}
		if !strings.Contains(errOut, b.msg) {
			t.Errorf("%q: stderr %q does not contain %q", b.line, errOut, b.msg)
		}
		if out != `{"extracted":"1","correct":true}`+"\n" {
			t.Errorf("%q: output %q, want only the line before the bad one", b.line, out)
		}

		code, out, errOut = gradeRun(t, in, "--skip-bad")
		if code != 0 {
			t.Errorf("%q --skip-bad: exit %d: %s", b.line, code, errOut)
		}
		if !strings.Contains(errOut, "skipping "+b.msg) || !strings.Contains(errOut, "1 bad lines skipped") {
			t.Errorf("%q --skip-bad: stderr %q", b.line, errOut)
		}
		if out != strings.Repeat(`{"extracted":"1","correct":true}`+"\n", 2) {
			t.Errorf("%q --skip-bad: output %q", b.line, out)
		}
	}
}

func TestGradeCommandLongLine(t *testing.T) {
	good := gradeLine("1", "A: 1")
	long := gradeLine("1", strings.Repeat("x", gradeMaxLine)+" A: 1")
	in := good + long + good
	code, out, errOut := gradeRun(t, in)
	if code != 1 || !strings.Contains(errOut, "input line 2: line is longer than the limit of 16777216 bytes") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	if out != `{"extracted":"1","correct":true}`+"\n" {
		t.Errorf("output %q", out)
	}
	code, out, errOut = gradeRun(t, in, "--skip-bad")
	if code != 0 || out != strings.Repeat(`{"extracted":"1","correct":true}`+"\n", 2) {
		t.Errorf("--skip-bad: exit %d, output %q, stderr %q", code, out, errOut)
	}
	// A line just under the limit is fine.
	ok := gradeLine("1", strings.Repeat("x", gradeMaxLine-100)+" A: 1")
	if code, out, errOut := gradeRun(t, ok); code != 0 || out != `{"extracted":"1","correct":true}`+"\n" {
		t.Errorf("near-limit line: exit %d, output %q, stderr %q", code, out, errOut)
	}
	// A last line without a newline counts.
	if _, out, _ := gradeRun(t, strings.TrimSuffix(good, "\n")); out != `{"extracted":"1","correct":true}`+"\n" {
		t.Errorf("unterminated last line: output %q", out)
	}
}
