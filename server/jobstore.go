package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

// store is the job store in Redis: job metadata, input, label records and
// indexes (see internal/rediskeys for the layout, scripts.go for the
// scripts).
type store struct {
	rdb redis.UniversalClient
	ttl time.Duration    // of finished jobs
	now func() time.Time // Options.Clock's
}

// errJobNotFound: the job does not exist, has expired, or is another
// caller's.
var errJobNotFound = errors.New("job not found")

// errNotLive: the job is no longer QUEUED or RUNNING.
var errNotLive = errors.New("job is no longer running")

// Job states as stored in Redis.
var stateNames = map[shepherdv1.JobState]string{
	shepherdv1.JobState_JOB_STATE_QUEUED:    "QUEUED",
	shepherdv1.JobState_JOB_STATE_RUNNING:   "RUNNING",
	shepherdv1.JobState_JOB_STATE_SUCCEEDED: "SUCCEEDED",
	shepherdv1.JobState_JOB_STATE_PARTIAL:   "PARTIAL",
	shepherdv1.JobState_JOB_STATE_FAILED:    "FAILED",
	shepherdv1.JobState_JOB_STATE_CANCELLED: "CANCELLED",
}

func parseState(s string) shepherdv1.JobState {
	for k, v := range stateNames {
		if v == s {
			return k
		}
	}
	return shepherdv1.JobState_JOB_STATE_UNSPECIFIED
}

func isLive(s shepherdv1.JobState) bool {
	return s == shepherdv1.JobState_JOB_STATE_QUEUED || s == shepherdv1.JobState_JOB_STATE_RUNNING
}

// jobMeta is a job's meta hash, decoded.
type jobMeta struct {
	ID, RequestID, RequestHash, Owner string
	State                             shepherdv1.JobState
	Model                             string
	Spec                              *shepherdv1.JobSpec
	Committed                         bool
	Problems                          int64

	SolutionsTotal, SolutionsDone, SolutionsFailed int64
	TasksTotal, TasksDone, TasksFailed             int64
	Rollouts, SharedRollouts                       int64
	PromptTokens, CompletionTokens, CachedTokens   int64

	CreateMS, UpdateMS, FinishMS int64
	Error                        string
}

// fields is the meta hash of a new job.
func (m *jobMeta) fields() ([]any, error) {
	spec, err := protojson.Marshal(m.Spec)
	if err != nil {
		return nil, err
	}
	return []any{
		fID, m.ID, fRequestID, m.RequestID, fRequestHash, m.RequestHash, fOwner, m.Owner,
		fState, stateNames[m.State], fModel, m.Model, fSpec, string(spec), fCommitted, "0",
		fProblems, m.Problems, fSolutionsTotal, m.SolutionsTotal, fSolutionsDone, 0,
		fCreateMS, m.CreateMS, fUpdateMS, m.UpdateMS,
	}, nil
}

func decodeMeta(h map[string]string) (*jobMeta, error) {
	if len(h) == 0 || h[fID] == "" {
		return nil, errJobNotFound
	}
	num := func(f string) int64 {
		n, _ := strconv.ParseInt(h[f], 10, 64)
		return n
	}
	m := &jobMeta{
		ID: h[fID], RequestID: h[fRequestID], RequestHash: h[fRequestHash], Owner: h[fOwner],
		State: parseState(h[fState]), Model: h[fModel], Committed: h[fCommitted] == "1",
		Problems:       num(fProblems),
		SolutionsTotal: num(fSolutionsTotal), SolutionsDone: num(fSolutionsDone), SolutionsFailed: num(fSolutionsFailed),
		TasksTotal: num(fTasksTotal), TasksDone: num(fTasksDone), TasksFailed: num(fTasksFailed),
		Rollouts: num(fRollouts), SharedRollouts: num(fSharedRollouts),
		PromptTokens: num(fPromptTokens), CompletionTokens: num(fCompletionTokens), CachedTokens: num(fCachedTokens),
		CreateMS: num(fCreateMS), UpdateMS: num(fUpdateMS), FinishMS: num(fFinishMS),
		Error: h[fError],
	}
	m.Spec = &shepherdv1.JobSpec{}
	if err := protojson.Unmarshal([]byte(h[fSpec]), m.Spec); err != nil {
		return nil, fmt.Errorf("job %s: stored spec: %w", m.ID, err)
	}
	return m, nil
}

// get returns a job's metadata, or errJobNotFound.
func (st *store) get(ctx context.Context, id string) (*jobMeta, error) {
	if !validJobID(id) {
		return nil, errJobNotFound
	}
	h, err := st.rdb.HGetAll(ctx, rediskeys.OfJob(id).Meta()).Result()
	if err != nil {
		return nil, err
	}
	return decodeMeta(h)
}

// getMany returns the metadata of several jobs, nil for those missing.
func (st *store) getMany(ctx context.Context, ids []string) ([]*jobMeta, error) {
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err := st.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, rediskeys.OfJob(id).Meta())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]*jobMeta, len(ids))
	for i, c := range cmds {
		m, err := decodeMeta(c.Val())
		if errors.Is(err, errJobNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = m
	}
	return out, nil
}

// Job ids are 12 hex digits of the creation time in milliseconds then 8
// random hex digits: they sort by creation time and carry no braces.
const jobIDLen = 20

func newJobID(now time.Time) string {
	return fmt.Sprintf("%012x%s", now.UnixMilli(), randomHex(4))
}

func validJobID(id string) bool {
	if len(id) != jobIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// nowMS is the time the job store writes (creation, update and finish
// times, the expiry index). The keys' own expiry is Redis's time.
func (st *store) nowMS() int64 { return st.now().UnixMilli() }
