package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// recordWriter writes one JSON line per record, each in a single write and
// flushed at once, so a record is either wholly in the file or not at all
// (bar a crash inside the write, which --resume repairs).
type recordWriter struct {
	w     io.Writer
	f     *os.File // nil for stdout
	buf   bytes.Buffer
	enc   *json.Encoder
	count int
}

func newRecordWriter(w io.Writer, f *os.File) *recordWriter {
	rw := &recordWriter{w: w, f: f}
	rw.enc = json.NewEncoder(&rw.buf)
	rw.enc.SetEscapeHTML(false)
	return rw
}

// Write encodes v as one line.
func (rw *recordWriter) Write(v any) error {
	rw.buf.Reset()
	if err := rw.enc.Encode(v); err != nil {
		return err
	}
	if _, err := rw.w.Write(rw.buf.Bytes()); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	rw.count++
	return nil
}

// Close syncs and closes an output file.
func (rw *recordWriter) Close() error {
	if rw.f == nil {
		return nil
	}
	if err := rw.f.Sync(); err != nil {
		rw.f.Close()
		return err
	}
	return rw.f.Close()
}

// openOutput opens the output. With resume it reads the solutions already
// labelled, cuts off a torn last line, and appends after them.
func openOutput(e env, path string, resume bool) (*recordWriter, map[solutionKey]bool, error) {
	done := map[solutionKey]bool{}
	if path == "-" || path == "" {
		return newRecordWriter(e.stdout, nil), done, nil
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if resume {
		flags = os.O_CREATE | os.O_RDWR
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("--out: %w", err)
	}
	if resume {
		keep, err := scanDone(f, done)
		if err == nil {
			err = f.Truncate(keep)
		}
		if err == nil {
			_, err = f.Seek(keep, io.SeekStart)
		}
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("--out %s: resuming: %w", path, err)
		}
	}
	return newRecordWriter(f, f), done, nil
}

// scanDone records the solutions of every complete line and returns the
// length of the file up to the end of the last complete, valid line.
func scanDone(r io.Reader, done map[solutionKey]bool) (int64, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var keep int64
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var rec struct {
				ProblemID  string `json:"problem_id"`
				SolutionID string `json:"solution_id"`
			}
			if json.Unmarshal(line, &rec) != nil || rec.SolutionID == "" {
				return keep, nil // a torn or foreign line: cut from here
			}
			done[solutionKey{rec.ProblemID, rec.SolutionID}] = true
			keep += int64(len(line))
		}
		if err == io.EOF {
			return keep, nil
		}
		if err != nil {
			return 0, err
		}
	}
}
