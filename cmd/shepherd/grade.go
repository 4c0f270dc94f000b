package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
)

func init() {
	register("grade", command{summary: "grade final answers of responses against gold answers (JSONL in, JSONL out)", run: runGrade})
}

// gradeMaxLine is the longest input line grade accepts.
const gradeMaxLine = 16 << 20

// gradeInput is one input line: {"answer": <gold>, "response": <text>}.
type gradeInput struct {
	Answer   json.RawMessage `json:"answer"`
	Response json.RawMessage `json:"response"`
}

// gradeOutput is one output line. Extracted is null when the response has
// no final answer.
type gradeOutput struct {
	Extracted *string `json:"extracted"`
	Correct   bool    `json:"correct"`
}

// gradeJob is one input line, decoded.
type gradeJob struct{ gold, response string }

// gradeResult is an encoded output line and its verdict.
type gradeResult struct {
	line           []byte
	found, correct bool
}

func runGrade(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "grade", "[--in FILE] [--out FILE] [--skip-bad]")
	in := fs.String("in", "-", `input JSONL, one {"answer": gold, "response": text} per line ('-' is stdin)`)
	out := fs.String("out", "-", `output JSONL, one {"extracted": answer or null, "correct": bool} per input line, in order ('-' is stdout)`)
	skipBad := fs.Bool("skip-bad", false, "report malformed input lines on stderr and skip them instead of stopping")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "responses graded in parallel")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *workers < 1 {
		return usageErrorf("--workers must be at least 1, got %d", *workers)
	}

	r, closeIn, err := openInput(e, *in)
	if err != nil {
		return err
	}
	defer closeIn()
	w, commit, abort, err := createBufferedOutput(e, *out)
	if err != nil {
		return err
	}
	defer abort()
	st, err := gradeStream(ctx, e, r, w, *skipBad, *workers)
	if err == nil {
		err = commit()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "graded %d responses: %d correct, %d without a final answer, %d bad lines skipped\n",
		st.graded, st.correct, st.notFound, st.skipped)
	return nil
}

type gradeStats struct{ graded, correct, notFound, skipped int }

// gradeStream grades every line of r and writes the results to w in input
// order. Parsing is sequential (errors are found in order), grading runs
// on workers goroutines, and a bounded queue of pending results keeps
// memory bounded.
func gradeStream(ctx context.Context, e env, r io.Reader, w io.Writer, skipBad bool, workers int) (gradeStats, error) {
	var st gradeStats
	grader := grade.New(grade.Options{})
	lr := gradeLineReader{r: bufio.NewReaderSize(r, 64<<10)}
	next := func() (gradeJob, error) {
		for {
			line, n, err := lr.next()
			if err == io.EOF {
				return gradeJob{}, err
			}
			var job gradeJob
			if err == nil {
				if job.gold, job.response, err = parseGradeLine(line); err == nil {
					return job, nil
				}
			}
			err = fmt.Errorf("input line %d: %w", n, err)
			if errors.Is(err, errGradeRead) || !skipBad {
				return gradeJob{}, err
			}
			fmt.Fprintf(e.stderr, "shepherd grade: skipping %v\n", err)
			st.skipped++
		}
	}
	work := func(_ context.Context, j gradeJob) gradeResult { return gradeOne(grader, j.gold, j.response) }
	err := inOrder(ctx, 4*workers, workers, next, work, func(_ gradeJob, res gradeResult) error {
		st.graded++
		if !res.found {
			st.notFound++
		}
		if res.correct {
			st.correct++
		}
		if _, err := w.Write(res.line); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
		return nil
	})
	return st, err
}

func gradeOne(g *grade.Grader, gold, response string) gradeResult {
	v := g.Grade(labeler.GoldAnswer(gold), response)
	o := gradeOutput{Correct: v.Correct}
	if v.Found {
		o.Extracted = &v.Answer
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(o); err != nil {
		// A Go string always encodes; keep one line per input anyway.
		return gradeResult{line: []byte(`{"extracted":null,"correct":false}` + "\n")}
	}
	return gradeResult{line: buf.Bytes(), found: v.Found, correct: v.Correct}
}

// parseGradeLine decodes one input line, naming the field that is wrong.
func parseGradeLine(line []byte) (gold, response string, err error) {
	var in gradeInput
	if err := json.Unmarshal(line, &in); err != nil {
		return "", "", fmt.Errorf("bad JSON: %v", err)
	}
	if gold, err = gradeStringField("answer", in.Answer); err != nil {
		return "", "", err
	}
	if response, err = gradeStringField("response", in.Response); err != nil {
		return "", "", err
	}
	return gold, response, nil
}

func gradeStringField(name string, raw json.RawMessage) (string, error) {
	if raw == nil {
		return "", fmt.Errorf("field %q is missing", name)
	}
	var s string
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("field %q must be a string, got %.40s", name, raw)
	}
	return s, nil
}

// errGradeRead marks input errors that cannot be skipped.
var errGradeRead = errors.New("reading input")

// gradeLineReader yields the non-blank lines of its input with their
// 1-based numbers. A line longer than gradeMaxLine is consumed and
// reported as an error, so --skip-bad can go on after it.
type gradeLineReader struct {
	r   *bufio.Reader
	n   int
	buf []byte
}

func (l *gradeLineReader) next() ([]byte, int, error) {
	for {
		l.buf = l.buf[:0]
		tooLong, eof := false, false
		for {
			chunk, err := l.r.ReadSlice('\n')
			if !tooLong {
				if len(l.buf)+len(chunk) > gradeMaxLine+1 { // +1: the newline
					tooLong = true
					l.buf = l.buf[:0]
				} else {
					l.buf = append(l.buf, chunk...)
				}
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				eof = true
			} else if err != nil {
				return nil, l.n + 1, fmt.Errorf("%w: %v", errGradeRead, err)
			}
			break
		}
		if eof && len(l.buf) == 0 && !tooLong {
			return nil, l.n, io.EOF
		}
		l.n++
		if tooLong {
			return nil, l.n, fmt.Errorf("line is longer than the limit of %d bytes (16 MiB)", gradeMaxLine)
		}
		if line := bytes.TrimSpace(l.buf); len(line) > 0 {
			return line, l.n, nil
		}
		if eof {
			return nil, l.n, io.EOF
		}
	}
}
