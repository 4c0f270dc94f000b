package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/shepherd-prm/shepherd/internal/rediskeys"
	shepherdv1 "github.com/shepherd-prm/shepherd/proto/shepherd/v1"
)

// DefaultPageSize and MaxPageSize bound ListJobs pages.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// pageToken is the position after the last job a page scanned, and a
// digest of the request's filter so that a token is not reused with
// another filter.
type pageToken struct {
	After  string `json:"a"`
	Filter string `json:"f"`
}

func filterDigest(states []shepherdv1.JobState) string {
	s := slices.Clone(states)
	slices.Sort(s)
	s = slices.Compact(s)
	h := sha256.New()
	for _, v := range s {
		h.Write([]byte(strconv.Itoa(int(v)) + ","))
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}

func encodePageToken(t pageToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

var errBadPageToken = errors.New("page_token: malformed, or from a request with other states (pass next_page_token of the previous page with the same states)")

func decodePageToken(s string, states []shepherdv1.JobState) (string, error) {
	if s == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", errBadPageToken
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil || !validJobID(t.After) || t.Filter != filterDigest(states) {
		return "", errBadPageToken
	}
	return t.After, nil
}

// list returns one page of a caller's jobs, newest first, after job id
// after ("" for the first page), and the next page token.
func (st *store) list(ctx context.Context, owner string, states []shepherdv1.JobState, after string, size int) ([]*jobMeta, string, error) {
	want := map[shepherdv1.JobState]bool{}
	for _, s := range states {
		want[s] = true
	}
	idx := rediskeys.Index(owner)
	batch := int64(max(size, 64))
	var out []*jobMeta
	hi := "+"
	if after != "" {
		hi = "(" + after
	}
	for {
		ids, err := st.rdb.ZRevRangeByLex(ctx, idx, &redis.ZRangeBy{Max: hi, Min: "-", Count: batch}).Result()
		if err != nil {
			return nil, "", err
		}
		if len(ids) == 0 {
			return out, "", nil
		}
		metas, err := st.getMany(ctx, ids)
		if err != nil {
			return nil, "", err
		}
		var gone []any
		for i, m := range metas {
			if m == nil {
				gone = append(gone, ids[i]) // expired: the expiry loop drops it too
				continue
			}
			if !m.Committed || (len(want) > 0 && !want[m.State]) {
				continue
			}
			out = append(out, m)
			if len(out) == size {
				more := i < len(ids)-1 || int64(len(ids)) == batch
				next := ""
				if more {
					next = encodePageToken(pageToken{After: ids[i], Filter: filterDigest(states)})
				}
				if len(gone) > 0 {
					_ = st.rdb.ZRem(ctx, idx, gone...).Err()
				}
				return out, next, nil
			}
		}
		if len(gone) > 0 {
			_ = st.rdb.ZRem(ctx, idx, gone...).Err()
		}
		if int64(len(ids)) < batch {
			return out, "", nil
		}
		hi = "(" + ids[len(ids)-1]
	}
}
