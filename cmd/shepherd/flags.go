package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/peterbourgon/ff/v3"
)

// newFlagSet returns a flag set whose errors and usage go to the command's
// stderr instead of exiting the process.
func newFlagSet(e env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("shepherd "+name, flag.ContinueOnError)
	// The flag package prints a parse error before the usage; the command
	// reports the same error on return, so the flag set itself stays quiet
	// and an error is printed once, after the usage.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: shepherd %s %s\n\nflags (also read from SHEPHERD_<FLAG> environment variables):\n", name, synopsis)
		shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
		fs.VisitAll(func(f *flag.Flag) {
			if !isHidden(fs, f.Name) {
				shown.Var(f.Value, f.Name, f.Usage)
				shown.Lookup(f.Name).DefValue = f.DefValue
			}
		})
		shown.SetOutput(e.stderr)
		shown.PrintDefaults()
	}
	return fs
}

// hidden holds the flags left out of a flag set's usage: old names kept as
// aliases (import --skip-unusable for --skip-bad).
var (
	hiddenMu sync.Mutex
	hidden   = map[*flag.FlagSet]map[string]bool{}
)

// hideFlag leaves the flag name out of fs's usage; it still parses.
func hideFlag(fs *flag.FlagSet, name string) {
	hiddenMu.Lock()
	defer hiddenMu.Unlock()
	if hidden[fs] == nil {
		hidden[fs] = map[string]bool{}
	}
	hidden[fs][name] = true
}

func isHidden(fs *flag.FlagSet, name string) bool {
	hiddenMu.Lock()
	defer hiddenMu.Unlock()
	return hidden[fs][name]
}

// parseFlags parses args, then fills unset flags from SHEPHERD_* environment
// variables (--max-tokens from SHEPHERD_MAX_TOKENS), then from the --config
// file of a command that has that flag (config.go).
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := ff.Parse(fs, args, append([]ff.Option{ff.WithEnvVarPrefix("SHEPHERD")}, configOptions()...)...)
	if err == nil && fs.NArg() > 0 {
		return usageErrorf("unexpected argument %q", fs.Arg(0))
	}
	if errors.Is(err, flag.ErrHelp) {
		return flag.ErrHelp
	}
	if err != nil {
		return usageError{err.Error()}
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// orList joins names as "a, b or c" for help texts.
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
