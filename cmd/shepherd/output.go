package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	abort func() // drops an uncommitted temporary file on Close
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

// Close syncs and closes an output file; a temporary file not committed
// by then is dropped.
func (rw *recordWriter) Close() error {
	if rw.abort != nil {
		rw.abort()
	}
	if rw.f == nil {
		return nil
	}
	if err := rw.f.Sync(); err != nil {
		rw.f.Close()
		return err
	}
	return rw.f.Close()
}

// atomicFile is an output file written whole or not at all: it is written
// under a temporary name beside its path, and Commit renames it into place,
// so a failed run leaves neither a half-written file nor a changed one.
type atomicFile struct {
	*os.File
	path string
	perm os.FileMode
	done bool
}

// createAtomic creates the temporary file of path; Commit gives it perm.
func createAtomic(path string, perm os.FileMode) (*atomicFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &atomicFile{File: f, path: path, perm: perm}, nil
}

// Commit syncs and closes the file and renames it to its path; on an error
// the temporary file is removed.
func (a *atomicFile) Commit() error {
	if a.done {
		return errors.New("output already committed or aborted")
	}
	a.done = true
	err := a.Chmod(a.perm)
	if err == nil {
		err = a.Sync()
	}
	if cerr := a.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(a.Name(), a.path)
	}
	if err != nil {
		os.Remove(a.Name())
	}
	return err
}

// Abort closes and removes the temporary file unless Commit ran; it may be
// called again.
func (a *atomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.Close()
	os.Remove(a.Name())
}

// createOutput opens path for writing records whole with createAtomic:
// commit puts the file in place, abort (a no-op after commit) drops it.
// "-" is stdout, where records go out as they are written.
func createOutput(e env, path string) (w *recordWriter, commit func() error, abort func(), err error) {
	if path == "-" || path == "" {
		return newRecordWriter(e.stdout, nil), func() error { return nil }, func() {}, nil
	}
	f, err := createAtomic(path, 0o644)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--out: %w", err)
	}
	commit = func() error {
		if err := f.Commit(); err != nil {
			return fmt.Errorf("--out %s: %w", path, err)
		}
		return nil
	}
	return newRecordWriter(f, nil), commit, f.Abort, nil
}

// convertFiles opens a conversion's --in and --out (see openInput and
// createOutput); done closes the input and drops an output not committed.
func convertFiles(e env, in, out string) (r io.Reader, w *recordWriter, commit func() error, done func(), err error) {
	r, closeIn, err := openInput(e, in)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	w, commit, abort, err := createOutput(e, out)
	if err != nil {
		closeIn()
		return nil, nil, nil, nil, err
	}
	return r, w, commit, func() { abort(); closeIn() }, nil
}

// createBufferedOutput is createOutput for a buffered writer: commit
// flushes it and puts the file in place, abort (a no-op after commit)
// drops the file. The file stays private to its owner (mode 0600). "-" is
// stdout, which commit and abort both flush.
func createBufferedOutput(e env, path string) (w *bufio.Writer, commit func() error, abort func(), err error) {
	if path == "-" || path == "" {
		w = bufio.NewWriterSize(e.stdout, 64<<10)
		return w, w.Flush, func() { w.Flush() }, nil
	}
	f, err := createAtomic(path, 0o600)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--out: %w", err)
	}
	w = bufio.NewWriterSize(f, 64<<10)
	commit = func() error {
		err := w.Flush()
		if err == nil {
			err = f.Commit()
		} else {
			f.Abort()
		}
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		return nil
	}
	return w, commit, f.Abort, nil
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

// outputName is how a summary line names --out: "stdout" for '-'.
func outputName(path string) string {
	if path == "-" || path == "" {
		return "stdout"
	}
	return path
}
