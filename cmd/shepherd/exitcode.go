package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/shepherd-prm/shepherd/rollout"
)

// Exit statuses of every command, so scripts can tell a typo from a
// partial result from a backend that cannot serve.
const (
	exitOK        = 0
	exitError     = 1 // the command failed (bad input, I/O, a server error)
	exitUsage     = 2 // the command line is wrong; nothing was done
	exitPartial   = 3 // the command ran to the end, but some of its work failed: the output is partial
	exitNoBackend = 4 // no inference backend can serve the model (not served, key refused, unreachable)
)

// partialError marks a run that finished with part of its work failed.
type partialError struct{ msg string }

func (p partialError) Error() string { return p.msg }

func exitCode(err error) int {
	var u usageError
	var p partialError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &u):
		return exitUsage
	case errors.Is(err, rollout.ErrNoUsableBackend):
		return exitNoBackend
	case errors.As(err, &p):
		return exitPartial
	}
	return exitError
}

// failureTally counts failures by message, so a run that failed 3,000
// tasks for one reason says so once, with the count.
type failureTally struct {
	mu    sync.Mutex
	count map[string]int
	total int
}

// add counts one failure. The "gave up after N deliveries: " prefix is
// cut so that failures differing only in their delivery count group.
func (f *failureTally) add(msg string) {
	if _, rest, ok := strings.Cut(msg, " deliveries: "); ok && strings.HasPrefix(msg, "gave up after ") {
		msg = rest
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.count == nil {
		f.count = map[string]int{}
	}
	f.count[msg]++
	f.total++
}

// maxListed bounds the distinct messages printed.
const maxListed = 10

// print writes the distinct messages, most frequent first.
func (f *failureTally) print(w io.Writer, what string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.total == 0 {
		return
	}
	msgs := make([]string, 0, len(f.count))
	for m := range f.count {
		msgs = append(msgs, m)
	}
	sort.Slice(msgs, func(i, j int) bool {
		if f.count[msgs[i]] != f.count[msgs[j]] {
			return f.count[msgs[i]] > f.count[msgs[j]]
		}
		return msgs[i] < msgs[j]
	})
	fmt.Fprintf(w, "%d %s failed:\n", f.total, what)
	for i, m := range msgs {
		if i == maxListed {
			fmt.Fprintf(w, "  … and %d other messages\n", len(msgs)-maxListed)
			break
		}
		fmt.Fprintf(w, "  %d× %s\n", f.count[m], m)
	}
}
