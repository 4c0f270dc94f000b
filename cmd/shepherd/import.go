package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"strconv"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/dataset"
)

func init() {
	register("import", command{summary: "convert a data set (GSM8K, MATH, ProcessBench, PRM800K, Math-Shepherd) into labeling input", run: runImport})
}

// importFlags are the input format flags of import and label. The
// importers and their decisions are described in labeler/dataset/importers.go.
type importFlags struct {
	format   string
	goldFrom stringList
}

func (m *importFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.format, "in-format", "jsonl", "layout of --in: jsonl (shepherd's labeling input), gsm8k, math (or math500), processbench, prm800k or math-shepherd; a file may be JSONL or one JSON array")
	fs.Var(&m.goldFrom, "gold-from", "JSONL or JSON-array `FILE` of gold answers for rows that carry none, matched by id, then by question; the GSM8K and MATH test files serve as they are (repeatable)")
}

// options parses the input format and loads the gold answers.
func (m *importFlags) options(ctx context.Context) (dataset.InputFormat, dataset.ImportOptions, error) {
	f, err := dataset.ParseInputFormat(m.format)
	if err != nil {
		return "", dataset.ImportOptions{}, usageErrorf("--in-format: %v", err)
	}
	var opt dataset.ImportOptions
	if len(m.goldFrom) > 0 {
		opt.Gold = dataset.NewGoldIndex()
	}
	for _, path := range m.goldFrom {
		if path == "-" || path == "" {
			return "", opt, usageErrorf("--gold-from wants a file")
		}
		r, closeIn, err := openInput(env{}, path)
		if err != nil {
			return "", opt, fmt.Errorf("--gold-from %s: %w", path, err)
		}
		err = readRows(ctx, r, func(row []byte, n int, what string) error {
			if err := opt.Gold.Add(row); err != nil {
				return fmt.Errorf("%s %d: %v", what, n, err)
			}
			return nil
		})
		closeIn()
		if err != nil {
			return "", opt, fmt.Errorf("--gold-from %s: %w", path, err)
		}
	}
	return f, opt, nil
}

// rowID names the problem of the n-th row when the row has no id: "line<n>"
// for shepherd's own input (as label names it), else "<format>-<n>".
func rowID(f dataset.InputFormat, n int) string {
	if f == dataset.InputJSONL {
		return "line" + strconv.Itoa(n)
	}
	return dataset.RowID(f, n)
}

// readRows calls fn with every row of r, a JSONL file or one JSON array,
// and its number: the line number in JSONL (what is "line"), the 1-based
// element number in an array ("element").
func readRows(ctx context.Context, r io.Reader, fn func(row []byte, n int, what string) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	skipped := 0 // lines before the first non-blank byte
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if c == '\n' {
			skipped++
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		if err := br.UnreadByte(); err != nil {
			return err
		}
		if c == '[' {
			return readArray(ctx, br, fn)
		}
		break
	}
	lines := newLineReader(br)
	for {
		line, n, err := lines.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(line, n+skipped, "line"); err != nil {
			return err
		}
	}
}

func readArray(ctx context.Context, r io.Reader, fn func(row []byte, n int, what string) error) error {
	dec := json.NewDecoder(r)
	if _, err := dec.Token(); err != nil {
		return err
	}
	for n := 1; dec.More(); n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("element %d: %v", n, err)
		}
		if len(raw) > maxLineBytes {
			return fmt.Errorf("element %d is longer than the limit of %d bytes", n, maxLineBytes)
		}
		if err := fn(raw, n, "element"); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("the JSON array is not closed: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON array")
	}
	return nil
}

// inputProblem is one problem of label's input and where it came from.
type inputProblem struct {
	labeler.Problem
	where     string // "input line 3", for errors
	defaultID string // the problem's id when it has none
	size      int    // the bytes of its row
}

// problemReader yields label's input problems: the JSONL lines of --in,
// or with --in-format (or --gold-from) the problems the importer makes of
// its rows, handed over as they are.
type problemReader struct {
	lines *lineReader
	rows  func() (dataset.Row, error, bool)
	stop  func()
}

// problems reads label's input problems from in; stop releases the
// importer.
func (m *importFlags) problems(ctx context.Context, in io.Reader) (*problemReader, error) {
	f, opt, err := m.options(ctx)
	if err != nil {
		return nil, err
	}
	if f == dataset.InputJSONL && opt.Gold == nil {
		return &problemReader{lines: newLineReader(in), stop: func() {}}, nil
	}
	rows := func(fn func(row []byte, n int, what string) error) error { return readRows(ctx, in, fn) }
	next, stop := iter.Pull2(dataset.Problems(f, opt, rows, func(n int) string { return rowID(f, n) }))
	return &problemReader{rows: next, stop: stop}, nil
}

