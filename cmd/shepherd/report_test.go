package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

var updateScreenshot = flag.Bool("update-screenshot", false, "write the report page's screenshot to docs/report.png")

// chromium runs headless Chromium on a page with a fresh profile and
// returns its stdout and the console messages it logged: with
// --enable-logging=stderr every console call and every uncaught exception
// comes out on stderr as a line with ":CONSOLE" in it.
func chromium(t *testing.T, bin, page string, mode ...string) (stdout []byte, console []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0",
	}, mode...)
	cmd := exec.CommandContext(ctx, bin, append(args, "file://"+page)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", mode, err, errb.String())
	}
	for _, l := range strings.Split(errb.String(), "\n") {
		if strings.Contains(l, ":CONSOLE") {
			console = append(console, l)
		}
	}
	return out.Bytes(), console
}

// expectedCounts recomputes, straight from the JSONL, every figure the page
// shows with a data-count attribute, keyed "run/name".
func expectedCounts(t *testing.T, run int, path string, highMin float64, want map[string]int64) {
	t.Helper()
	for _, r := range readRecords(t, path) {
		labels := r["labels"].([]any)
		failedAt := map[int]bool{}
		for i, l := range labels {
			if l == nil {
				failedAt[i] = true
			}
		}
		for _, f := range asSlice(r["failed_steps"]) {
			failedAt[int(f.(float64))] = true
		}
		failed := len(failedAt)
		fe := int(r["first_error_step"].(float64))
		correct := r["outcome_correct"].(bool)
		for _, g := range []string{"total", "strategy:" + r["strategy"].(string), "model:" + r["model"].(string)} {
			k := fmt.Sprintf("%d/%s:", run, g)
			want[k+"solutions"]++
			want[k+"steps"] += int64(len(labels))
			want[k+"failed-steps"] += int64(failed)
			want[k+"outcome-correct"] += b2i(correct)
			want[k+"first-error"] += b2i(fe >= 0)
		}
		flagKey := fmt.Sprintf("%d/flag:", run)
		want[flagKey+"failed-steps"] += int64(min(failed, 1))
		after := false
		for i := fe + 1; fe >= 0 && i < len(labels); i++ {
			after = after || labels[i] == true
		}
		want[flagKey+"correct-after-error"] += b2i(after)
		// The min-step score over the steps judged by rollouts: a last step
		// with no rollouts is the outcome itself.
		judged := len(labels)
		if ro := asSlice(r["rollouts"]); len(ro) == judged && ro[judged-1].(float64) == 0 {
			judged--
		}
		m, scored := 1.0, false
		for i := range judged {
			if failedAt[i] {
				continue
			}
			v := b2f(labels[i].(bool))
			if sl, ok := asSlice(r["soft_labels"])[i].(float64); ok {
				v = sl
			}
			m, scored = min(m, v), true
		}
		want[flagKey+"high-min-wrong"] += b2i(scored && m >= highMin && !correct)
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func b2f(b bool) float64 { return float64(b2i(b)) }

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

var (
	countRE  = regexp.MustCompile(`data-count="([^"]+)"(?: data-run="(\d+)")?>([^<]*)<`)
	figureRE = regexp.MustCompile(`<figure ([^>]*)>`)
	attrRE   = regexp.MustCompile(`([a-z-]+)="([^"]*)"`)
	// completionRE reads the completion tokens of shepherd label's summary.
	completionRE = regexp.MustCompile(`, (\d+) completion \+ \d+ prompt tokens`)
)

// TestReportInChromium labels the bundled simulator data with both
// strategies, renders the report of the two runs, and checks the page as
// Chromium loads it: no console message at all, every chart laid out with
// visible marks, and every count equal to the count taken from the JSONL.
func TestReportInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("Debian's chromium is not installed (make deps installs it)")
	}
	dir := t.TempDir()
	runs := []string{filepath.Join(dir, "exhaustive.jsonl"), filepath.Join(dir, "binary.jsonl")}
	var tokens [2]int64 // completion tokens of each run, from its records
	for i, strategy := range []string{"exhaustive", "binary"} {
		code, _, stderr := runShepherd(t, "", "label", "--in", "../../examples/sim-problems.jsonl", "--backend", "sim", "--strategy", strategy, "--progress", "never", "--out", runs[i])
		if code != 0 {
			t.Fatalf("label --strategy %s: exit %d: %s", strategy, code, stderr)
		}
		// The records' completion tokens add up to the summary line's.
		for _, r := range readRecords(t, runs[i]) {
			tokens[i] += int64(r["completion_tokens"].(float64))
		}
		if m := completionRE.FindStringSubmatch(stderr); m == nil || m[1] != strconv.FormatInt(tokens[i], 10) {
			t.Errorf("%s: records sum to %d completion tokens; summary: %s", strategy, tokens[i], stderr)
		}
	}
	page := filepath.Join(dir, "report.html")
	if code, _, stderr := runShepherd(t, "", "report", "--in", runs[0], "--in", runs[1], "--out", page, "--progress", "never"); code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}

	// The console check must be able to fail: a page with a console.error
	// and an uncaught exception shows both.
	bad := writeFile(t, dir, "bad.html", `<!DOCTYPE html><body><script>console.error("control error"); undefinedFunction();</script></body>`)
	if _, console := chromium(t, bin, bad, "--dump-dom"); len(console) != 2 || !strings.Contains(console[0], "control error") || !strings.Contains(console[1], "Uncaught ReferenceError") {
		t.Fatalf("console capture does not see a control page's errors: %q", console)
	}

	dom, console := chromium(t, bin, page, "--dump-dom")
	if len(console) > 0 {
		t.Errorf("the page logged to the console:\n%s", strings.Join(console, "\n"))
	}

	// Every chart: present, drawn, with marks of non-empty size as laid out
	// by the browser (the page's own script measures them with getBBox).
	charts := map[string]int{}
	figures := figureRE.FindAllStringSubmatch(string(dom), -1)
	for _, f := range figures {
		attrs := map[string]string{}
		for _, a := range attrRE.FindAllStringSubmatch(f[1], -1) {
			attrs[a[1]] = a[2]
		}
		id := attrs["data-chart"]
		if id == "" {
			continue
		}
		charts[id]++
		marks, err := strconv.Atoi(attrs["data-visible-marks"])
		if err != nil {
			t.Errorf("chart %s: no data-visible-marks (did the page's script run?): %s", id, f[0])
			continue
		}
		if marks == 0 {
			t.Errorf("chart %s has no visible mark", id)
		}
	}
	for _, id := range []string{"first-error-abs", "first-error-rel", "soft-bands", "soft-hist", "hard-share", "rollouts", "tokens", "min-score-outcome"} {
		if charts[id] != 2 {
			t.Errorf("chart %s appears %d times, want once per run", id, charts[id])
		}
	}
	if charts["compare-first-error-diff"] != 1 {
		t.Errorf("comparison chart appears %d times", charts["compare-first-error-diff"])
	}
	// The token ratio of the two runs, from the records' completion tokens.
	if want := fmt.Sprintf(`data-ratio="tokens">%.3f (`, float64(tokens[1])/float64(tokens[0])); tokens[0] == 0 || !strings.Contains(string(dom), want) {
		t.Errorf("the page does not show the token ratio %d / %d as %q", tokens[1], tokens[0], want)
	}
	if !bytes.Contains(dom, []byte(fmt.Sprintf(`data-charts="%d"`, len(figures)))) {
		t.Errorf("the page's script did not count %d charts", len(figures))
	}

	// The counts on the page, against the counts of the JSONL.
	want := map[string]int64{"/compare:matched": 160, "/compare:only-a": 0, "/compare:only-b": 0}
	for i, r := range runs {
		expectedCounts(t, i, r, 0.8, want)
	}
	ex := readRecords(t, runs[0])
	bi := map[string]float64{}
	for _, r := range readRecords(t, runs[1]) {
		bi[r["solution_id"].(string)] = r["first_error_step"].(float64)
	}
	for _, r := range ex {
		if bi[r["solution_id"].(string)] == r["first_error_step"].(float64) {
			want["/compare:same-first-error"]++
		}
	}
	got := map[string]int64{}
	for _, m := range countRE.FindAllStringSubmatch(string(dom), -1) {
		v, err := strconv.ParseInt(strings.ReplaceAll(m[3], ",", ""), 10, 64)
		if err != nil {
			t.Errorf("count %s is %q", m[1], m[3])
			continue
		}
		got[m[2]+"/"+m[1]] = v
	}
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if g, ok := got[k]; !ok || g != want[k] {
			t.Errorf("%s: page shows %d (present %v), the JSONL has %d", k, g, ok, want[k])
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("page shows a count %s=%d the test does not recompute", k, got[k])
		}
	}
	if want["0/total:solutions"] != 160 || want["0/total:first-error"] == 0 || want["1/flag:high-min-wrong"]+want["0/flag:high-min-wrong"] == 0 {
		t.Errorf("the simulator data should have 160 solutions, first errors and flagged solutions: %v", want)
	}

	shot := filepath.Join(dir, "report.png")
	_, console = chromium(t, bin, page, "--hide-scrollbars", "--window-size=1400,1900", "--screenshot="+shot)
	if len(console) > 0 {
		t.Errorf("the page logged to the console:\n%s", strings.Join(console, "\n"))
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1400 || b.Dy() != 1900 {
		t.Errorf("screenshot is %v", b)
	}
	if *updateScreenshot {
		data, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("../../docs/report.png", data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReportFlagsAndErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.jsonl", "{\"solution_id\":\"a\",\"labels\":[true]}\n{\"solution_id\":\"b\",\"labels\":[true],\"soft_labels\":[2]}\n")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "--in is required"},
		{[]string{"--in", bad, "--high-min-score", "1.5"}, 2, "--high-min-score must be in [0, 1], got 1.5"},
		{[]string{"--in", bad, "--max-listed", "-1"}, 2, "--max-listed must be >= 0"},
		{[]string{"--in", bad, "--progress", "sometimes"}, 2, `--progress must be auto, always or never, got "sometimes"`},
		{[]string{"--in", "-", "--in", "-"}, 2, "stdin) given twice"},
		{[]string{"--in", filepath.Join(dir, "missing.jsonl")}, 1, "--in: open"},
		{[]string{"--in", bad, "--out", filepath.Join(dir, "r.html")}, 1, `bad:2: solution "b": soft_labels[0] is 2, not in [0, 1]`},
	} {
		code, _, stderr := runShepherd(t, "", append([]string{"report"}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("report %v: exit %d, %q; want exit %d with %q", c.args, code, stderr, c.code, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "r.html")); !os.IsNotExist(err) {
		t.Errorf("a failed report left its output: %v", err)
	}
	// stdin in, stdout out.
	code, stdout, stderr := runShepherd(t, `{"solution_id":"a","labels":[true,false],"first_error_step":1,"outcome_correct":false,"strategy":"binary","model":"m"}`, "report", "--in", "-", "--out", "-")
	if code != 0 || !strings.HasPrefix(stdout, "<!DOCTYPE html>") || !strings.Contains(stdout, `data-count="total:first-error" data-run="0">1<`) {
		t.Errorf("stdin to stdout: exit %d, %s, page %.200q", code, stderr, stdout)
	}
}

func TestReportRunsWithTheSameFileName(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for _, d := range []string{"a", "b"} {
		p := filepath.Join(dir, d, "labels.jsonl")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(`{"problem_id":"p","solution_id":"s","labels":[true],"first_error_step":-1,"outcome_correct":true}`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	code, stdout, stderr := runShepherd(t, "", "report", "--in", paths[0], "--in", paths[1], "--out", "-")
	if code != 0 || !strings.Contains(stdout, "Run "+paths[0]) || !strings.Contains(stdout, "Run "+paths[1]) || !strings.Contains(stdout, `data-count="compare:matched">1<`) {
		t.Errorf("exit %d %s; runs not named by their paths", code, stderr)
	}
}
