package main

import (
	"flag"

	"github.com/peterbourgon/ff/v3"
)

// Config files.
//
// A command that registers --config (serve, worker) reads its flags from
// that file too: one flag per line, the flag's name without dashes, a
// space and the value; blank lines and lines starting with '#' are
// skipped; a repeatable flag (backend) takes one line per value:
//
//	# worker.conf
//	model Qwen/Qwen2.5-Math-7B-Instruct
//	backend http://gpu-1:8000/v1
//	backend http://gpu-2:8000/v1
//	redis redis://redis:6379/0
//
// A flag given on the command line wins over SHEPHERD_<FLAG> from the
// environment, which wins over the file; a repeatable flag given on the
// command line or in the environment ignores the file's lines. The file
// path itself may come from SHEPHERD_CONFIG. A name the command does not
// know is an error.

// registerConfigFlag adds --config to fs; parseFlags reads the file it
// names.
func registerConfigFlag(fs *flag.FlagSet, p *string) {
	fs.StringVar(p, "config", "", "file of flags, one 'name value' per line ('#' comments; repeat a line for each --backend); command-line flags and SHEPHERD_* win over it")
}

// configOptions make ff.Parse read the --config file of a flag set that
// has one (and do nothing for one that has not).
func configOptions() []ff.Option {
	return []ff.Option{ff.WithConfigFileFlag("config"), ff.WithConfigFileParser(ff.PlainParser)}
}
