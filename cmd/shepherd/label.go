package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/dataset"
	"github.com/shepherd-prm/shepherd/rollout"
	"github.com/shepherd-prm/shepherd/server"
)

func init() {
	register("label", command{summary: "label the steps of solutions with Monte-Carlo rollouts", run: runLabel})
}

// Limits on labeling input.
const (
	maxLineBytes = 64 << 20
	maxN         = 1024
)

type labelFlags struct {
	in, out     string
	backend     backendFlags
	strategy    string
	sampling    samplingFlags
	stop        stringList
	split       splitFlags
	window      int
	resume      bool
	progress    string
	backendWait time.Duration
	export      exportFlags // --format and the other output format flags (export.go)
	imp         importFlags // --in-format, --gold-from (import.go)

	remote serverFlags // --server and its connection flags (serverflags.go)

	// Parsed from the flags above.
	strat  labeler.Strategy
	limits labeler.InputLimits
}

func runLabel(ctx context.Context, e env, args []string) error {
	f, err := parseLabelFlags(e, args)
	if err != nil {
		return err
	}
	// Nothing touches --out before the flags, the input and the backends
	// have been checked: a typo must not cost a finished labels file.
	if err := f.checkInput(ctx, e); err != nil {
		return err
	}
	pool, stopBackends, err := f.openBackends(ctx, e)
	if err != nil {
		return err
	}
	defer stopBackends()
	in, closeIn, err := f.openProblems(ctx, e)
	if err != nil {
		return err
	}
	defer closeIn()
	out, done, commit, err := openLabelOutput(e, f.out, f.resume)
	if err != nil {
		return err
	}
	defer out.Close()
	sink, err := f.export.sink(out)
	if err != nil {
		return err
	}
	defer sink.Close()
	var sum *labelSummary
	if f.remote.addr != "" {
		sum, err = f.labelRemote(ctx, e, in, sink, done)
	} else {
		local := f.startLocal(ctx, pool)
		defer local.Close()
		sum, err = f.labelLocal(ctx, e, local, in, sink, done)
	}
	if err == nil {
		err = sink.Close()
	}
	if err == nil {
		err = commit()
	}
	if err != nil {
		return err
	}
	return sum.report(e, f.out)
}

// parseLabelFlags parses and checks label's flags.
func parseLabelFlags(e env, args []string) (*labelFlags, error) {
	f := &labelFlags{}
	fs := newFlagSet(e, "label", "--in FILE --backend URL|sim [flags]")
	fs.StringVar(&f.in, "in", "-", "input JSONL, one problem per line ('-' is stdin)")
	fs.StringVar(&f.out, "out", "-", "output JSONL, one labelled solution per line ('-' is stdout)")
	f.backend.register(fs)
	fs.StringVar(&f.strategy, "strategy", string(labeler.Strategies[0]), "labeling strategy: "+orList(strategyNames()))
	f.sampling.register(fs, "", "solution", server.DefaultJobN, server.DefaultJobMaxTokens)
	fs.Var(&f.stop, "stop", "stop string for rollouts (repeatable)")
	f.split.register(fs, "solution")
	fs.IntVar(&f.window, "window", 0, fmt.Sprintf("solutions labelled at once at most; identical prefixes among them are rolled out once (0: as many as keep the backends busy, up to %d)", rollout.DefaultMaxWindow))
	fs.BoolVar(&f.resume, "resume", false, "skip solutions already in --out and append to it")
	fs.StringVar(&f.progress, "progress", "auto", "progress bar on stderr: auto (when a terminal), always or never")
	fs.DurationVar(&f.backendWait, "backend-wait", time.Minute, "how long to wait for a backend to come back when none is usable before giving up (exit status 4)")
	f.export.register(fs, dataset.FormatRecord)
	f.imp.register(fs)
	f.remote.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	var err error
	if f.strat, err = labeler.ParseStrategy(f.strategy); err != nil {
		return nil, usageErrorf("--strategy: %v", err)
	}
	if f.limits.SplitOptions, err = f.split.options(); err != nil {
		return nil, err
	}
	if err := f.sampling.check(maxN); err != nil {
		return nil, err
	}
	if f.resume && f.out == "-" {
		return nil, usageErrorf("--resume needs --out FILE")
	}
	if err := f.export.check(f.out, f.resume); err != nil {
		return nil, err
	}
	if f.backendWait < 0 {
		return nil, usageErrorf("--backend-wait must not be negative, got %v", f.backendWait)
	}
	f.export.taskFrom(f.imp.format)
	return f, nil
}

// strategyNames names labeler.Strategies, the default first.
func strategyNames() []string {
	names := make([]string, len(labeler.Strategies))
	for i, s := range labeler.Strategies {
		names[i] = string(s)
	}
	return names
}

