package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
)

// provisionalTTL bounds how long the keys of a job whose creation was
// interrupted (before its request-id key, index and live-set entries were
// written) survive.
const provisionalTTL = time.Hour

// inputPushChunk bounds the problems pushed by one RPUSH.
const inputPushChunk = 256

// errRequestConflict: the request id was used with another request.
var errRequestConflict = errors.New("request id already used with a different request")

// requestKeyHash is hex(sha256(owner, request id)).
func requestKeyHash(owner, requestID string) string {
	h := sha256.Sum256([]byte(owner + "\x00" + requestID))
	return hex.EncodeToString(h[:])
}

// lookupRequest returns the job created with a request id, nil if none.
// A request key whose job expired before it was committed is removed. A
// job found uncommitted (its creator stopped half way) is committed.
func (st *store) lookupRequest(ctx context.Context, owner, requestID, reqHash string) (*jobMeta, error) {
	rkey := rediskeys.Request(requestKeyHash(owner, requestID))
	val, err := st.rdb.Get(ctx, rkey).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	id, hash, _ := strings.Cut(val, " ")
	m, err := st.get(ctx, id)
	if errors.Is(err, errJobNotFound) {
		return nil, deleteIfScript.Run(ctx, st.rdb, []string{rkey}, val).Err()
	}
	if err != nil {
		return nil, err
	}
	if hash != reqHash {
		return m, errRequestConflict
	}
	if !m.Committed {
		if err := st.commit(ctx, m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// create stores a new job and claims its request id. The job's keys are
// written in one transaction with a provisional expiry, then the request
// id is claimed (SET NX), then the job is indexed and marked live, and
// last its expiry is removed: a crash at any point leaves either nothing
// visible (the provisional keys expire) or a request key whose job the
// next retry commits. If another call claimed the request id first, the
// job written here is deleted and that call's job is returned (created
// false), or errRequestConflict if its request differs.
func (st *store) create(ctx context.Context, m *jobMeta, input []string) (*jobMeta, bool, error) {
	fields, err := m.fields()
	if err != nil {
		return nil, false, err
	}
	k := rediskeys.OfJob(m.ID)
	_, err = st.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k.Meta(), fields...)
		for start := 0; start < len(input); start += inputPushChunk {
			chunk := input[start:min(start+inputPushChunk, len(input))]
			vals := make([]any, len(chunk))
			for i, v := range chunk {
				vals[i] = v
			}
			p.RPush(ctx, k.Input(), vals...)
		}
		p.PExpire(ctx, k.Meta(), provisionalTTL)
		p.PExpire(ctx, k.Input(), provisionalTTL)
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("storing job: %w", err)
	}
	rkey := rediskeys.Request(requestKeyHash(m.Owner, m.RequestID))
	ok, err := st.rdb.SetNX(ctx, rkey, m.ID+" "+m.RequestHash, 0).Result()
	if err != nil || !ok {
		_ = st.rdb.Del(context.WithoutCancel(ctx), k.Meta(), k.Input()).Err()
	}
	if err != nil {
		return nil, false, fmt.Errorf("claiming request id: %w", err)
	}
	if !ok {
		other, err := st.lookupRequest(ctx, m.Owner, m.RequestID, m.RequestHash)
		if err != nil {
			return other, false, err
		}
		if other == nil {
			return nil, false, fmt.Errorf("request id %q: a concurrent request holds it; retry", m.RequestID)
		}
		return other, false, nil
	}
	if err := st.commit(ctx, m); err != nil {
		return nil, false, err
	}
	m.Committed = true
	return m, true, nil
}

// commit indexes a job, marks it live and makes its keys permanent. It is
// idempotent.
func (st *store) commit(ctx context.Context, m *jobMeta) error {
	if err := st.rdb.ZAddNX(ctx, rediskeys.Index(m.Owner), redis.Z{Score: 0, Member: m.ID}).Err(); err != nil {
		return fmt.Errorf("indexing job: %w", err)
	}
	if isLive(m.State) {
		if err := st.rdb.SAdd(ctx, liveKey, m.ID).Err(); err != nil {
			return fmt.Errorf("indexing job: %w", err)
		}
	}
	k := rediskeys.OfJob(m.ID)
	n, err := commitScript.Run(ctx, st.rdb, []string{k.Meta(), k.Input()}).Int()
	if err != nil {
		return fmt.Errorf("committing job: %w", err)
	}
	if n == 0 {
		return errJobNotFound
	}
	return nil
}
