package server

import (
	"context"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// admissionRetryDelay is the wait a refused submission is told to keep
// before it tries again (a google.rpc.RetryInfo detail): about the time a
// pool of workers takes to work off a good part of a full backlog.
const admissionRetryDelay = 5 * time.Second

// admit is admission control: a new job is refused with RESOURCE_EXHAUSTED
// while its model's work stream holds MaxQueuedTasks tasks or more (tasks
// waiting and tasks out on lease), so that a backlog does not grow without
// bound. A retry of a submitted request is answered without it.
func (s *Server) admit(ctx context.Context, model string) error {
	if s.opt.MaxQueuedTasks < 0 {
		return nil
	}
	ps, err := s.q.Pending(ctx, model)
	if err != nil {
		return storageError(err)
	}
	if ps.Length >= int64(s.opt.MaxQueuedTasks) {
		st := status.Newf(codes.ResourceExhausted,
			"model %q has %d rollout tasks queued, at the limit of %d: retry later with the same request_id", model, ps.Length, s.opt.MaxQueuedTasks)
		if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(admissionRetryDelay)}); err == nil {
			st = d
		}
		return st.Err()
	}
	return nil
}