// openBackends opens and probes the backends of an in-process run (none
// with --server). After the probe, a backend leaving rotation is reported
// on stderr (the probe's own failures make the command's error).
func (f *labelFlags) openBackends(ctx context.Context, e env) (*rollout.Pool, func(), error) {
	if f.remote.addr != "" {
		return nil, func() {}, nil
	}
	var probed atomic.Bool
	f.backend.onState = func(backend, reason string) {
		if reason != "" && probed.Load() {
			fmt.Fprintf(e.stderr, "shepherd label: backend %s out of rotation: %s\n", backend, reason)
		}
	}
	pool, stop, err := f.backend.openProbed(ctx, e)
	if err != nil {
		return nil, nil, err
	}
	probed.Store(true)
	return pool, stop, nil
}

// jobOptions are the labeling job the flags describe.
func (f *labelFlags) jobOptions(bar *progress) rollout.JobOptions {
	return rollout.JobOptions{
		ID: "label", Model: f.backend.model, Strategy: f.strat, N: f.sampling.n, Seed: f.sampling.seed,
		Params: f.sampling.params(f.stop), Reuse: f.sampling.reuse, Window: f.window,
		OnProgress: func(s rollout.JobStats) { bar.update(s) },
	}
}

// startLocal starts the in-process runner on the backends of pool.
func (f *labelFlags) startLocal(ctx context.Context, pool *rollout.Pool) *rollout.Local {
	// --max-retries 0 fails fast: no retry of a request, no redelivery.
	deliveries := 0
	if f.backend.maxRetries == 0 {
		deliveries = 1
	}
	return rollout.StartLocal(ctx, rollout.LocalOptions{
		Generator: pool, Model: f.backend.model, Concurrency: f.backend.concurrency * len(pool.Backends()),
		MaxDeliveries: deliveries, Capacity: pool.Capacity, NoBackendTimeout: f.backendWait,
	})
}

// labelLocal labels in process: one job on local.
func (f *labelFlags) labelLocal(ctx context.Context, e env, local *rollout.Local, in *problemReader, sink *exportSink, done map[solutionKey]bool) (*labelSummary, error) {
	src := &jsonlSource{in: in, limits: f.limits, skip: done}
	bar := newProgress(e, f.progress, f.in)
	sum := &labelSummary{start: time.Now(), failuresIn: "tasks", sim: &f.backend}
	stats, err := local.Run(ctx, f.jobOptions(bar), src, func(r labeler.Record) error {
		if len(r.FailedSteps) > 0 {
			sum.withFailed++
		}
		return sink.Write(r)
	})
	bar.finish()
	if err != nil {
		return sum, err
	}
	sum.skipped = src.skipped
	sum.addJob(stats)
	for _, d := range local.Queue.DeadLetters() {
		sum.failures.add(d.Cause)
	}
	return sum, nil
}

// labelSummary is what a label run reports when it ends.
type labelSummary struct {
	start                                        time.Time
	solutions, steps, skipped, withFailed        int
	rollouts, shared, failedTasks                int64
	promptTokens, completionTokens, cachedTokens int64
	failures                                     failureTally  // why tasks or jobs failed
	failuresIn                                   string        // "tasks" or "jobs"
	sim                                          *backendFlags // simulated backends, or nil
}

func (s *labelSummary) addJob(st rollout.JobStats) {
	s.solutions += st.Solutions
	s.steps += st.Steps
	s.rollouts += int64(st.Samples)
	s.shared += int64(st.SharedSamples)
	s.failedTasks += int64(st.FailedTasks)
	s.promptTokens += int64(st.PromptTokens)
	s.completionTokens += int64(st.CompletionTokens)
	s.cachedTokens += int64(st.CachedTokens)
}

// report prints the summary line on stderr (and the simulated fleet's
// load, and why tasks failed) and returns a partialError when some
// solutions have failed steps.
func (s *labelSummary) report(e env, out string) error {
	elapsed := time.Since(s.start)
	secs := elapsed.Seconds()
	cached := 0.0
	if s.promptTokens > 0 {
		cached = 100 * float64(s.cachedTokens) / float64(s.promptTokens)
	}
	fmt.Fprintf(e.stderr, "labelled %d solutions (%d steps, %d skipped as done) with %d rollouts (%d shared), %d completion + %d prompt tokens (%.0f%% prompt cache hits) in %.1fs; %d failed tasks, %d solutions with failed steps; labels in %s\n",
		s.solutions, s.steps, s.skipped, s.rollouts, s.shared, s.completionTokens, s.promptTokens, cached, secs, s.failedTasks, s.withFailed, outputName(out))
	if s.sim != nil {
		if busy, slots, ok := s.sim.simBusy(elapsed); ok {
			fmt.Fprintf(e.stderr, "simulated fleet: %d servers, %d sequence slots, busy %.0f%% of %.1fs\n", len(s.sim.sims), slots, 100*busy, secs)
		}
	}
	if s.failedTasks > 0 || s.withFailed > 0 {
		s.failures.print(e.stderr, s.failuresIn)
		return partialError{fmt.Sprintf("partial result: %d of %d solutions have failed steps (null labels there; left out of trainer formats)", s.withFailed, s.solutions)}
	}
	return nil
}

