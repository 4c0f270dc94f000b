package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/dataset"
)

func init() {
	register("export", command{summary: "convert label records into a PRM trainer's format (" + strings.Join(trainerFormats(), ", ") + "; JSONL or Parquet)", run: runExport})
}

// exportFlags are the output format flags of export and label. The formats
// themselves are described in labeler/dataset (formats.go, parquet.go).
type exportFlags struct {
	format, task, placeholder, rewardTokens string
	soft, parquet                           bool

	// set by check
	f         dataset.Format
	opt       dataset.ExportOptions
	toParquet bool
}

func (x *exportFlags) register(fs *flag.FlagSet, def dataset.Format) {
	fs.StringVar(&x.format, "format", string(def), "output format: "+formatList()+"; the trainer formats leave out solutions with failed steps")
	fs.BoolVar(&x.soft, "soft", false, "trl, openrlhf: soft labels, the share of rollouts reaching the gold answer (the hard label as 1 or 0 where it was inferred, not measured)")
	fs.BoolVar(&x.parquet, "parquet", false, "write Parquet instead of JSONL (implied by an --out ending in .parquet)")
	fs.StringVar(&x.task, "task", "", "math-shepherd: the \"task\" field of every row (GSM8K, MATH); label takes it from --in-format gsm8k, math or prm800k when not given; left out when empty")
	fs.StringVar(&x.placeholder, "placeholder-token", "", "openrlhf: the placeholder written after every step; train with the same --placeholder_token (default ки)")
	fs.StringVar(&x.rewardTokens, "reward-tokens", "", "openrlhf, chat: the label tokens of a correct and an incorrect step, space-separated; train with the same --reward_tokens (default \"+ -\")")
}

// trainerFormats names the formats of the trainers (all but record).
func trainerFormats() []string {
	var names []string
	for _, f := range dataset.Formats {
		if f != dataset.FormatRecord {
			names = append(names, string(f))
		}
	}
	return names
}

// formatList is "record (shepherd's label records), trl (…), … or chat
// (messages)", from the dataset package's formats.
func formatList() string {
	s := make([]string, len(dataset.Formats))
	for i, f := range dataset.Formats {
		s[i] = fmt.Sprintf("%s (%s)", f, f.Summary())
	}
	return orList(s)
}

// optionFlags names the flag of each dataset.ExportOptions field.
var optionFlags = map[string]string{
	dataset.OptSoft:    "--soft",
	dataset.OptTask:    "--task",
	dataset.OptStepTag: "--placeholder-token",
	dataset.OptTokens:  "--reward-tokens",
}

// check validates the flags. out is the --out path; resume is whether the
// output is appended to (label --resume), which only label records allow.
func (x *exportFlags) check(out string, resume bool) error {
	f, err := dataset.ParseFormat(x.format)
	if err != nil {
		return usageErrorf("--format: %v", err)
	}
	opt := dataset.ExportOptions{Soft: x.soft, Task: x.task, StepTag: x.placeholder}
	if x.rewardTokens != "" {
		t := strings.Fields(x.rewardTokens)
		if len(t) != 2 {
			return usageErrorf("--reward-tokens wants two tokens, for a correct and an incorrect step (\"+ -\"), got %q", x.rewardTokens)
		}
		opt.Good, opt.Bad = t[0], t[1]
	}
	// The rules of which option goes with which format are the dataset
	// package's; here its option names become flag names.
	if err := opt.Check(f); err != nil {
		var oe *dataset.OptionError
		if errors.As(err, &oe) {
			return usageErrorf("%s: %s", optionFlags[oe.Option], oe.Msg)
		}
		return usageErrorf("--format %s: %v", f, err)
	}
	x.toParquet = x.parquet || strings.HasSuffix(strings.ToLower(out), ".parquet")
	if x.toParquet {
		if err := dataset.CheckParquet(f); err != nil {
			return usageErrorf("Parquet output (--parquet, or an --out ending in .parquet): %v", err)
		}
	}
	if resume && f != dataset.FormatRecord {
		return usageErrorf("--resume needs --format record: only label records say which solutions are done (label, then shepherd export)")
	}
	x.f, x.opt = f, opt
	return nil
}

