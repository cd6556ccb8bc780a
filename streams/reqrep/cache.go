package reqrep

import (
	"container/list"
	"sync"
	"time"
)

// replyCache remembers the replies of recent requests by correlation id and
// reply topic, so a redelivered request is answered without calling the
// handler again. It is bounded in entries (least recently used first out)
// and in age (TTL after the reply was computed). It also joins concurrent
// copies of one request: the first computes, the others wait for its reply
// (like singleflight). It is safe for concurrent use; mu is a leaf lock.
type replyCache struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	now     func() time.Time
	ll      *list.List // of *cacheEntry, most recent first
	entries map[string]*list.Element
}

// cacheEntry is one request's reply. done is closed when reply is set.
type cacheEntry struct {
	key     string
	done    chan struct{}
	reply   cachedReply
	expires time.Time // zero while computing
}

// cachedReply is what is re-sent to a duplicate request.
type cachedReply struct {
	key     []byte
	value   []byte
	kind    ErrorKind // "" for success
	message string
	headers []kHeader
}

// kHeader is a reply header the handler added.
type kHeader struct {
	key   string
	value []byte
}

func newReplyCache(max int, ttl time.Duration) *replyCache {
	return &replyCache{max: max, ttl: ttl, now: time.Now, ll: list.New(), entries: map[string]*list.Element{}}
}

// cacheKey joins a correlation id and a reply topic, so two requesters that
// happen to pick the same correlation id on different reply topics never see
// each other's replies.
func cacheKey(corr []byte, replyTopic string) string {
	return string(corr) + "\x00" + replyTopic
}

// acquire returns the entry for key and whether the caller must compute it
// (then it must call finish or abandon). Otherwise the caller waits on the
// entry's done channel and re-sends its reply.
func (c *replyCache) acquire(key string) (e *cacheEntry, compute bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*cacheEntry)
		if e.expires.IsZero() || c.now().Before(e.expires) {
			c.ll.MoveToFront(el)
			return e, false
		}
		c.ll.Remove(el)
		delete(c.entries, key)
	}
	e = &cacheEntry{key: key, done: make(chan struct{})}
	c.entries[key] = c.ll.PushFront(e)
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.entries, old.Value.(*cacheEntry).key)
	}
	return e, true
}

// finish records the computed reply and wakes the waiters. With keep false
// the reply is handed to the current waiters only and forgotten, so a later
// copy of the request is computed again (used for timeouts, which a retry
// with a later deadline should not inherit).
func (c *replyCache) finish(e *cacheEntry, r cachedReply, keep bool) {
	c.mu.Lock()
	e.reply = r
	e.expires = c.now().Add(c.ttl)
	if !keep {
		c.forgetLocked(e)
	}
	c.mu.Unlock()
	close(e.done)
}

func (c *replyCache) forgetLocked(e *cacheEntry) {
	if el, ok := c.entries[e.key]; ok && el.Value.(*cacheEntry) == e {
		c.ll.Remove(el)
		delete(c.entries, e.key)
	}
}

// len returns the number of entries.
func (c *replyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
