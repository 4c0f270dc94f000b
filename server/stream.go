package server

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shepherd-prm/shepherd/proto/convert"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

// streamBatch bounds the records read from Redis at once.
const streamBatch = 256

// event is one message of a label stream: a record or a job snapshot,
// with its cursor.
type event struct {
	record *shepherdv1.LabelRecord
	job    *shepherdv1.Job
	cursor string
}

func (v *service) StreamLabels(r *shepherdv1.StreamLabelsRequest, ss grpc.ServerStreamingServer[shepherdv1.StreamLabelsResponse]) error {
	m, err := v.s.getOwned(ss.Context(), r.GetJobId())
	if err != nil {
		return err
	}
	after, err := decodeCursor(m.ID, r.GetCursor())
	if err != nil {
		return invalid("%v", err)
	}
	if after != "0-0" {
		behind, err := v.s.store.raiseStreamID(ss.Context(), m.ID, after)
		if err != nil {
			return storageError(err)
		}
		if behind {
			v.s.log.Warn("label stream moved backwards: the job store lost records after they were sent (Redis restarted without the end of its append-only file); they are labelled again and delivered after the cursor, and clients drop the repeats",
				"job", m.ID, "cursor", after)
		}
	}
	return v.s.follow(ss.Context(), m.ID, after, r.GetCursor(), time.Time{}, func(e event) error {
		if e.record != nil {
			return ss.Send(&shepherdv1.StreamLabelsResponse{Cursor: e.cursor, Event: &shepherdv1.StreamLabelsResponse_Record{Record: e.record}})
		}
		return ss.Send(&shepherdv1.StreamLabelsResponse{Cursor: e.cursor, Event: &shepherdv1.StreamLabelsResponse_Job{Job: e.job}})
	})
}

func (v *service) LabelSolutions(r *shepherdv1.LabelSolutionsRequest, ss grpc.ServerStreamingServer[shepherdv1.LabelSolutionsResponse]) error {
	ctx := ss.Context()
	m, err := v.s.submit(ctx, submitOf(r))
	if err != nil {
		return err
	}
	if err := ss.Send(&shepherdv1.LabelSolutionsResponse{Event: &shepherdv1.LabelSolutionsResponse_Job{Job: jobProto(m)}}); err != nil {
		return err
	}
	return v.s.follow(ctx, m.ID, "0-0", "", v.s.opt.Clock.Now(), func(e event) error {
		if e.record != nil {
			return ss.Send(&shepherdv1.LabelSolutionsResponse{Cursor: e.cursor, Event: &shepherdv1.LabelSolutionsResponse_Record{Record: e.record}})
		}
		return ss.Send(&shepherdv1.LabelSolutionsResponse{Cursor: e.cursor, Event: &shepherdv1.LabelSolutionsResponse_Job{Job: e.job}})
	})
}

// follow sends a job's records after entry id after, then follows the job
// until it is terminal and every record is sent, and last sends the job in
// its terminal state. While the job runs it sends a snapshot when the job
// changed and SnapshotInterval passed since the previous one (lastSnap):
// snapshots are coalesced, and a slow reader only delays itself.
//
// The job's state is read before each read of the stream: records are
// only committed while the job is live, so once a terminal state was read,
// a read that comes back empty means every record was sent.
func (s *Server) follow(ctx context.Context, jobID, after, cursor string, lastSnap time.Time, send func(event) error) error {
	var lastUpdate int64 = -1
	for {
		select {
		case <-s.closing:
			return status.Error(codes.Unavailable, "server shutting down: resume with StreamLabels from the last cursor")
		default:
		}
		if err := ctx.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		m, err := s.getOwned(ctx, jobID)
		if err != nil {
			return err
		}
		terminal := !isLive(m.State)
		block := s.opt.StreamBlock
		if terminal {
			block = 0
		}
		entries, err := s.store.readLabels(ctx, jobID, after, streamBatch, block)
		if err != nil {
			return storageError(err)
		}
		for _, e := range entries {
			after = e.ID
			cursor = encodeCursor(jobID, e.ID)
			if err := send(event{record: convert.RecordProto(e.Record), cursor: cursor}); err != nil {
				return err
			}
		}
		if terminal && len(entries) == 0 {
			return send(event{job: jobProto(m), cursor: cursor})
		}
		if !terminal && m.UpdateMS != lastUpdate && s.opt.Clock.Now().Sub(lastSnap) >= s.opt.SnapshotInterval {
			lastUpdate, lastSnap = m.UpdateMS, s.opt.Clock.Now()
			if err := send(event{job: jobProto(m), cursor: cursor}); err != nil {
				return err
			}
		}
	}
}
