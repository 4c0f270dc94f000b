package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/dataset"
	"github.com/shepherd-prm/shepherd/labeler/grade"
	"github.com/shepherd-prm/shepherd/rollout"
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
	n           int
	strategy    string
	seed        int64
	temp, topP  float64
	maxTokens   int
	stop        stringList
	split       string
	splitTag    string
	maxSteps    int
	reuse       bool
	window      int
	resume      bool
	progress    string
	backendWait time.Duration
	export      exportFlags // --format and the other output format flags (export.go)
	imp         importFlags // --in-format, --gold-from (import.go)

	remote labelServerFlags // --server and its connection flags (label_server.go)
}

func runLabel(ctx context.Context, e env, args []string) error {
	var f labelFlags
	fs := newFlagSet(e, "label", "--in FILE --backend URL|sim [flags]")
	fs.StringVar(&f.in, "in", "-", "input JSONL, one problem per line ('-' is stdin)")
	fs.StringVar(&f.out, "out", "-", "output JSONL, one labelled solution per line ('-' is stdout)")
	f.backend.register(fs)
	fs.IntVar(&f.n, "n", 8, "rollouts per step prefix")
	fs.StringVar(&f.strategy, "strategy", "exhaustive", "labeling strategy: exhaustive or binary")
	fs.Int64Var(&f.seed, "seed", 0, "job seed; every rollout's seed derives from it")
	fs.Float64Var(&f.temp, "temperature", 0.7, "sampling temperature")
	fs.Float64Var(&f.topP, "top-p", 1.0, "nucleus sampling top_p")
	fs.IntVar(&f.maxTokens, "max-tokens", 1024, "tokens per rollout at most; a rollout cut off here counts as incorrect")
	fs.Var(&f.stop, "stop", "stop string for rollouts (repeatable)")
	fs.StringVar(&f.split, "split", "auto", "step splitting: auto, line, paragraph, step or tag")
	fs.StringVar(&f.splitTag, "split-tag", "", "step tag for --split tag (default ки)")
	fs.IntVar(&f.maxSteps, "max-steps", labeler.DefaultMaxSteps, "steps per solution at most")
	fs.BoolVar(&f.reuse, "reuse", true, "count a rollout that reproduces the solution's next steps as a rollout from those prefixes too")
	fs.IntVar(&f.window, "window", 0, fmt.Sprintf("solutions labelled at once at most; identical prefixes among them are rolled out once (0: as many as keep the backends busy, up to %d)", rollout.DefaultMaxWindow))
	fs.BoolVar(&f.resume, "resume", false, "skip solutions already in --out and append to it")
	fs.StringVar(&f.progress, "progress", "auto", "progress bar on stderr: auto (when a terminal), always or never")
	fs.DurationVar(&f.backendWait, "backend-wait", time.Minute, "how long to wait for a backend to come back when none is usable before giving up (exit status 4)")
	f.export.register(fs, dataset.FormatRecord)
	f.imp.register(fs)
	f.remote.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	strategy, err := labeler.ParseStrategy(f.strategy)
	if err != nil {
		return usageErrorf("--strategy: %v", err)
	}
	mode, err := labeler.ParseSplitMode(f.split)
	if err != nil {
		return usageErrorf("--split: %v", err)
	}
	switch {
	case f.n < 1 || f.n > maxN:
		return usageErrorf("--n must be between 1 and %d, got %d", maxN, f.n)
	case f.maxTokens < 1:
		return usageErrorf("--max-tokens must be at least 1, got %d", f.maxTokens)
	case f.temp < 0:
		return usageErrorf("--temperature must not be negative, got %g", f.temp)
	case f.topP <= 0 || f.topP > 1:
		return usageErrorf("--top-p must be in (0, 1], got %g", f.topP)
	case f.resume && f.out == "-":
		return usageErrorf("--resume needs --out FILE")
	}
	if err := f.export.check(f.out, f.resume); err != nil {
		return err
	}
	if f.backendWait < 0 {
		return usageErrorf("--backend-wait must not be negative, got %v", f.backendWait)
	}
	f.export.taskFrom(f.imp.format)
	limits := labeler.InputLimits{SplitOptions: labeler.SplitOptions{Mode: mode, Tag: f.splitTag, MaxSteps: f.maxSteps}}

	// Nothing touches --out before the flags, the input and the backends
	// have been checked: a typo must not cost a finished labels file.
	if err := f.checkInput(ctx, e, limits); err != nil {
		return err
	}
	var pool *rollout.Pool
	if f.remote.addr == "" {
		var stopBackends func()
		var err error
		var probed atomic.Bool // the probe's failures make the command's error
		f.backend.onState = func(backend, reason string) {
			if reason != "" && probed.Load() {
				fmt.Fprintf(e.stderr, "shepherd label: backend %s out of rotation: %s\n", backend, reason)
			}
		}
		pool, stopBackends, err = f.backend.open(e, nil)
		if err != nil {
			return err
		}
		defer stopBackends()
		if err := f.backend.probe(ctx, pool, true, nil); err != nil {
			return err
		}
		probed.Store(true)
	}

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
	if f.remote.addr != "" {
		if err := runLabelServer(ctx, e, &f, strategy, mode, limits, in, sink, done); err != nil {
			var p partialError
			if !errors.As(err, &p) {
				return err
			}
			if cerr := commit(); cerr != nil {
				return cerr
			}
			return err
		}
		return commit()
	}

	// --max-retries 0 fails fast: no retry of a request, no redelivery.
	deliveries := 0
	if f.backend.maxRetries == 0 {
		deliveries = 1
	}
	queue := rollout.NewMemQueue(deliveries)
	defer queue.Close()
	queue.SetCapacity(pool.Capacity)
	grader := grade.New(grade.Options{})
	worker := &rollout.Worker{
		Queue: queue, Generator: pool, Grader: grader, Model: f.backend.model,
		Concurrency:      f.backend.concurrency * len(pool.Backends()),
		NoBackendTimeout: f.backendWait,
	}
	wctx, stopWorker := context.WithCancel(ctx)
	jctx, stopJob := context.WithCancel(ctx)
	defer stopJob()
	var wg sync.WaitGroup
	var workerErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		if workerErr = worker.Run(wctx); workerErr != nil {
			stopJob() // the job cannot go on without the worker
		}
	}()
	defer func() { stopWorker(); wg.Wait() }()

	src := &jsonlSource{in: in, limits: limits, skip: done}
	bar := newProgress(e, f.progress, f.in)
	start := time.Now()
	var errorsSeen int
	stats, err := rollout.RunJob(jctx, queue, grader, rollout.JobOptions{
		ID: "label", Model: f.backend.model, Strategy: strategy, N: f.n, Seed: f.seed,
		Params: rollout.SamplingParams{Temperature: f.temp, TopP: f.topP, MaxTokens: f.maxTokens, Stop: f.stop},
		Reuse:  f.reuse, Window: f.window,
		OnProgress: func(s rollout.JobStats) { bar.update(s) },
	}, src, func(r labeler.Record) error {
		if len(r.FailedSteps) > 0 {
			errorsSeen++
		}
		return sink.Write(r)
	})
	bar.finish()
	if err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() == nil {
			stopWorker()
			wg.Wait()
			if workerErr != nil {
				return workerErr
			}
		}
		return err
	}
	if err := sink.Close(); err != nil {
		return err
	}
	if err := commit(); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	cached := 0.0
	if stats.PromptTokens > 0 {
		cached = 100 * float64(stats.CachedTokens) / float64(stats.PromptTokens)
	}
	dest := f.out
	if dest == "-" {
		dest = "stdout"
	}
	fmt.Fprintf(e.stderr, "labelled %d solutions (%d steps, %d skipped as done) with %d rollouts (%d shared), %d completion + %d prompt tokens (%.0f%% prompt cache hits) in %.1fs; %d failed tasks, %d solutions with failed steps; labels in %s\n",
		stats.Solutions, stats.Steps, src.skipped, stats.Samples, stats.SharedSamples, stats.CompletionTokens, stats.PromptTokens, cached, secs, stats.FailedTasks, errorsSeen, dest)
	if busy, slots, ok := f.backend.simBusy(time.Since(start)); ok {
		fmt.Fprintf(e.stderr, "simulated fleet: %d servers, %d sequence slots, busy %.0f%% of %.1fs\n", len(f.backend.sims), slots, 100*busy, secs)
	}
	if stats.FailedTasks > 0 || errorsSeen > 0 {
		var tally failureTally
		for _, d := range queue.DeadLetters() {
			tally.add(d.Cause)
		}
		tally.print(e.stderr, "tasks")
		return partialError{fmt.Sprintf("partial result: %d of %d solutions have failed steps (null labels there; left out of trainer formats)", errorsSeen, stats.Solutions)}
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
func (f *labelFlags) checkInput(ctx context.Context, e env, limits labeler.InputLimits) error {
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
	src := &jsonlSource{in: in, limits: limits}
	for {
		_, err := src.Next()
		if errors.Is(err, io.EOF) {
			return nil
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
