package rollout

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/labeler/grade"
)

// LocalOptions configure a Local runner.
type LocalOptions struct {
	Generator Generator
	Grader    *grade.Grader // nil: grade.New with default options
	Model     string
	// Concurrency is the worker's tasks in flight (Worker.Concurrency).
	Concurrency int
	// MaxDeliveries bounds the deliveries of a task (NewMemQueue; 0:
	// DefaultMaxDeliveries).
	MaxDeliveries int
	// Capacity, when set, reports the samples the generator can run at
	// once (MemQueue.SetCapacity), which sizes the job's window.
	Capacity         func() int
	NoBackendTimeout time.Duration // Worker.NoBackendTimeout
	DrainTimeout     time.Duration // Worker.DrainTimeout
}

// Local labels in process: jobs on a MemQueue worked by one Worker of the
// same process. It is how `shepherd label` without a server, MC scoring
// without a fleet, and the tests run jobs.
type Local struct {
	Queue  *MemQueue
	Grader *grade.Grader

	stop context.CancelFunc
	done chan struct{} // closed when the worker has returned
	err  error         // the worker's, once done is closed
}

// StartLocal starts the worker of a Local runner under ctx. Close stops it.
func StartLocal(ctx context.Context, opt LocalOptions) *Local {
	g := opt.Grader
	if g == nil {
		g = grade.New(grade.Options{})
	}
	l := &Local{Queue: NewMemQueue(opt.MaxDeliveries), Grader: g, done: make(chan struct{})}
	if opt.Capacity != nil {
		l.Queue.SetCapacity(opt.Capacity)
	}
	w := &Worker{
		Queue: l.Queue, Generator: opt.Generator, Grader: g, Model: opt.Model,
		Concurrency: opt.Concurrency, NoBackendTimeout: opt.NoBackendTimeout, DrainTimeout: opt.DrainTimeout,
	}
	wctx, stop := context.WithCancel(ctx)
	l.stop = stop
	go func() {
		defer close(l.done)
		l.err = w.Run(wctx)
	}()
	return l
}

// Run runs one job (RunJob) on the runner's queue. A worker that stops
// for good (no usable backend for NoBackendTimeout) ends the job with the
// worker's error, since nothing else would work its tasks.
func (l *Local) Run(ctx context.Context, opt JobOptions, src Source, emit func(labeler.Record) error) (JobStats, error) {
	jctx, stopJob := context.WithCancel(ctx)
	defer stopJob()
	go func() {
		select {
		case <-l.done:
			stopJob()
		case <-jctx.Done():
		}
	}()
	stats, err := RunJob(jctx, l.Queue, l.Grader, opt, src, emit)
	if errors.Is(err, context.Canceled) && ctx.Err() == nil && jctx.Err() != nil {
		<-l.done // only the worker's return cancels jctx while ctx lives
		if l.err != nil {
			return stats, l.err
		}
	}
	return stats, err
}

// Close stops the worker, waits for it and closes the queue.
func (l *Local) Close() {
	l.stop()
	<-l.done
	l.Queue.Close()
}

// RunLocal runs one job in process: StartLocal, Run, Close.
func RunLocal(ctx context.Context, opt LocalOptions, job JobOptions, src Source, emit func(labeler.Record) error) (JobStats, error) {
	l := StartLocal(ctx, opt)
	defer l.Close()
	return l.Run(ctx, job, src, emit)
}

// SliceSource is a Source handing out its solutions in order.
type SliceSource []labeler.PreparedSolution

// NewSliceSource is a Source over sols (which it does not modify).
func NewSliceSource(sols []labeler.PreparedSolution) *SliceSource {
	s := SliceSource(sols)
	return &s
}

// Next implements Source.
func (s *SliceSource) Next() (labeler.PreparedSolution, error) {
	if len(*s) == 0 {
		return labeler.PreparedSolution{}, io.EOF
	}
	sol := (*s)[0]
	*s = (*s)[1:]
	return sol, nil
}
