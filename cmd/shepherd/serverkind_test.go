package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/rollout/sim"
)

// softLabels returns every measured soft label of a label file, and
// whether some step's rollouts were not all alike (a soft label strictly
// between 0 and 1).
func softLabels(t *testing.T, path string) (all []float64, mixed bool) {
	t.Helper()
	for _, rec := range readRecords(t, path) {
		for _, v := range rec["soft_labels"].([]any) {
			if f, ok := v.(float64); ok {
				all = append(all, f)
				mixed = mixed || (f > 0 && f < 1)
			}
		}
	}
	return all, mixed
}

// TestLabelAgainstSGLang labels through SGLang-flavoured simulators:
// with deterministic inference (detected) --n 8 soft labels are not 0 or 1
// everywhere and two runs write the same labels; asked as vLLM is
// (--server-kind vllm) the n samples of a prefix are one sample n times, so
// every soft label is 0 or 1. Without deterministic inference shepherd
// warns that samples are not reproducible.
func TestLabelAgainstSGLang(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "in.jsonl", firstLines(t, filepath.Join("..", "..", "examples", "sim-problems.jsonl"), 6))
	url, stop, err := sim.Start(sim.Options{Model: "sim", Flavour: sim.FlavourSGLang, DeterministicInference: true})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	label := func(name string, extra ...string) (string, string) {
		out := filepath.Join(dir, name)
		args := append([]string{"label", "--backend", url, "--model", "sim", "--in", in, "--out", out, "--n", "8", "--seed", "5"}, extra...)
		code, _, stderr := runShepherd(t, "", args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		return out, stderr
	}
	a, stderr := label("a.jsonl")
	if strings.Contains(stderr, "warning") {
		t.Errorf("deterministic SGLang: %s", stderr)
	}
	labels, mixed := softLabels(t, a)
	if len(labels) < 20 || !mixed {
		t.Errorf("%d soft labels, none strictly between 0 and 1: the n samples of each prefix were identical", len(labels))
	}
	b, _ := label("b.jsonl", "--server-kind", "sglang")
	if !slices.Equal(fileLines(t, a), fileLines(t, b)) { // records in any order; b names the kind, a detects it
		t.Errorf("two runs against deterministic SGLang wrote different labels:\n%s\n%s", readAll(t, a), readAll(t, b))
	}
	naive, _ := label("naive.jsonl", "--server-kind", "vllm")
	if _, mixed := softLabels(t, naive); mixed {
		t.Error("asked as vLLM, the SGLang-flavoured simulator should give n identical samples (soft labels 0 or 1)")
	}

	loose, stopLoose, err := sim.Start(sim.Options{Model: "sim", Flavour: sim.FlavourSGLang})
	if err != nil {
		t.Fatal(err)
	}
	defer stopLoose()
	code, _, stderr := runShepherd(t, "", "label", "--backend", loose, "--model", "sim", "--in", in, "--out", filepath.Join(dir, "loose.jsonl"), "--n", "8")
	if code != 0 || !strings.Contains(stderr, "warning: --backend "+loose) || !strings.Contains(stderr, "may draw different samples") {
		t.Errorf("SGLang without deterministic inference: exit %d, %s", code, stderr)
	}
	code, _, stderr = runShepherd(t, "", "label", "--backend", "sim", "--in", in, "--server-kind", "tgi")
	if code != 2 || !strings.Contains(stderr, `unknown server kind "tgi"`) {
		t.Errorf("--server-kind tgi: exit %d, %s", code, stderr)
	}
}