// openProblems opens --in and reads its problems, through the importer
// with --in-format.
func (f *labelFlags) openProblems(ctx context.Context, e env) (*problemReader, func(), error) {
	in, closeIn, err := openInput(e, f.in)
	if err != nil {
		return nil, nil, err
	}
	r, err := f.imp.problems(ctx, in)
	if err != nil {
		closeIn()
		return nil, nil, err
	}
	return r, func() { r.stop(); closeIn() }, nil
}

// checkInput reads a regular --in file through once before anything else
// happens, so that a bad line fails the command before --out is touched.
// Standard input cannot be read twice: a bad line there fails the run
// part-way, which leaves --out as it was (see openLabelOutput).
func (f *labelFlags) checkInput(ctx context.Context, e env) error {
	if f.in == "-" || f.in == "" {
		return nil
	}
	if st, err := os.Stat(f.in); err != nil || !st.Mode().IsRegular() {
		return nil // openInput reports it
	}
	in, closeIn, err := f.openProblems(ctx, e)
	if err != nil {
		return err
	}
	defer closeIn()
	// The embedded path checks what it will label, split as it will be.
	// A server validates and splits itself (its errors name the problem
	// at fault): the client checks what it can without splitting.
	check := func(p inputProblem) error {
		_, err := p.Prepare(p.defaultID, f.limits)
		return err
	}
	if f.remote.addr != "" {
		check = func(p inputProblem) error {
			_, err := p.Check(p.defaultID, f.limits)
			return err
		}
	}
	for {
		p, err := in.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err == nil {
			if err = check(p); err != nil {
				err = fmt.Errorf("%s: %v", p.where, err)
			}
		}
		if err != nil {
			return fmt.Errorf("--in %s: %w", f.in, err)
		}
	}
}

// openLabelOutput opens --out for labels. A new file is written under a
// temporary name and put in place by commit, so a run that fails leaves an
// existing file byte for byte as it was; with resume the file is appended
// to in place (a torn last line cut off), and commit only syncs. When --out
// did not exist, a run that fails or is interrupted after labelling some
// solutions still puts them in place, so --resume can go on from there:
// that destroys nothing.
func openLabelOutput(e env, path string, resume bool) (*recordWriter, map[solutionKey]bool, func() error, error) {
	if resume || path == "-" || path == "" {
		out, done, err := openOutput(e, path, resume)
		if err != nil {
			return nil, nil, nil, err
		}
		return out, done, func() error { return nil }, nil
	}
	_, statErr := os.Stat(path)
	existed := statErr == nil
	w, commit, abort, err := createOutput(e, path)
	if err != nil {
		return nil, nil, nil, err
	}
	committed := false
	w.abort = func() {
		if !committed && !existed && w.count > 0 {
			if err := commit(); err == nil {
				fmt.Fprintf(e.stderr, "shepherd label: kept the %d solutions labelled in %s (rerun with --resume to go on)\n", w.count, path)
				return
			}
		}
		abort()
	}
	return w, map[solutionKey]bool{}, func() error {
		committed = true
		return commit()
	}, nil
}

// jsonlSource reads the input problems and yields their prepared
// solutions, skipping those already done.
type jsonlSource struct {
	in      *problemReader
	limits  labeler.InputLimits
	skip    map[solutionKey]bool
	pending []labeler.PreparedSolution
	skipped int
}

type solutionKey struct{ problem, solution string }

func (s *jsonlSource) Next() (labeler.PreparedSolution, error) {
	for len(s.pending) == 0 {
		p, err := s.in.next()
		if err != nil {
			return labeler.PreparedSolution{}, err
		}
		sols, err := p.Prepare(p.defaultID, s.limits)
		if err != nil {
			return labeler.PreparedSolution{}, fmt.Errorf("%s: %v", p.where, err)
		}
		for _, sol := range sols {
			if s.skip[solutionKey{sol.ProblemID, sol.SolutionID}] {
				s.skipped++
				continue
			}
			s.pending = append(s.pending, sol)
		}
	}
	sol := s.pending[0]
	s.pending = s.pending[1:]
	return sol, nil
}

// lineReader yields non-blank lines with their 1-based numbers.
type lineReader struct {
	sc *bufio.Scanner
	n  int
}

func newLineReader(r io.Reader) *lineReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	return &lineReader{sc: sc}
}

func (l *lineReader) next() ([]byte, int, error) {
	for l.sc.Scan() {
		l.n++
		if line := l.sc.Bytes(); len(trimSpace(line)) > 0 {
			return line, l.n, nil
		}
	}
	if err := l.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, l.n + 1, fmt.Errorf("input line %d is longer than the limit of %d bytes", l.n+1, maxLineBytes)
		}
		return nil, l.n, err
	}
	return nil, l.n, io.EOF
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func openInput(e env, path string) (io.Reader, func(), error) {
	if path == "-" || path == "" {
		return e.stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--in: %w", err)
	}
	return f, func() { f.Close() }, nil
}
