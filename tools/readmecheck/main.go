// Command readmecheck runs the shell commands of README.md as a newcomer
// would, in order, and fails when one exits non-zero.
//
// The commands are the lines of ```sh (bash, shell) blocks, with "\"
// continuations joined, and the "$ "-prefixed lines of any other block. It
// skips, saying why:
//
//   - a block right after a line <!-- readme-check: skip REASON -->;
//   - commands that need a GPU, Docker or a server that is not there
//     (skipRules below: vllm, docker, deepspeed, redis-server, serve and
//     worker, --server, a --backend or --prm URL, …);
//   - commands that read the reference data when it is not found (in CI,
//     with CI set, that fails instead).
//
// They run in a scratch directory holding links to the checkout's files, so
// their outputs (labels.jsonl, …) stay out of the checkout, with `shepherd`
// built from the checkout on PATH, GOBIN in the scratch directory and
// SHEPHERD_DATA set to the reference data.
//
//	go run ./tools/readmecheck [README.md]
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// command is one shell command of the README.
type command struct {
	line int    // where it starts
	text string // continuations joined
	skip string // why it is not run; "" to run it
}

var (
	fence      = regexp.MustCompile("^\\s*```+\\s*([\\w-]*)")
	skipMarker = regexp.MustCompile(`<!--\s*readme-check:\s*skip\s*(.*?)\s*-->`)
)

// skipRules say which commands cannot run on a machine without a GPU,
// Docker or services: the first rule whose pattern matches a command names
// the reason.
var skipRules = []struct {
	re     *regexp.Regexp
	reason string
}{
	{regexp.MustCompile(`^\s*make\s+test\b`), "the test suite itself"},
	{regexp.MustCompile(`^\s*(vllm|deepspeed|nvidia-smi)\b|python3? -m (sglang|vllm)`), "needs a GPU"},
	{regexp.MustCompile(`^\s*docker\b`), "needs Docker"},
	{regexp.MustCompile(`^\s*redis-server\b|\bshepherd\s+(serve|worker)\b|\bshepherd sim\s+--listen`), "starts a long-running server"},
	{regexp.MustCompile(`--server\b|--(backend|prm)[ =]https?://|\bgrpcurl\b|https?://(gpu|localhost)`), "needs a running server"},
	{regexp.MustCompile(`^\s*(apt-get|apt|pip|sudo)\b`), "installs system packages"},
}

// parse returns the commands of a README.
func parse(r io.Reader) ([]command, error) {
	var out []command
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var (
		n, start  int
		inBlock   bool
		shell     bool
		blockSkip string
		prev      string // the last non-blank line outside blocks
		pending   strings.Builder
	)
	flush := func() {
		if pending.Len() == 0 {
			return
		}
		out = append(out, command{line: start, text: pending.String(), skip: blockSkip})
		pending.Reset()
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		if m := fence.FindStringSubmatch(line); m != nil {
			if !inBlock {
				inBlock = true
				lang := strings.ToLower(m[1])
				shell = lang == "sh" || lang == "bash" || lang == "shell"
				blockSkip = ""
				if sm := skipMarker.FindStringSubmatch(prev); sm != nil {
					blockSkip = "marked: " + strings.TrimSpace(sm[1])
				}
			} else {
				flush()
				inBlock = false
				prev = "" // a marker applies to the next block only
			}
			continue
		}
		if !inBlock {
			if strings.TrimSpace(line) != "" {
				prev = line
			}
			continue
		}
		text := line
		if !shell {
			t := strings.TrimSpace(line)
			if pending.Len() == 0 {
				if !strings.HasPrefix(t, "$ ") {
					continue
				}
				text = strings.TrimPrefix(t, "$ ")
			}
		}
		if pending.Len() == 0 {
			if t := strings.TrimSpace(text); t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			start = n
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(text, " \t"), "\\"); ok {
			pending.WriteString(body)
			pending.WriteString(" ")
			continue
		}
		pending.WriteString(text)
		flush()
	}
	if inBlock {
		return nil, fmt.Errorf("line %d: a code block is not closed", start)
	}
	return out, sc.Err()
}

