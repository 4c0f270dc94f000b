package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shepherd-prm/shepherd/rollout"
)

func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{errors.New("disk full"), exitError},
		{usageErrorf("--n must be at least 1"), exitUsage},
		{partialError{"partial result"}, exitPartial},
		{fmt.Errorf("probe: %w", rollout.ErrNoUsableBackend), exitNoBackend},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// TestFailureTally: distinct messages once each with their counts, most
// frequent first; a delivery count does not make a message distinct.
func TestFailureTally(t *testing.T) {
	var f failureTally
	for range 3 {
		f.add("backend b: 400 Bad Request: too long")
	}
	f.add("gave up after 8 deliveries: backend b: 500 Internal Server Error")
	f.add("gave up after 2 deliveries: backend b: 500 Internal Server Error")
	var b strings.Builder
	f.print(&b, "tasks")
	want := "5 tasks failed:\n  3× backend b: 400 Bad Request: too long\n  2× backend b: 500 Internal Server Error\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	var none failureTally
	b.Reset()
	if none.print(&b, "tasks"); b.Len() != 0 {
		t.Errorf("an empty tally printed %q", b.String())
	}
}
