package main

import (
	"os"
	"testing"
)

func TestAtomicFile(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "out.jsonl", "old\n")

	// Aborted: the existing file stays, the temporary one goes.
	f, err := createAtomic(path, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("half\n"); err != nil {
		t.Fatal(err)
	}
	f.Abort()
	f.Abort()
	if b, _ := os.ReadFile(path); string(b) != "old\n" {
		t.Errorf("after abort: %q", b)
	}

	// Committed: the new content is in place with the mode asked for, and a
	// later Abort changes nothing.
	f, err = createAtomic(path, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("new\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	f.Abort()
	if err := f.Commit(); err == nil {
		t.Error("a second Commit succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "new\n" {
		t.Errorf("after commit: %q", b)
	}
	if fi, err := os.Stat(path); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the directory, want 1", len(entries))
	}
}
