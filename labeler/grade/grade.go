package grade

import (
	"hash/maphash"
	"strings"
	"sync"
)

// Version identifies the grading rules; written into every label
// record. Bump it when rules change.
const Version = "shepherd-grader/2"

// Options configures a Grader.
type Options struct {
	// MemoSize bounds the number of memoised Equivalent verdicts:
	// 0 means DefaultMemoSize, a negative value disables the memo.
	MemoSize int
}

// DefaultMemoSize is the memo bound used when Options.MemoSize is 0.
const DefaultMemoSize = 65536

// Grader extracts final answers and decides whether they equal a gold
// answer. It is safe for concurrent use.
type Grader struct {
	memo *verdictMemo
}

// New returns a Grader.
func New(opt Options) *Grader {
	size := opt.MemoSize
	if size == 0 {
		size = DefaultMemoSize
	}
	g := &Grader{}
	if size > 0 {
		g.memo = newMemo(size)
	}
	return g
}

// Version returns the package constant Version, the rules this grader applies.
func (g *Grader) Version() string { return Version }

// Verdict is the result of grading one response.
type Verdict struct {
	Answer  string // the extracted answer; empty when Found is false
	Found   bool   // whether the response has a final answer
	Correct bool   // whether the answer equals the gold answer
}

// Grade extracts the final answer of response and compares it with gold.
// gold must already be an answer (see GoldAnswer). When the gold answer
// has several parts and the response boxes them one by one (\boxed{-1}
// and \boxed{-9} for "-1, -9"), its last boxes are compared as one answer
// (see boxedParts); Answer is then the parts joined.
func (g *Grader) Grade(gold, response string) Verdict {
	a, ok := ExtractAnswer(response)
	if !ok {
		return Verdict{}
	}
	v := Verdict{Answer: a, Found: true, Correct: g.Equivalent(gold, a)}
	if !v.Correct {
		if joined, ok := boxedParts(gold, response); ok && g.Equivalent(gold, joined) {
			v.Answer, v.Correct = joined, true
		}
	}
	return v
}

// Equivalent reports whether candidate answer equals gold answer (both
// already-extracted answer strings). It is symmetric, and true for any
// two identical strings that are not blank. See answersEquivalent for the rules.
func (g *Grader) Equivalent(gold, candidate string) bool {
	if gold == candidate {
		return strings.TrimSpace(gold) != ""
	}
	if g == nil || g.memo == nil {
		return safeEquivalent(gold, candidate)
	}
	if v, ok := g.memo.get(gold, candidate); ok {
		return v
	}
	v := safeEquivalent(gold, candidate)
	g.memo.put(gold, candidate, v)
	return v
}

// safeEquivalent is answersEquivalent with a last-resort recover: a bug in the
// rules must turn into "not equal", never into a crashed worker.
func safeEquivalent(a, b string) (eq bool) {
	defer func() {
		if recover() != nil {
			eq = false
		}
	}()
	return answersEquivalent(a, b)
}

// verdictMemo is a bounded concurrent map of verdicts. It has memoShards shards;
// each keeps two generations of at most cap/2/memoShards entries: when the
// current generation is full it becomes the old one and the previous old
// generation is dropped. Hits in the old generation are copied forward, so
// frequently used pairs survive (an approximation of LRU with O(1) work).
type verdictMemo struct {
	seed   maphash.Seed
	shards [memoShards]memoShard
	per    int
}

const (
	memoShards = 64
	// memoMaxKey is the longest key (gold plus candidate bytes) memoised,
	// so the memo's memory stays bounded by about MemoSize*memoMaxKey.
	memoMaxKey = 1024
)

type memoKey struct{ gold, cand string }

type memoShard struct {
	mu       sync.Mutex
	cur, old map[memoKey]bool
}

func newMemo(size int) *verdictMemo {
	per := size / 2 / memoShards
	if per < 1 {
		per = 1
	}
	m := &verdictMemo{seed: maphash.MakeSeed(), per: per}
	for i := range m.shards {
		m.shards[i].cur = make(map[memoKey]bool)
	}
	return m
}

func (m *verdictMemo) shard(gold, cand string) *memoShard {
	var h maphash.Hash
	h.SetSeed(m.seed)
	h.WriteString(gold)
	h.WriteByte(0)
	h.WriteString(cand)
	return &m.shards[h.Sum64()%memoShards]
}

func (m *verdictMemo) get(gold, cand string) (v, ok bool) {
	if len(gold)+len(cand) > memoMaxKey {
		return false, false
	}
	s := m.shard(gold, cand)
	k := memoKey{gold, cand}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok = s.cur[k]; ok {
		return v, true
	}
	if v, ok = s.old[k]; ok {
		s.insert(k, v, m.per)
	}
	return v, ok
}

func (m *verdictMemo) put(gold, cand string, v bool) {
	if len(gold)+len(cand) > memoMaxKey {
		return
	}
	s := m.shard(gold, cand)
	// Copy the strings so the memo does not pin large response buffers.
	k := memoKey{strings.Clone(gold), strings.Clone(cand)}
	s.mu.Lock()
	s.insert(k, v, m.per)
	s.mu.Unlock()
}

func (s *memoShard) insert(k memoKey, v bool, per int) {
	if len(s.cur) >= per {
		s.old = s.cur
		s.cur = make(map[memoKey]bool, per)
	}
	s.cur[k] = v
}

// len returns the number of entries held (for tests).
func (m *verdictMemo) len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.cur) + len(s.old)
		s.mu.Unlock()
	}
	return n
}
