package dataset

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
)

// MaxRowBytes bounds one row of a data set file: a JSONL line or an
// element of a JSON array.
const MaxRowBytes = 64 << 20

// Row is one data set row converted to labeling input, with its place in
// the file.
type Row struct {
	Imported
	N    int    // the line number in JSONL, the 1-based element number in an array
	What string // "line" or "element"
	Size int    // the row's bytes
}

// Problems yields every row of a data set file r (see ReadRows) converted
// by the importer of format f as labeling input, handed over as it is;
// defaultID names the problem of the n-th row when the row has none. The
// first error, naming its row, ends it.
func Problems(ctx context.Context, r io.Reader, f InputFormat, opt ImportOptions, defaultID func(n int) string) iter.Seq2[Row, error] {
	return func(yield func(Row, error) bool) {
		stopped := errors.New("stopped")
		err := ReadRows(ctx, r, func(row []byte, n int, what string) error {
			im, err := Import(f, row, defaultID(n), opt)
			if err != nil {
				return fmt.Errorf("%s %d: %w", what, n, err)
			}
			if !yield(Row{Imported: im, N: n, What: what, Size: len(row)}, nil) {
				return stopped
			}
			return nil
		})
		if err != nil && err != stopped {
			yield(Row{}, err)
		}
	}
}

// ReadRows calls fn with every row of r, a JSONL file or one JSON array,
// and its number: the line number in JSONL (what is "line"), the 1-based
// element number in an array ("element"). Blank lines are passed over.
func ReadRows(ctx context.Context, r io.Reader, fn func(row []byte, n int, what string) error) error {
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
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64<<10), MaxRowBytes)
	n := skipped
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(bytes.Trim(line, " \t\r")) == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(line, n, "line"); err != nil {
			return err
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return fmt.Errorf("input line %d is longer than the limit of %d bytes", n+1, MaxRowBytes)
	}
	return sc.Err()
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
		if len(raw) > MaxRowBytes {
			return fmt.Errorf("element %d is longer than the limit of %d bytes", n, MaxRowBytes)
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