// next returns the next problem; io.EOF at the end of the input.
func (r *problemReader) next() (inputProblem, error) {
	if r.rows != nil {
		row, err, ok := r.rows()
		switch {
		case !ok:
			return inputProblem{}, io.EOF
		case err != nil:
			return inputProblem{}, err
		}
		return inputProblem{Problem: row.Problem, where: "input " + row.What + " " + strconv.Itoa(row.N), defaultID: row.Problem.ID, size: row.Size}, nil
	}
	line, n, err := r.lines.next()
	if err != nil {
		return inputProblem{}, err
	}
	p := inputProblem{where: "input line " + strconv.Itoa(n), defaultID: "line" + strconv.Itoa(n), size: len(line)}
	if err := json.Unmarshal(line, &p.Problem); err != nil {
		return inputProblem{}, fmt.Errorf("%s: %v", p.where, err)
	}
	return p, nil
}

func runImport(ctx context.Context, e env, args []string) error {
	c, err := parseImportFlags(e, args)
	if err != nil {
		return err
	}
	f, opt, err := c.m.options(ctx)
	if err != nil {
		return err
	}
	r, w, commit, done, err := convertFiles(e, c.in, c.out)
	if err != nil {
		return err
	}
	defer done()
	n, err := c.importRows(ctx, r, w, f, opt)
	if err != nil {
		return fmt.Errorf("--in: %w", err)
	}
	if err := commit(); err != nil {
		return err
	}
	dest := c.out
	if dest == "-" || dest == "" {
		dest = "stdout"
	}
	why := ""
	if n.firstSkip != nil {
		why = fmt.Sprintf(" (the first: %v)", n.firstSkip)
	}
	fmt.Fprintf(e.stderr, "imported %d of %d %s rows, %d left out as unusable%s; problems in %s\n", w.count, n.rows, f, n.skipped, why, dest)
	return nil
}

// importCmd is import's flags.
type importCmd struct {
	m       importFlags
	in, out string
	skip    bool // --skip-bad
}

func parseImportFlags(e env, args []string) (*importCmd, error) {
	c := &importCmd{}
	in, out, skip := &c.in, &c.out, &c.skip
	fs := newFlagSet(e, "import", "--in-format gsm8k|math|processbench|prm800k|math-shepherd --in FILE [--gold-from FILE] [--out FILE] [--skip-bad]")
	fs.StringVar(in, "in", "-", "data set file, JSONL or one JSON array ('-' is stdin)")
	fs.StringVar(out, "out", "-", "labeling input JSONL for shepherd label ('-' is stdout), written whole or not at all")
	c.m.register(fs)
	fs.BoolVar(skip, "skip-bad", false, "leave out rows that cannot be used (no gold answer, no solution) instead of failing (the count is reported)")
	fs.BoolVar(skip, "skip-unusable", false, "the former name of --skip-bad")
	hideFlag(fs, "skip-unusable")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	return c, nil
}

// importCounts are the rows import read and left out.
type importCounts struct {
	rows, skipped int
	firstSkip     error // why the first row left out was
}

// importRows converts each row of r into a problem written to w, checked
// as label checks it (any number of steps).
func (c *importCmd) importRows(ctx context.Context, r io.Reader, w *recordWriter, f dataset.InputFormat, opt dataset.ImportOptions) (importCounts, error) {
	var n importCounts
	check := labeler.InputLimits{SplitOptions: labeler.SplitOptions{MaxSteps: 1 << 20}}
	err := readRows(ctx, r, func(row []byte, i int, what string) error {
		n.rows++
		im, err := dataset.Import(f, row, rowID(f, i), opt)
		if c.skip && errors.Is(err, dataset.ErrUnusable) {
			n.skipped++
			if n.firstSkip == nil {
				n.firstSkip = err
			}
			return nil
		}
		if err == nil {
			_, err = im.Problem.Prepare(rowID(f, i), check)
		}
		if errors.Is(err, dataset.ErrUnusable) {
			return fmt.Errorf("%s %d: %w (--skip-bad leaves such rows out)", what, i, err)
		}
		if err != nil {
			return fmt.Errorf("%s %d: %w", what, i, err)
		}
		return w.Write(im.Problem)
	})
	return n, err
}