// classify sets the skip reason of commands matched by skipRules, or that
// read the reference data when dataDir is "".
func classify(cmds []command, dataDir string) {
	for i := range cmds {
		c := &cmds[i]
		if c.skip != "" {
			continue
		}
		for _, r := range skipRules {
			if r.re.MatchString(c.text) {
				c.skip = r.reason
				break
			}
		}
		if c.skip == "" && dataDir == "" && (strings.Contains(c.text, "SHEPHERD_DATA") || strings.Contains(c.text, "shared/data")) {
			c.skip = "reference data not found"
		}
	}
}

func main() {
	readme := "README.md"
	if len(os.Args) > 1 {
		readme = os.Args[1]
	}
	if err := run(readme, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "readmecheck:", err)
		os.Exit(1)
	}
}

func run(readme string, w io.Writer) error {
	root, err := filepath.Abs(filepath.Dir(readme))
	if err != nil {
		return err
	}
	f, err := os.Open(readme)
	if err != nil {
		return err
	}
	cmds, err := parse(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", readme, err)
	}
	dataDir := findData(root)
	classify(cmds, dataDir)
	if dataDir == "" && os.Getenv("CI") != "" {
		for _, c := range cmds {
			if c.skip == "reference data not found" {
				return fmt.Errorf("%s:%d needs the reference data, which is not found (CI is set): %s", readme, c.line, c.text)
			}
		}
	}

	scratch, err := os.MkdirTemp("", "readmecheck-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	if err := linkCheckout(root, scratch); err != nil {
		return err
	}
	bin := filepath.Join(scratch, ".readmecheck", "bin")
	gobin := filepath.Join(scratch, ".readmecheck", "gobin")
	if _, err := os.Stat(filepath.Join(root, "cmd", "shepherd")); err == nil {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, "shepherd"), "./cmd/shepherd")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/shepherd: %v\n%s", err, out)
		}
	}
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+gobin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GOBIN="+gobin, "SHEPHERD_DATA="+dataDir)

	ran, failed := 0, 0
	skipped := map[string]int{}
	for _, c := range cmds {
		if c.skip != "" {
			skipped[c.skip]++
			fmt.Fprintf(w, "skip %s:%d (%s): %s\n", filepath.Base(readme), c.line, c.skip, c.text)
			continue
		}
		ran++
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", c.text)
		cmd.Dir, cmd.Env, cmd.Stdin = scratch, env, nil
		began := time.Now()
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			failed++
			fmt.Fprintf(w, "FAIL %s:%d: %s\n  %v; its output:\n%s\n", filepath.Base(readme), c.line, c.text, err, indent(tail(string(out), 40)))
			continue
		}
		fmt.Fprintf(w, "ok   %s:%d (%.1fs): %s\n", filepath.Base(readme), c.line, time.Since(began).Seconds(), c.text)
	}
	var reasons []string
	for r, n := range skipped {
		reasons = append(reasons, fmt.Sprintf("%d %s", n, r))
	}
	sort.Strings(reasons)
	fmt.Fprintf(w, "README commands skipped: %s\n", strings.Join(reasons, "; "))
	fmt.Fprintf(w, "readme: %d passed, %d failed, %d skipped\n", ran-failed, failed, len(cmds)-ran)
	switch {
	case failed > 0:
		return fmt.Errorf("%d README commands failed", failed)
	case ran == 0:
		return fmt.Errorf("no README command ran")
	}
	return nil
}

// findData returns the reference data folder: $SHEPHERD_DATA, or the first
// shared/data found going up from the checkout; "" if there is none.
func findData(root string) string {
	if d := os.Getenv("SHEPHERD_DATA"); d != "" {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			abs, _ := filepath.Abs(d)
			return abs
		}
		return ""
	}
	for d := root; ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "shared", "data")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// linkCheckout fills dir with symbolic links to the checkout's top-level
// entries (outputs that the README's commands write are left out), so the
// commands see the checkout's files but write beside them.
func linkCheckout(root, dir string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if name == ".git" || name == "bin" || strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".parquet") {
			continue
		}
		if err := os.Symlink(filepath.Join(root, name), filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }
