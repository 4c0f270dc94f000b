package client

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"iter"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shepherd-prm/shepherd/labeler"
	"github.com/shepherd-prm/shepherd/proto/convert"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

// Event is one message of a label stream: a labeled solution or a job
// snapshot.
type Event struct {
	// Record is the labeled solution (nil for a snapshot), and Proto the
	// same record as the API message.
	Record *labeler.Record
	Proto  *shepherdv1.LabelRecord
	// Job is a job snapshot (nil for a record): LabelSolutions' first
	// event (the job as submitted), progress while the job runs, and as
	// the stream's last event the job in its terminal state.
	Job *shepherdv1.Job
	// Cursor is the position just after this event: Labels(job id, Cursor)
	// goes on with the next record. Empty before the first record.
	Cursor string
}

// Stream is a job's label stream that resumes by itself after transient
// errors; see the package documentation. Use it like a bufio.Scanner:
//
//	for s.Next() { ev := s.Event(); ... }
//	if err := s.Err(); err != nil { ... }
//
// A Stream is not safe for concurrent use.
type Stream struct {
	c      *Client
	ctx    context.Context
	cancel context.CancelFunc

	submit *shepherdv1.LabelSolutionsRequest // LabelSolutions' request, until the job is known
	jobID  string
	cursor string

	recv      func() (Event, error) // the open call; nil when none
	stopCall  context.CancelFunc
	ev        Event
	job       *shepherdv1.Job
	done      bool
	err       error
	reconnect int
	b         backoff

	// seen holds a digest of the (problem, solution) of every record
	// delivered: a record the server sends again is dropped (see Dropped).
	seen    map[uint64]struct{}
	dropped int
}

// Labels follows a job's label stream from cursor ("" for the first
// record) until the job's terminal snapshot.
func (c *Client) Labels(ctx context.Context, jobID, cursor string) *Stream {
	s := c.newStream(ctx)
	s.jobID, s.cursor = jobID, cursor
	if jobID == "" {
		s.err = status.Error(codes.InvalidArgument, "client: Labels: job id is empty")
	}
	return s
}

// LabelSolutions submits a job (idempotently: see Request.RequestID) and
// follows its label stream from the first record. The first event is the
// job; Stream.JobID names it from then on.
func (c *Client) LabelSolutions(ctx context.Context, r Request) *Stream {
	s := c.newStream(ctx)
	req, err := r.submitRequest()
	if err != nil {
		s.err = err
		return s
	}
	s.submit = &shepherdv1.LabelSolutionsRequest{RequestId: req.RequestId, Model: req.Model, Spec: req.Spec, Problems: req.Problems}
	return s
}

// LabelSolutionsProto is LabelSolutions with an API request; its
// request_id must be set.
func (c *Client) LabelSolutionsProto(ctx context.Context, req *shepherdv1.LabelSolutionsRequest) *Stream {
	s := c.newStream(ctx)
	s.submit = req
	return s
}

func (c *Client) newStream(ctx context.Context) *Stream {
	ctx, cancel := context.WithCancel(ctx)
	return &Stream{c: c, ctx: ctx, cancel: cancel}
}

// Next advances to the next event, reconnecting as needed. It returns
// false at the end of the stream (after the terminal snapshot) or on an
// error (see Err).
func (s *Stream) Next() bool {
	for {
		if s.err != nil || s.done {
			s.closeCall()
			return false
		}
		if s.recv == nil {
			if err := s.open(); err != nil {
				if !s.retry(err) {
					return false
				}
				continue
			}
		}
		ev, err := s.recv()
		if err == nil {
			s.b.reset()
			if ev.Record != nil && !s.firstTime(ev.Record.ProblemID, ev.Record.SolutionID) {
				// A record delivered before: the job store lost records
				// after they were sent (Redis restarted without the tail of
				// its append-only file) and the server labelled them again.
				s.dropped++
				if ev.Cursor != "" {
					s.cursor = ev.Cursor
				}
				continue
			}
			s.accept(ev)
			return true
		}
		s.closeCall()
		if errors.Is(err, io.EOF) {
			// The server ends a stream with OK only after the terminal
			// snapshot; an earlier end is a cut.
			err = status.Error(codes.Unavailable, "label stream ended before the job's terminal snapshot")
		}
		if !s.retry(err) {
			return false
		}
	}
}

// Event is the current event; valid after Next returned true.
func (s *Stream) Event() Event { return s.ev }

// Err is the error that ended the stream; nil after the terminal
// snapshot.
func (s *Stream) Err() error { return s.err }

// JobID is the job's id ("" before LabelSolutions' first event).
func (s *Stream) JobID() string { return s.jobID }

