package sim

import (
	"container/list"
	"hash/fnv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// tokenize splits s into the simulator's tokens: a run of letters, a run of
// digits, a chat-template marker such as "<|im_start|>", or any other single
// character, each carrying the whitespace that precedes it. Whitespace at the
// very end of s is a token of its own. Concatenating the tokens gives s back.
func tokenize(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		start := i
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !unicode.IsSpace(r) {
				break
			}
			i += n
		}
		if i == len(s) {
			toks = append(toks, s[start:])
			break
		}
		if n := specialLen(s[i:]); n > 0 {
			i += n
			toks = append(toks, s[start:i])
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		var class func(rune) bool
		switch {
		case unicode.IsLetter(r):
			class = unicode.IsLetter
		case unicode.IsDigit(r):
			class = unicode.IsDigit
		}
		for class != nil && i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !class(r) {
				break
			}
			i += n
		}
		toks = append(toks, s[start:i])
	}
	return toks
}

// specialLen is the length of a "<|name|>" marker at the start of s, or 0.
func specialLen(s string) int {
	if !strings.HasPrefix(s, "<|") {
		return 0
	}
	for i := 2; i < len(s) && i < 64; i++ {
		c := s[i]
		switch {
		case c == '|':
			if i > 2 && i+1 < len(s) && s[i+1] == '>' {
				return i + 2
			}
			return 0
		case c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
		default:
			return 0
		}
	}
	return 0
}

// countTokens is len(tokenize(s)).
func countTokens(s string) int { return len(tokenize(s)) }

// prefixCache emulates vLLM's automatic prefix caching: the prompt's tokens
// fall into blocks of blockSize, a block is identified by a hash of every
// token up to its end, and an LRU keeps the identities of the blocks held.
type prefixCache struct {
	mu        sync.Mutex
	blockSize int
	capacity  int
	lru       *list.List // of uint64, front = most recently used
	index     map[uint64]*list.Element
}

func newPrefixCache(blockSize, capacity int) *prefixCache {
	return &prefixCache{blockSize: blockSize, capacity: capacity, lru: list.New(), index: map[uint64]*list.Element{}}
}

// blockIDs returns the identities of the full blocks of toks.
func (p *prefixCache) blockIDs(toks []string) []uint64 {
	h := fnv.New64a()
	ids := make([]uint64, 0, len(toks)/p.blockSize)
	for i, t := range toks {
		h.Write([]byte(t))
		h.Write([]byte{0})
		if (i+1)%p.blockSize == 0 {
			ids = append(ids, h.Sum64())
		}
	}
	return ids
}

// lookup returns how many leading tokens of toks were cached, then caches
// the prompt's full blocks. Like vLLM, at least the last prompt token is
// always computed, so only blocks within the first len(toks)-1 tokens can hit.
func (p *prefixCache) lookup(toks []string) int {
	ids := p.blockIDs(toks)
	p.mu.Lock()
	defer p.mu.Unlock()
	hits := 0
	maxHits := (len(toks) - 1) / p.blockSize
	for hits < len(ids) && hits < maxHits {
		if _, ok := p.index[ids[hits]]; !ok {
			break
		}
		hits++
	}
	// Touch the blocks last to first so that a prompt's leading blocks are
	// the most recently used and its tail is evicted first, as in vLLM.
	for i := len(ids) - 1; i >= 0; i-- {
		id := ids[i]
		if e, ok := p.index[id]; ok {
			p.lru.MoveToFront(e)
			continue
		}
		p.index[id] = p.lru.PushFront(id)
		for p.lru.Len() > p.capacity {
			old := p.lru.Back()
			p.lru.Remove(old)
			delete(p.index, old.Value.(uint64))
		}
	}
	return hits * p.blockSize
}
