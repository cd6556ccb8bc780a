package llm

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/preflight-hq/preflight/persona"
)

// cacheSchemaVersion is part of every cache key; bump it when the key's
// inputs or the stored entry change meaning, which orphans old entries.
const cacheSchemaVersion = 1

// memoryCacheEntries bounds the in-memory tier (least recently used
// entries are dropped; the disk tier keeps them).
const memoryCacheEntries = 100_000

// keyInput is what a cache key hashes, in a fixed field order. The base
// URL and the API key are deliberately absent: the same model answering
// the same request through another gateway or key is the same answer.
type keyInput struct {
	Version             int               `json:"v"`
	Model               string            `json:"model"`
	Messages            []persona.Message `json:"messages"`
	Temperature         float64           `json:"temperature"`
	Seed                *int64            `json:"seed"`
	MaxCompletionTokens int               `json:"max_completion_tokens"`
	Format              StructuredOutput  `json:"response_format"`
	Schema              json.RawMessage   `json:"schema"`
	Sample              int               `json:"sample"`
}

// cacheKey returns the hex SHA-256 of the canonical JSON of in: struct
// fields in declaration order, object keys of the schema sorted, no
// insignificant whitespace.
func cacheKey(in keyInput) (string, error) {
	if len(in.Schema) > 0 {
		canon, err := canonicalJSON(in.Schema)
		if err != nil {
			return "", fmt.Errorf("cannot canonicalize the output schema: %w", err)
		}
		in.Schema = canon
	}
	b, err := json.Marshal(in)
	if err != nil {
		return "", fmt.Errorf("cannot encode the cache key: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// canonicalJSON re-encodes raw with object keys sorted and without
// insignificant whitespace (encoding/json sorts map keys).
func canonicalJSON(raw json.RawMessage) (json.RawMessage, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// cacheEntry is one stored answer.
type cacheEntry struct {
	Version           int       `json:"v"`
	Key               string    `json:"key"`
	Model             string    `json:"model"`
	Content           string    `json:"content"`
	PromptTokens      int       `json:"prompt_tokens"`
	CompletionTokens  int       `json:"completion_tokens"`
	SystemFingerprint string    `json:"system_fingerprint,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
}

// responseCache is a two-tier cache: an LRU in memory over an optional
// directory with one JSON file per key (dir/ab/abcdef….json), each written
// to a temporary file and renamed into place, so a reader sees a whole
// entry or none and a crash leaves no torn file. It is safe for
// concurrent use; concurrent misses of one key both call the endpoint and
// the last write wins, which is harmless.
type responseCache struct {
	dir string

	mu    sync.Mutex
	order *list.List               // front = most recently used; values are *cacheEntry
	items map[string]*list.Element // key → element of order
}

func newResponseCache(dir string) (*responseCache, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("cannot create the cache directory: %w", err)
		}
	}
	return &responseCache{dir: dir, order: list.New(), items: map[string]*list.Element{}}, nil
}

// get returns the entry under key from memory, else from disk (promoting
// it to memory). A missing, unreadable or mismatched file is a miss.
func (c *responseCache) get(key string) (cacheEntry, bool) {
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.order.MoveToFront(el)
		e := *el.Value.(*cacheEntry)
		c.mu.Unlock()
		return e, true
	}
	c.mu.Unlock()
	if c.dir == "" {
		return cacheEntry{}, false
	}
	b, err := os.ReadFile(c.path(key))
	if err != nil {
		return cacheEntry{}, false
	}
	var e cacheEntry
	if json.Unmarshal(b, &e) != nil || e.Key != key || e.Version != cacheSchemaVersion {
		return cacheEntry{}, false
	}
	c.remember(e)
	return e, true
}

// put stores e in memory and, with a directory, on disk.
func (c *responseCache) put(e cacheEntry) error {
	c.remember(e)
	if c.dir == "" {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("cannot encode cache entry %s: %w", e.Key, err)
	}
	return writeFileAtomic(c.path(e.Key), b)
}

func (c *responseCache) remember(e cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[e.Key]; ok {
		el.Value = &e
		c.order.MoveToFront(el)
		return
	}
	c.items[e.Key] = c.order.PushFront(&e)
	for c.order.Len() > memoryCacheEntries {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).Key)
	}
}

func (c *responseCache) path(key string) string {
	return filepath.Join(c.dir, key[:2], key+".json")
}

// writeFileAtomic writes b to path through a synced temporary file in the
// same directory and a rename.
func writeFileAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create cache directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot create a temporary cache file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			if rmErr := os.Remove(f.Name()); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
				err = errors.Join(err, rmErr)
			}
		}
	}()
	if _, err = f.Write(b); err != nil {
		return fmt.Errorf("cannot write cache file %s: %w", f.Name(), err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("cannot sync cache file %s: %w", f.Name(), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("cannot close cache file %s: %w", f.Name(), err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("cannot move cache file into place at %s: %w", path, err)
	}
	return nil
}