// taskFrom fills the math-shepherd task from the input format when --task
// was not given (label --in-format gsm8k writes "task": "GSM8K").
func (x *exportFlags) taskFrom(inFormat string) {
	if x.f != dataset.FormatMathShepherd || x.opt.Task != "" {
		return
	}
	if f, err := dataset.ParseInputFormat(inFormat); err == nil {
		x.opt.Task = dataset.TaskOf(f)
	}
}

// exportSink converts records and writes the rows. Records with failed
// steps have no label there, so the trainer formats leave them out.
type exportSink struct {
	f       dataset.Format
	opt     dataset.ExportOptions
	rows    dataset.RowWriter
	written int
	failed  int // records left out for their failed steps
}

// sink returns the exporting writer on top of out; check must have passed.
func (x *exportFlags) sink(out *recordWriter) (*exportSink, error) {
	s := &exportSink{f: x.f, opt: x.opt, rows: jsonRows{out}}
	if x.toParquet {
		pw, err := dataset.NewParquetWriter(out.w, x.f, x.opt, parquetRowGroup)
		if err != nil {
			return nil, err
		}
		s.rows = pw
	}
	return s, nil
}

// Write exports one record.
func (s *exportSink) Write(r labeler.Record) error {
	row, err := dataset.Export(r, s.f, s.opt)
	if errors.Is(err, dataset.ErrFailedSteps) {
		s.failed++
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.rows.Write(row); err != nil {
		return err
	}
	s.written++
	return nil
}

// Close finishes the output (a Parquet footer); it may be called again.
func (s *exportSink) Close() error { return s.rows.Close() }

// parquetRowGroup is the rows of a Parquet row group (0 is the dataset
// package's default); a variable for the tests.
var parquetRowGroup int64

// jsonRows writes rows as JSON lines.
type jsonRows struct{ w *recordWriter }

func (j jsonRows) Write(row any) error { return j.w.Write(row) }
func (jsonRows) Close() error          { return nil }

func runExport(ctx context.Context, e env, args []string) error {
	var x exportFlags
	var in, out string
	fs := newFlagSet(e, "export", "--in labels.jsonl --format "+strings.Join(trainerFormats(), "|")+" [--out FILE[.parquet]] [flags]")
	fs.StringVar(&in, "in", "-", "label records, JSONL as shepherd label writes them ('-' is stdin)")
	fs.StringVar(&out, "out", "-", "output file ('-' is stdout), written whole or not at all")
	x.register(fs, dataset.FormatTRL)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := x.check(out, false); err != nil {
		return err
	}
	r, w, commit, done, err := convertFiles(e, in, out)
	if err != nil {
		return err
	}
	defer done()
	sink, err := x.sink(w)
	if err != nil {
		return err
	}
	if err := writeRecords(ctx, r, sink); err != nil {
		return err
	}
	if err := sink.Close(); err != nil {
		return err
	}
	if err := commit(); err != nil {
		return err
	}
	kind := "JSONL"
	if x.toParquet {
		kind = "Parquet"
	}
	fmt.Fprintf(e.stderr, "exported %d records as %s %s (%d left out for failed steps); rows in %s\n", sink.written, x.f, kind, sink.failed, outputName(out))
	if sink.failed > 0 {
		return partialError{fmt.Sprintf("partial result: %d records left out for their failed steps (relabel them with label --resume after removing them)", sink.failed)}
	}
	return nil
}

// writeRecords writes the label records of r to sink, naming the input
// line of an error.
func writeRecords(ctx context.Context, r io.Reader, sink *exportSink) error {
	lines := newLineReader(r)
	for {
		line, n, err := lines.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("--in: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var rec labeler.Record
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("--in line %d: not a label record: %v", n, err)
		}
		if err := sink.Write(rec); err != nil {
			return fmt.Errorf("--in line %d: %w", n, err)
		}
	}
}
