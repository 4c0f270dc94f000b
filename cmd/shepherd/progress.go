package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/shepherd-prm/shepherd/rollout"
)

// progress shows a bar of labelled solutions with rollout and token rates
// on stderr, when stderr is a terminal (or --progress always).
type progress struct {
	bar   *progressbar.ProgressBar
	start time.Time
}

func newProgress(e env, mode, inPath string) *progress {
	f, isFile := e.stderr.(*os.File)
	show := mode == "always" || (mode == "auto" && isFile && term.IsTerminal(int(f.Fd())))
	if !show {
		return &progress{}
	}
	total := countSolutions(inPath)
	bar := progressbar.NewOptions64(int64(total),
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription("labelling"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("solutions"),
		progressbar.OptionShowIts(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return &progress{bar: bar, start: time.Now()}
}

func (p *progress) update(s rollout.JobStats) {
	if p.bar == nil {
		return
	}
	secs := max(time.Since(p.start).Seconds(), 1e-3)
	p.bar.Describe(fmt.Sprintf("%.0f rollouts/s, %.0f tokens/s", float64(s.Samples)/secs, float64(s.CompletionTokens)/secs))
	_ = p.bar.Set(s.Solutions)
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// countSolutions counts the solutions of an input file for the bar's ETA;
// -1 (an open-ended bar) when the input is not a readable file.
func countSolutions(path string) int {
	if path == "-" || path == "" {
		return -1
	}
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	total := 0
	for sc.Scan() {
		var p struct {
			Solutions []json.RawMessage `json:"solutions"`
		}
		if json.Unmarshal(sc.Bytes(), &p) == nil {
			total += len(p.Solutions)
		}
	}
	return total
}
