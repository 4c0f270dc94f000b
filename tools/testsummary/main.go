// Command testsummary reads `go test -json` on stdin, prints what a plain
// `go test` prints (a line per package; the output of failed tests), then
// counts the skipped tests by reason, so that a run which skipped tests says
// so: reference data tests skip without ../shared/data (or SHEPHERD_DATA).
// It exits 1 when a test or a package failed, or the input had no test.
//
//	go test -json ./... | go run ./tools/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// fileLine is the "file_test.go:12: " prefix of a t.Log or t.Skip line.
var fileLine = regexp.MustCompile(`^\s*\S+\.go:\d+: `)

func main() {
	failed, skips, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
	if len(skips) > 0 {
		reasons := make([]string, 0, len(skips))
		total := 0
		for r, n := range skips {
			reasons = append(reasons, r)
			total += n
		}
		sort.Slice(reasons, func(i, j int) bool {
			return skips[reasons[i]] > skips[reasons[j]] || skips[reasons[i]] == skips[reasons[j]] && reasons[i] < reasons[j]
		})
		fmt.Printf("skipped %d tests:\n", total)
		for _, r := range reasons {
			fmt.Printf("  %4d  %s\n", skips[r], r)
		}
	} else {
		fmt.Println("skipped 0 tests")
	}
	if failed {
		os.Exit(1)
	}
}

// summarize copies the plain output and returns whether anything failed
// and the skipped tests by reason.
func summarize(r io.Reader, w io.Writer) (failed bool, skips map[string]int, err error) {
	skips = map[string]int{}
	outputs := map[string][]string{} // package/test -> output lines
	tests := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintf(w, "%s\n", line) // a build error, printed as is
			continue
		}
		key := e.Package + "/" + e.Test
		switch e.Action {
		case "output":
			if e.Test == "" {
				// Package lines: "ok", "FAIL", "?", build failures; not the
				// PASS/FAIL verdict lines that -v adds.
				if o := strings.TrimRight(e.Output, "\n"); o != "PASS" && o != "FAIL" && !strings.HasPrefix(o, "=== ") {
					fmt.Fprint(w, e.Output)
				}
				continue
			}
			outputs[key] = append(outputs[key], e.Output)
		case "pass":
			if e.Test != "" {
				tests++
			}
			delete(outputs, key)
		case "skip":
			if e.Test != "" {
				tests++
				skips[skipReason(outputs[key])]++
			}
			delete(outputs, key)
		case "fail":
			failed = true
			if e.Test != "" {
				tests++
				for _, o := range outputs[key] {
					fmt.Fprint(w, o)
				}
			} else {
				// The package failed with tests still running (a panic,
				// a timeout): their output holds the stacks.
				printUnfinished(w, outputs, e.Package)
			}
			delete(outputs, key)
		}
	}
	if err := sc.Err(); err != nil {
		return true, skips, err
	}
	if tests == 0 {
		return true, skips, fmt.Errorf("no test ran")
	}
	return failed, skips, nil
}

// printUnfinished prints the output of pkg's tests that never reported an
// end, in name order, and forgets it.
func printUnfinished(w io.Writer, outputs map[string][]string, pkg string) {
	var keys []string
	for k := range outputs {
		if strings.HasPrefix(k, pkg+"/") && k != pkg+"/" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, o := range outputs[k] {
			fmt.Fprint(w, o)
		}
		delete(outputs, k)
	}
}

// skipReason is the message a skipped test gave, with its file:line and the
// name of a missing data file generalised, so that equal reasons group.
func skipReason(lines []string) string {
	reason := "no reason given"
	for _, l := range lines {
		if strings.HasPrefix(l, "=== ") || strings.HasPrefix(strings.TrimSpace(l), "--- SKIP") {
			continue
		}
		if m := fileLine.FindString(l); m != "" {
			reason = strings.TrimSpace(l[len(m):])
		} else if t := strings.TrimSpace(l); t != "" && reason != "no reason given" {
			reason += " " + t // a message of several lines
		}
	}
	if r := []rune(reason); len(r) > 160 {
		reason = string(r[:157]) + "..."
	}
	if strings.HasPrefix(reason, "reference data ") && strings.HasSuffix(reason, " not found") {
		return "reference data not found: ../shared/data beside the checkout, or SHEPHERD_DATA=DIR (README: Reference data)"
	}
	return reason
}
