package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/labeler"
)

// exportRecords are three label records: one with an inferred (null) soft
// label, one with a failed step, one in the Math-Shepherd dress.
const exportRecords = `{"problem_id":"p1","solution_id":"p1-0","prompt":"Start with 4. Add 3. What is the result?","completions":["4 + 3 = 7.","The answer is 7."],"labels":[true,true],"soft_labels":[null,1],"rollouts":[0,0],"correct_rollouts":[0,0],"first_error_step":-1,"min_score":1,"outcome_correct":true,"strategy":"binary","model":"sim","grader_version":"shepherd-grader/2"}
{"problem_id":"p2","solution_id":"p2-0","prompt":"q2","completions":["a","b"],"labels":[true,false],"soft_labels":[0.5,null],"rollouts":[2,0],"correct_rollouts":[1,0],"first_error_step":1,"min_score":0.5,"outcome_correct":false,"failed_steps":[1],"strategy":"exhaustive","model":"sim","grader_version":"shepherd-grader/2"}

{"problem_id":"p3","solution_id":"p3-0","prompt":"What is 6 * 7?","completions":["Step 1: 6 * 7 = 41.","Step 2: The answer is: 41"],"labels":[false,false],"soft_labels":[0.25,0],"rollouts":[4,0],"correct_rollouts":[1,0],"first_error_step":0,"min_score":0,"outcome_correct":false,"strategy":"exhaustive","model":"sim","grader_version":"shepherd-grader/2"}
`

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExportFormats(t *testing.T) {
	in := writeFile(t, t.TempDir(), "labels.jsonl", exportRecords)
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--format", "trl"}, []string{
			`{"prompt":"Start with 4. Add 3. What is the result?","completions":["4 + 3 = 7.","The answer is 7."],"labels":[true,true]}`,
			`{"prompt":"What is 6 * 7?","completions":["Step 1: 6 * 7 = 41.","Step 2: The answer is: 41"],"labels":[false,false]}`}},
		{[]string{"--format", "trl", "--soft"}, []string{
			`{"prompt":"Start with 4. Add 3. What is the result?","completions":["4 + 3 = 7.","The answer is 7."],"labels":[true,true],"soft_labels":[1.0,1.0]}`,
			`{"prompt":"What is 6 * 7?","completions":["Step 1: 6 * 7 = 41.","Step 2: The answer is: 41"],"labels":[false,false],"soft_labels":[0.25,0.0]}`}},
		{[]string{"--format", "math-shepherd", "--task", "GSM8K"}, []string{
			`{"input":"Start with 4. Add 3. What is the result? Step 1: 4 + 3 = 7. ки\nStep 2: The answer is 7. ки","label":"Start with 4. Add 3. What is the result? Step 1: 4 + 3 = 7. +\nStep 2: The answer is 7. +","task":"GSM8K"}`,
			`{"input":"What is 6 * 7? Step 1: 6 * 7 = 41. ки\nStep 2: The answer is: 41 ки","label":"What is 6 * 7? Step 1: 6 * 7 = 41. -\nStep 2: The answer is: 41 -","task":"GSM8K"}`}},
		{[]string{"--format", "openrlhf", "--soft", "--placeholder-token", "<|step|>"}, []string{
			`{"input":"Start with 4. Add 3. What is the result? Step 1: 4 + 3 = 7. <|step|>\nStep 2: The answer is 7. <|step|>","value":[1.0,1.0]}`,
			`{"input":"What is 6 * 7? Step 1: 6 * 7 = 41. <|step|>\nStep 2: The answer is: 41 <|step|>","value":[0.25,0.0]}`}},
		{[]string{"--format", "openrlhf", "--reward-tokens", "good bad"}, []string{
			`{"input":"Start with 4. Add 3. What is the result? Step 1: 4 + 3 = 7. ки\nStep 2: The answer is 7. ки","value":["good","good"]}`,
			`{"input":"What is 6 * 7? Step 1: 6 * 7 = 41. ки\nStep 2: The answer is: 41 ки","value":["bad","bad"]}`}},
		{[]string{"--format", "chat"}, []string{
			`{"messages":[{"role":"user","content":"Start with 4. Add 3. What is the result?\n4 + 3 = 7."},{"role":"assistant","content":"+"},{"role":"user","content":"The answer is 7."},{"role":"assistant","content":"+"}]}`,
			`{"messages":[{"role":"user","content":"What is 6 * 7?\nStep 1: 6 * 7 = 41."},{"role":"assistant","content":"-"},{"role":"user","content":"Step 2: The answer is: 41"},{"role":"assistant","content":"-"}]}`}},
	}
	for _, c := range cases {
		code, stdout, stderr := runShepherd(t, "", append([]string{"export", "--in", in}, c.args...)...)
		// A record left out is a partial result: exit status 3.
		if code != exitPartial {
			t.Fatalf("%v: exit %d, want %d: %s", c.args, code, exitPartial, stderr)
		}
		if got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n"); !slices.Equal(got, c.want) {
			t.Errorf("%v:\n got %s\nwant %s", c.args, strings.Join(got, "\n     "), strings.Join(c.want, "\n     "))
		}
		if !strings.Contains(stderr, "exported 2 records") || !strings.Contains(stderr, "1 left out for failed steps") {
			t.Errorf("%v: summary %q", c.args, stderr)
		}
	}
	// The record format passes records through, failed steps and all.
	code, stdout, stderr := runShepherd(t, exportRecords, "export", "--format", "record")
	if code != 0 || strings.Count(stdout, "\n") != 3 || !strings.Contains(stdout, `"failed_steps":[1]`) {
		t.Errorf("record format: exit %d, %s%s", code, stdout, stderr)
	}
}

func TestExportBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "csv"}, "unknown format"},
		{[]string{"--format", "chat", "--soft"}, "--soft"},
		{[]string{"--format", "math-shepherd", "--soft"}, "--soft"},
		{[]string{"--format", "trl", "--task", "GSM8K"}, "--task"},
		{[]string{"--format", "math-shepherd", "--placeholder-token", "<s>"}, "--placeholder-token"},
		{[]string{"--format", "trl", "--reward-tokens", "y n"}, "--reward-tokens"},
		{[]string{"--format", "chat", "--reward-tokens", "y"}, "two tokens"},
		{[]string{"--format", "chat", "--reward-tokens", "y y"}, "both"},
		{[]string{"--format", "record", "--parquet"}, "Parquet"},
		{[]string{"--format", "record", "--out", "x.parquet"}, "Parquet"},
	} {
		code, _, stderr := runShepherd(t, exportRecords, append([]string{"export"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want exit 2 naming %q", c.args, code, stderr, c.want)
		}
	}
}

// TestExportNothingHalfWritten: a bad record fails the export and leaves no
// output file, nor touches an existing one.
func TestExportNothingHalfWritten(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ in, want string }{
		{exportRecords + "{not json\n", "--in line 5: not a label record"},
		{exportRecords + `{"problem_id":"p4","solution_id":"x","prompt":"q","completions":["a"],"labels":[]}` + "\n", "--in line 5: record p4/x: 0 labels for 1 completions"},
		{`{"problem_id":"p5","solution_id":"y","prompt":"Is ки a tag?","completions":["a"],"labels":[true]}` + "\n", "occurs 2 times"},
	} {
		in := writeFile(t, dir, "labels.jsonl", c.in)
		for _, out := range []string{"new.jsonl", "new.parquet"} {
			outPath := filepath.Join(dir, out)
			code, _, stderr := runShepherd(t, "", "export", "--in", in, "--format", "openrlhf", "--out", outPath)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, %q; want exit 1 with %q", code, stderr, c.want)
			}
			if _, err := os.Stat(outPath); !os.IsNotExist(err) {
				t.Errorf("%s exists after a failed export", out)
			}
		}
		old := writeFile(t, dir, "old.jsonl", "keep me\n")
		runShepherd(t, "", "export", "--in", in, "--format", "openrlhf", "--out", old)
		if b, _ := os.ReadFile(old); string(b) != "keep me\n" {
			t.Errorf("a failed export changed an existing file: %q", b)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// TestExportFromLabel: label --format writes the trainer format directly,
// and the same rows come out of label followed by export.
func TestExportFromLabel(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "in.jsonl", twoProblems)
	records := filepath.Join(dir, "labels.jsonl")
	base := []string{"label", "--in", in, "--backend", "sim", "--n", "4", "--seed", "3", "--strategy", "binary", "--progress", "never"}
	if code, _, stderr := runShepherd(t, "", append(base, "--out", records)...); code != 0 {
		t.Fatalf("label: exit %d: %s", code, stderr)
	}
	for _, args := range [][]string{
		{"--format", "trl", "--soft"},
		{"--format", "math-shepherd"},
		{"--format", "openrlhf"},
		{"--format", "chat"},
	} {
		direct := filepath.Join(dir, "direct.jsonl")
		if code, _, stderr := runShepherd(t, "", append(append(base, "--out", direct), args...)...); code != 0 {
			t.Fatalf("label %v: exit %d: %s", args, code, stderr)
		}
		code, exported, stderr := runShepherd(t, "", append([]string{"export", "--in", records}, args...)...)
		if code != 0 {
			t.Fatalf("export %v: exit %d: %s", args, code, stderr)
		}
		b, _ := os.ReadFile(direct)
		// Solutions finish in any order; compare the sorted rows.
		got, want := sortedLines(string(b)), sortedLines(exported)
		if !slices.Equal(got, want) || len(got) != 3 {
			t.Errorf("label %v wrote\n%s\nexport wrote\n%s", args, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	code, _, stderr := runShepherd(t, "", append(base, "--out", records, "--resume", "--format", "trl")...)
	if code != 2 || !strings.Contains(stderr, "--resume needs --format record") {
		t.Errorf("--resume with trl: exit %d, %q", code, stderr)
	}
}

func sortedLines(s string) []string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	slices.Sort(lines)
	return lines
}

// TestExportMathShepherdRoundTrip: label → export math-shepherd → import
// math-shepherd gives back the questions, the steps ("Step k: " added) and
// the labels.
func TestExportMathShepherdRoundTrip(t *testing.T) {
	dir := t.TempDir()
	records := filepath.Join(dir, "labels.jsonl")
	if code, _, stderr := runShepherd(t, "", "label", "--in", "../../examples/sim-problems.jsonl", "--backend", "sim", "--n", "4", "--progress", "never", "--out", records); code != 0 {
		t.Fatalf("label: exit %d: %s", code, stderr)
	}
	ms := filepath.Join(dir, "ms.jsonl")
	if code, _, stderr := runShepherd(t, "", "export", "--in", records, "--format", "math-shepherd", "--out", ms); code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	code, problems, stderr := runShepherd(t, "", "import", "--in-format", "math-shepherd", "--in", ms, "--skip-bad")
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, stderr)
	}
	var recs []labeler.Record
	for _, line := range strings.Split(strings.TrimSpace(readAll(t, records)), "\n") {
		var r labeler.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	var probs []labeler.Problem
	for _, line := range strings.Split(strings.TrimSpace(problems), "\n") {
		var p labeler.Problem
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatal(err)
		}
		probs = append(probs, p)
	}
	// Solutions whose last step is labelled - carry no gold answer in the
	// Math-Shepherd layout and are left out.
	usable := 0
	for i, r := range recs {
		if !r.Labels[len(r.Labels)-1] {
			continue
		}
		p := probs[usable]
		usable++
		want := make([]string, len(r.Completions))
		for k, c := range r.Completions {
			want[k] = fmt.Sprintf("Step %d: %s", k+1, c)
		}
		if p.Question != r.Prompt || !slices.Equal(p.Solutions[0].Steps, want) {
			t.Fatalf("record %d: imported %q %q, want %q %q", i, p.Question, p.Solutions[0].Steps, r.Prompt, want)
		}
	}
	if usable != len(probs) || usable == 0 || !strings.Contains(stderr, fmt.Sprintf("imported %d of %d", usable, len(recs))) {
		t.Errorf("%d usable records, %d problems imported: %s", usable, len(probs), stderr)
	}
}

func readAll(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
