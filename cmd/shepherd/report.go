package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/shepherd-prm/shepherd/cmd/shepherd/internal/report"
)

func init() {
	register("report", command{summary: "render label records as one self-contained HTML page: counts, charts, label-consistency flags, run comparisons", run: runReport})
}

func runReport(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "report", "--in labels.jsonl [--in more.jsonl] --out report.html")
	var ins stringList
	fs.Var(&ins, "in", "label records (JSONL of shepherd label; - for stdin); repeat to compare runs of the same solutions, each against the first")
	out := fs.String("out", "report.html", "the HTML page to write (- for stdout)")
	highMin := fs.Float64("high-min-score", report.DefaultOptions.HighMinScore, "flag solutions whose min-step score is at least this high while their outcome is wrong")
	maxListed := fs.Int("max-listed", report.DefaultOptions.MaxListed, "list at most this many solutions per flag (all are counted)")
	progressMode := fs.String("progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), always or never")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case len(ins) == 0:
		return usageErrorf("--in is required")
	case *highMin < 0 || *highMin > 1:
		return usageErrorf("--high-min-score must be in [0, 1], got %v", *highMin)
	case *maxListed < 0:
		return usageErrorf("--max-listed must be >= 0, got %d", *maxListed)
	case *progressMode != "auto" && *progressMode != "always" && *progressMode != "never":
		return usageErrorf("--progress must be auto, always or never, got %q", *progressMode)
	}

	inputs, total, closeInputs, err := openReportInputs(e, ins)
	if err != nil {
		return err
	}
	defer closeInputs()
	opt := report.DefaultOptions
	opt.HighMinScore, opt.MaxListed = *highMin, *maxListed
	bar := newByteProgress(e, *progressMode, total)
	if bar != nil {
		opt.Progress = func(n int64) { _ = bar.Set64(n) }
	}
	rep, err := report.Build(inputs, opt)
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return writeReport(e, *out, rep)
}

// openReportInputs opens the --in files (and stdin for -), each named as
// its run, and adds up their sizes (-1 with stdin: unknown).
func openReportInputs(e env, ins []string) ([]report.Input, int64, func(), error) {
	var closers []func() error
	closeAll := func() {
		for _, c := range closers {
			_ = c()
		}
	}
	var inputs []report.Input
	var total int64
	stdinUsed := false
	seen := map[string]int{}
	for _, p := range ins {
		seen[report.RunName(p)]++
	}
	// A run is named by its file name, or by its path when two files share
	// a name (a/labels.jsonl and b/labels.jsonl).
	name := func(p string) string {
		if seen[report.RunName(p)] > 1 {
			return p
		}
		return report.RunName(p)
	}
	for _, p := range ins {
		if p == "-" {
			if stdinUsed {
				closeAll()
				return nil, 0, nil, usageErrorf("--in - (stdin) given twice")
			}
			stdinUsed = true
			inputs = append(inputs, report.Input{Name: report.RunName(p), R: e.stdin})
			total = -1
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			closeAll()
			return nil, 0, nil, fmt.Errorf("--in: %w", err)
		}
		closers = append(closers, f.Close)
		if st, err := f.Stat(); err == nil && total >= 0 {
			total += st.Size()
		}
		inputs = append(inputs, report.Input{Name: name(p), R: f})
	}
	return inputs, total, closeAll, nil
}

// writeReport renders rep to out ('-': stdout); a file is put in place
// only once whole.
func writeReport(e env, out string, rep *report.Report) error {
	var w io.Writer = e.stdout
	commit, abort := func() error { return nil }, func() {}
	if out != "-" {
		f, err := createAtomic(out, 0o644)
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		w, commit, abort = f, f.Commit, f.Abort
	}
	defer abort()
	if err := rep.Render(w); err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	if err := commit(); err != nil {
		return fmt.Errorf("--out %s: %w", out, err)
	}
	if out != "-" {
		fmt.Fprintf(e.stderr, "report of %s in %s\n", rep.Summary(), out)
	}
	return nil
}

// newByteProgress is the progress bar of label (progress.go) counting the
// bytes read instead of solutions: nil when it is not shown. total is -1
// when unknown (stdin).
func newByteProgress(e env, mode string, total int64) *progressbar.ProgressBar {
	f, isFile := e.stderr.(*os.File)
	if !(mode == "always" || (mode == "auto" && isFile && term.IsTerminal(int(f.Fd())))) {
		return nil
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription("reading records"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}
