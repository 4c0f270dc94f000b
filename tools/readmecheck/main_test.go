package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = "# Title\n\n" +
	"```sh\n" +
	"echo one > one.txt   # a comment\n" +
	"# a comment line\n" +
	"cat one.txt \\\n  | grep -q one\n" +
	"```\n\n" +
	"Output:\n\n" +
	"```\n" +
	"$ test -f one.txt\n" +
	"not a command\n" +
	"```\n\n" +
	"<!-- readme-check: skip needs a cluster -->\n" +
	"```sh\n" +
	"kubectl apply -f x\n" +
	"```\n\n" +
	"```sh\n" +
	"vllm serve m\n" +
	"shepherd label --backend http://gpu-1:8000/v1\n" +
	"shepherd import --in \"$SHEPHERD_DATA/x.json\"\n" +
	"```\n\n" +
	"```python\n" +
	"import os\n" +
	"```\n"

func TestParseAndClassify(t *testing.T) {
	cmds, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	classify(cmds, "")
	var got []string
	for _, c := range cmds {
		got = append(got, c.text+" | "+c.skip)
	}
	want := []string{
		"echo one > one.txt   # a comment | ",
		"cat one.txt    | grep -q one | ",
		"test -f one.txt | ",
		"kubectl apply -f x | marked: needs a cluster",
		"vllm serve m | needs a GPU",
		"shepherd label --backend http://gpu-1:8000/v1 | needs a running server",
		`shepherd import --in "$SHEPHERD_DATA/x.json" | reference data not found`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("commands:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRunFailsOnNonZeroExit: the commands run in order in one directory,
// and one that exits non-zero fails the check.
func TestRunFailsOnNonZeroExit(t *testing.T) {
	t.Setenv("CI", "")
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	if err := os.WriteFile(readme, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(readme, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "readme: 3 passed, 0 failed, 4 skipped\n") {
		t.Errorf("summary:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "one.txt")); err == nil {
		t.Error("a command wrote into the checkout instead of the scratch directory")
	}

	broken := strings.Replace(sample, "$ test -f one.txt", "$ test -f two.txt", 1)
	if err := os.WriteFile(readme, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := run(readme, &out)
	if err == nil || !strings.Contains(out.String(), "FAIL README.md:13: test -f two.txt") {
		t.Errorf("a failing command passed: %v\n%s", err, out.String())
	}
}