// Cursor is the cursor of the last event received, to resume from with
// Labels.
func (s *Stream) Cursor() string { return s.cursor }

// Dropped is how many records the stream left out because a record of
// the same solution was delivered before (or marked with Seen).
func (s *Stream) Dropped() int { return s.dropped }

// Seen marks a solution's record as delivered already, so that the stream
// leaves it out: for a caller that resumes a job with Labels and a cursor
// after a restart of its own, with the records it holds.
func (s *Stream) Seen(problemID, solutionID string) { s.firstTime(problemID, solutionID) }

// firstTime records a solution as delivered and reports whether it was
// new. Records are told apart by a 64-bit digest of their ids: 16 bytes a
// solution, where the ids themselves could be long.
func (s *Stream) firstTime(problemID, solutionID string) bool {
	h := fnv.New64a()
	h.Write([]byte(problemID))
	h.Write([]byte{0})
	h.Write([]byte(solutionID))
	k := h.Sum64()
	if s.seen == nil {
		s.seen = map[uint64]struct{}{}
	}
	if _, ok := s.seen[k]; ok {
		return false
	}
	s.seen[k] = struct{}{}
	return true
}

// Job is the latest job snapshot received: the job in its terminal state
// once Next returned false with a nil Err; nil before any snapshot.
func (s *Stream) Job() *shepherdv1.Job { return s.job }

// Reconnects is how many times the stream was opened again after a
// transient error.
func (s *Stream) Reconnects() int { return s.reconnect }

// Close ends the stream; later Next calls return false. It does not
// cancel the job (see Client.Cancel).
func (s *Stream) Close() {
	if s.err == nil && !s.done {
		s.err = status.Error(codes.Canceled, "client: stream closed")
	}
	s.closeCall()
	s.cancel()
}

// All ranges over the remaining events; an error ends it as its last
// pair.
func (s *Stream) All() iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for s.Next() {
			if !yield(s.ev, nil) {
				return
			}
		}
		if s.err != nil {
			yield(Event{}, s.err)
		}
	}
}

// labelsResponse is a message of either call a Stream reads.
type labelsResponse interface {
	GetRecord() *shepherdv1.LabelRecord
	GetJob() *shepherdv1.Job
	GetCursor() string
}

// recvEvents reads a call's messages as Events.
func recvEvents[M labelsResponse](recv func() (M, error)) func() (Event, error) {
	return func() (Event, error) {
		m, err := recv()
		if err != nil {
			return Event{}, err
		}
		return eventOf(m.GetRecord(), m.GetJob(), m.GetCursor()), nil
	}
}

// open starts the call the stream goes on with: LabelSolutions until the
// job is known, then StreamLabels from the cursor.
func (s *Stream) open() error {
	ctx, cancel := context.WithCancel(s.ctx)
	if s.jobID == "" {
		st, err := s.c.api.LabelSolutions(ctx, s.submit)
		if err != nil {
			cancel()
			return err
		}
		s.recv = recvEvents(st.Recv)
	} else {
		st, err := s.c.api.StreamLabels(ctx, &shepherdv1.StreamLabelsRequest{JobId: s.jobID, Cursor: s.cursor})
		if err != nil {
			cancel()
			return err
		}
		s.recv = recvEvents(st.Recv)
	}
	s.stopCall = cancel
	return nil
}

func eventOf(rec *shepherdv1.LabelRecord, job *shepherdv1.Job, cursor string) Event {
	ev := Event{Job: job, Cursor: cursor}
	if rec != nil {
		r := convert.RecordOf(rec)
		ev.Record, ev.Proto = &r, rec
	}
	return ev
}

func (s *Stream) accept(ev Event) {
	if ev.Cursor != "" {
		s.cursor = ev.Cursor
	}
	if ev.Job == nil {
		s.ev = ev
		return
	}
	if s.jobID == "" {
		// LabelSolutions' first message: the job as submitted (possibly
		// already terminal, for a repeated request id); its records follow.
		s.jobID = ev.Job.GetId()
		s.submit = nil
	} else if IsTerminal(ev.Job.GetState()) {
		s.done = true
	}
	s.job = ev.Job
	s.ev = ev
}

func (s *Stream) closeCall() {
	if s.stopCall != nil {
		s.stopCall()
		s.stopCall = nil
	}
	s.recv = nil
}

// retry waits before reopening the stream after err, or records the error
// that ends it.
func (s *Stream) retry(err error) bool {
	if !transient(s.ctx, err) {
		if s.ctx.Err() != nil {
			err = status.FromContextError(s.ctx.Err()).Err()
		}
		s.err = err
		return false
	}
	if werr := s.c.wait(s.ctx, &s.b, err); werr != nil {
		s.err = werr
		return false
	}
	s.reconnect++
	return true
}
