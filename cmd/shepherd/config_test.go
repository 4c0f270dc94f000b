package main

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

func configFlagSet() (*flag.FlagSet, *stringList, *string, *int) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cfg string
	registerConfigFlag(fs, &cfg)
	var backends stringList
	fs.Var(&backends, "backend", "")
	model := fs.String("model", "", "")
	n := fs.Int("n", 0, "")
	return fs, &backends, model, n
}

// TestConfigFile: flags come from the command line, then SHEPHERD_*, then
// the --config file; a repeatable flag takes every line of the file unless
// given on the command line.
func TestConfigFile(t *testing.T) {
	file := writeFile(t, t.TempDir(), "shepherd.conf", "# backends\nmodel from-file\nbackend http://a/v1\n\nbackend http://b/v1 # second\nn 3\n")
	t.Setenv("SHEPHERD_MODEL", "from-env")

	fs, backends, model, n := configFlagSet()
	if err := parseFlags(fs, []string{"--config", file, "--n", "5"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(*backends, []string{"http://a/v1", "http://b/v1"}) || *model != "from-env" || *n != 5 {
		t.Errorf("got backends %v, model %q, n %d", *backends, *model, *n)
	}

	fs, backends, _, n = configFlagSet()
	if err := parseFlags(fs, []string{"--config", file, "--backend", "sim"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(*backends, []string{"sim"}) || *n != 3 {
		t.Errorf("command line --backend: got %v, n %d", *backends, *n)
	}

	t.Setenv("SHEPHERD_CONFIG", file)
	fs, backends, _, _ = configFlagSet()
	if err := parseFlags(fs, nil); err != nil || len(*backends) != 2 {
		t.Errorf("SHEPHERD_CONFIG: %v, %v", *backends, err)
	}

	bad := writeFile(t, t.TempDir(), "bad.conf", "bakend http://a/v1\n")
	fs, _, _, _ = configFlagSet()
	if err := parseFlags(fs, []string{"--config", bad}); err == nil || !strings.Contains(err.Error(), `"bakend" not defined`) {
		t.Errorf("unknown flag in the file: %v", err)
	}
}
