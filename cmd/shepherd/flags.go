package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/peterbourgon/ff/v3"
)

// newFlagSet returns a flag set whose errors and usage go to the command's
// stderr instead of exiting the process.
func newFlagSet(e env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("shepherd "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: shepherd %s %s\n\nflags (also read from SHEPHERD_<FLAG> environment variables):\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
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
