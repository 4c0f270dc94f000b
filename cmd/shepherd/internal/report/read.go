package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
)

// Input is one run: a name shown on the page and its records.
type Input struct {
	Name string
	R    io.Reader
}

// Options tune the report.
type Options struct {
	// HighMinScore flags solutions whose min-step score is at least this
	// high while their outcome is wrong.
	HighMinScore float64
	// MaxListed bounds how many solutions each flag lists (all are counted).
	MaxListed int
	// MaxLineBytes bounds one JSONL line.
	MaxLineBytes int
	// Progress, when set, is called now and then with the bytes read so far.
	Progress func(bytesRead int64)
}

// DefaultOptions are the command's defaults.
var DefaultOptions = Options{HighMinScore: 0.8, MaxListed: 100, MaxLineBytes: 64 << 20}

// Report is the result of reading the inputs.
type Report struct {
	Runs        []*runStats
	Comparisons []*comparison
	opt         Options
}

type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// Build reads every input once, side by side (one line of each in turn, so
// that runs of the same solutions can be compared without holding either
// run in memory), and returns the statistics. Every run after the first is
// compared with the first.
func Build(inputs []Input, opt Options) (*Report, error) {
	if len(inputs) == 0 {
		return nil, errors.New("no input")
	}
	if opt.MaxListed < 0 {
		return nil, fmt.Errorf("MaxListed must be >= 0, got %d", opt.MaxListed)
	}
	if opt.HighMinScore < 0 || opt.HighMinScore > 1 {
		return nil, fmt.Errorf("HighMinScore must be in [0, 1], got %v", opt.HighMinScore)
	}
	if opt.MaxLineBytes <= 0 {
		opt.MaxLineBytes = DefaultOptions.MaxLineBytes
	}
	rep := &Report{opt: opt}
	var read int64
	scanners := make([]*bufio.Scanner, len(inputs))
	lines := make([]int, len(inputs))
	for i, in := range inputs {
		rep.Runs = append(rep.Runs, newRunStats(in.Name, opt.HighMinScore, opt.MaxListed))
		sc := bufio.NewScanner(countingReader{in.R, &read})
		sc.Buffer(make([]byte, min(256<<10, opt.MaxLineBytes)), opt.MaxLineBytes)
		scanners[i] = sc
		if i > 0 {
			rep.Comparisons = append(rep.Comparisons, newComparison(0, i))
		}
	}
	open := len(inputs)
	var lastReport int64
	for open > 0 {
		for i, sc := range scanners {
			if sc == nil {
				continue
			}
			if !sc.Scan() {
				if err := sc.Err(); err != nil {
					if errors.Is(err, bufio.ErrTooLong) {
						return nil, fmt.Errorf("%s:%d: a line is longer than the limit of %d bytes", inputs[i].Name, lines[i]+1, opt.MaxLineBytes)
					}
					return nil, fmt.Errorf("%s: %w", inputs[i].Name, err)
				}
				scanners[i] = nil
				open--
				continue
			}
			lines[i]++
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			if err := rep.addLine(i, line); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", inputs[i].Name, lines[i], err)
			}
		}
		if opt.Progress != nil && read-lastReport >= 1<<20 {
			opt.Progress(read)
			lastReport = read
		}
	}
	if opt.Progress != nil {
		opt.Progress(read)
	}
	for _, c := range rep.Comparisons {
		c.finish()
	}
	return rep, nil
}

func (rep *Report) addLine(run int, line []byte) error {
	var r record
	if err := json.Unmarshal(line, &r); err != nil {
		return fmt.Errorf("not a label record: %w", err)
	}
	states, fe, err := r.normalise()
	if err != nil {
		return fmt.Errorf("solution %q: %w", r.name(), err)
	}
	rep.Runs[run].add(&r, states, fe)
	for _, c := range rep.Comparisons {
		switch run {
		case c.A:
			c.offer(0, r.key(), compact(&r, states, fe))
		case c.B:
			c.offer(1, r.key(), compact(&r, states, fe))
		}
	}
	return nil
}

// RunName is the name of a run read from path: the file name without
// its extension.
func RunName(path string) string {
	if path == "-" {
		return "stdin"
	}
	return strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

// Summary is a one-line account of what was read: solutions and steps per run.
func (rep *Report) Summary() string {
	var parts []string
	for _, s := range rep.Runs {
		parts = append(parts, fmt.Sprintf("%s: %d solutions, %d steps", s.Name, s.Solutions, s.Steps))
	}
	return strings.Join(parts, "; ")
}
