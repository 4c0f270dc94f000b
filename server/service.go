package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

// service implements shepherdv1.ShepherdServiceServer.
type service struct {
	shepherdv1.UnimplementedShepherdServiceServer
	s *Server
}

// storageError is the status of a failed Redis operation.
func storageError(err error) error {
	if errors.Is(err, context.Canceled) {
		return status.Error(codes.Canceled, "canceled")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	}
	return status.Errorf(codes.Unavailable, "job store unavailable: %v", err)
}

// jobError maps a job store error to a status.
func jobError(id string, err error) error {
	if errors.Is(err, errJobNotFound) {
		return status.Errorf(codes.NotFound, "job %q not found (it does not exist or has expired)", id)
	}
	return storageError(err)
}

// hashRequest is a digest of a request's content, to tell a retry from
// another request under the same request id.
func hashRequest(r *shepherdv1.SubmitJobRequest) (string, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(r)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// submit creates a job, or returns the one created by an earlier call with
// the same request id.
func (s *Server) submit(ctx context.Context, r *shepherdv1.SubmitJobRequest) (*jobMeta, error) {
	problems, spec, err := s.prepare(r)
	if err != nil {
		return nil, err
	}
	owner := ownerFrom(ctx)
	reqHash, err := hashRequest(r)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "hashing the request: %v", err)
	}
	conflict := func(m *jobMeta) error {
		return status.Errorf(codes.AlreadyExists, "request_id %q was used for another request (job %s); use a new request_id for a new job", r.GetRequestId(), m.ID)
	}
	prev, err := s.store.lookupRequest(ctx, owner, r.GetRequestId(), reqHash)
	switch {
	case errors.Is(err, errRequestConflict):
		return nil, conflict(prev)
	case err != nil:
		return nil, storageError(err)
	case prev != nil:
		return prev, nil
	}
	if err := s.admit(ctx, r.GetModel()); err != nil {
		return nil, err
	}
	input := make([]string, len(problems))
	total := 0
	for i, sols := range problems {
		if input[i], err = encodeProblem(sols); err != nil {
			return nil, status.Errorf(codes.Internal, "encoding problem %d: %v", i, err)
		}
		total += len(sols)
	}
	now := s.store.nowMS()
	m := &jobMeta{
		ID: newJobID(time.UnixMilli(now)), RequestID: r.GetRequestId(), RequestHash: reqHash, Owner: owner,
		State: shepherdv1.JobState_JOB_STATE_QUEUED, Model: r.GetModel(), Spec: spec,
		Problems: int64(len(problems)), SolutionsTotal: int64(total), CreateMS: now, UpdateMS: now,
	}
	got, created, err := s.store.create(ctx, m, input)
	switch {
	case errors.Is(err, errRequestConflict):
		return nil, conflict(got)
	case err != nil:
		return nil, storageError(err)
	}
	if created {
		s.log.Info("job submitted", "job", got.ID, "model", got.Model, "solutions", got.SolutionsTotal)
		s.tryStart(got.ID)
	}
	return got, nil
}

// getOwned returns a job of the caller.
func (s *Server) getOwned(ctx context.Context, id string) (*jobMeta, error) {
	m, err := s.store.get(ctx, id)
	if err == nil && m.Owner != ownerFrom(ctx) {
		err = errJobNotFound
	}
	if err != nil {
		return nil, jobError(id, err)
	}
	return m, nil
}

func (v *service) SubmitJob(ctx context.Context, r *shepherdv1.SubmitJobRequest) (*shepherdv1.SubmitJobResponse, error) {
	m, err := v.s.submit(ctx, r)
	if err != nil {
		return nil, err
	}
	return &shepherdv1.SubmitJobResponse{Job: jobProto(m)}, nil
}

func (v *service) GetJob(ctx context.Context, r *shepherdv1.GetJobRequest) (*shepherdv1.GetJobResponse, error) {
	m, err := v.s.getOwned(ctx, r.GetJobId())
	if err != nil {
		return nil, err
	}
	return &shepherdv1.GetJobResponse{Job: jobProto(m)}, nil
}

func (v *service) CancelJob(ctx context.Context, r *shepherdv1.CancelJobRequest) (*shepherdv1.CancelJobResponse, error) {
	s := v.s
	m, err := s.getOwned(ctx, r.GetJobId())
	if err != nil {
		return nil, err
	}
	if isLive(m.State) {
		inflight := int64(-1) // another server's: keep its last count
		local := s.localRunner(m.ID)
		if local != nil {
			inflight = local.inflight()
		}
		if err := s.finishJob(ctx, m.ID, shepherdv1.JobState_JOB_STATE_CANCELLED, "cancelled by CancelJob", inflight); err != nil {
			return nil, jobError(m.ID, err)
		}
		// A scheduler on another server stops at its next record or lease
		// renewal (the lease is gone); this server's stops now.
		if local != nil {
			local.stop(false)
		}
		s.log.Info("job cancelled", "job", m.ID)
		if m, err = s.store.get(ctx, m.ID); err != nil {
			return nil, jobError(r.GetJobId(), err)
		}
	}
	return &shepherdv1.CancelJobResponse{Job: jobProto(m)}, nil
}

func (v *service) ListJobs(ctx context.Context, r *shepherdv1.ListJobsRequest) (*shepherdv1.ListJobsResponse, error) {
	after, err := decodePageToken(r.GetPageToken(), r.GetStates())
	if err != nil {
		return nil, invalid("%v", err)
	}
	size := int(r.GetPageSize())
	if size == 0 {
		size = DefaultPageSize
	}
	metas, next, err := v.s.store.list(ctx, ownerFrom(ctx), r.GetStates(), after, size)
	if err != nil {
		return nil, storageError(err)
	}
	resp := &shepherdv1.ListJobsResponse{NextPageToken: next}
	for _, m := range metas {
		resp.Jobs = append(resp.Jobs, jobProto(m))
	}
	return resp, nil
}

// Score serves PRM mode with Options.Scorer, and Monte-Carlo mode on the
// workers' queue: its rollouts are tasks like a labeling job's (shared
// prefixes, routing and seeds alike), under the same model check, limits
// and admission as SubmitJob.
func (v *service) Score(ctx context.Context, r *shepherdv1.ScoreRequest) (*shepherdv1.ScoreResponse, error) {
	mc := r.GetMode() == shepherdv1.ScoreMode_SCORE_MODE_MC
	if !mc && v.s.opt.Scorer == nil {
		return nil, status.Error(codes.Unimplemented, "scoring with a reward model is not enabled on this server")
	}
	// The scorer sees the effective spec: defaults filled in and every
	// limit of the labeling path checked.
	spec, err := v.s.effectiveSpec(r.GetSpec())
	if err != nil {
		return nil, err
	}
	r = proto.Clone(r).(*shepherdv1.ScoreRequest)
	r.Spec = spec
	if !mc {
		return v.s.opt.Scorer.Score(ctx, r)
	}
	if err := v.s.checkModel(r.GetModel()); err != nil {
		return nil, err
	}
	if err := v.s.admit(ctx, r.GetModel()); err != nil {
		return nil, err
	}
	return v.s.mc.Score(ctx, r)
}
