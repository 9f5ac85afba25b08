// Package cache holds the work of a render that does not depend on the
// node, done once when many nodes render in one process (a fleet; one node
// is a fleet of one): each input file read once, each CA bundle checked
// once, each large value (the agent) encoded, decompressed and digested
// once, each document shape translated once. It is the lowest layer of
// render/: every stage may use it, it uses none of them.
//
// A nil *Cache is valid and caches nothing: every Get computes.
package cache

import (
	"sync"
	"time"
)

// Cache is safe for concurrent use.
type Cache struct {
	read func(string) ([]byte, error)
	now  time.Time

	mu      sync.Mutex
	entries map[key]*entry
	counts  map[string]int
}

type key struct {
	kind string
	k    any
}

type entry struct {
	once sync.Once
	v    any
	err  error
}

// New returns a cache reading files with read, checking certificates at now.
func New(read func(string) ([]byte, error), now time.Time) *Cache {
	return &Cache{read: read, now: now, entries: map[key]*entry{}, counts: map[string]int{}}
}

// Now is the time certificates are checked at.
func (c *Cache) Now() time.Time { return c.now }

// ReadFile reads name once; later calls return the same bytes (or error),
// so that stdin (-) is read once whatever the number of nodes naming it.
func (c *Cache) ReadFile(name string) ([]byte, error) {
	return Get(c, "file", name, 0, func() ([]byte, error) { return c.read(name) })
}

// Len is the number of values of kind the cache keeps: for a document
// kind, how many times it was made (tests guard a fleet's sharing with it).
func (c *Cache) Len(kind string) int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[kind]
}

// Unbounded, as a limit, keeps every value of a kind.
const Unbounded = 0

// Get returns make's value for (kind, k), made once. k must be comparable.
// At most limit values of a kind are kept (Unbounded: all): past that,
// make runs every time rather than the cache growing without bound.
func Get[T any](c *Cache, kind string, k any, limit int, make func() (T, error)) (T, error) {
	if c == nil {
		return make()
	}
	id := key{kind, k}
	c.mu.Lock()
	e, ok := c.entries[id]
	if !ok {
		if limit != Unbounded && c.counts[kind] >= limit {
			c.mu.Unlock()
			return make()
		}
		e = &entry{}
		c.entries[id] = e
		c.counts[kind]++
	}
	c.mu.Unlock()
	e.once.Do(func() { e.v, e.err = make() })
	v, _ := e.v.(T)
	return v, e.err
}

// DataKey identifies a large value by its backing array, which a fleet
// shares between nodes (every node gets the same *embed.Agent): hashing
// megabytes to find them in a map would cost what the cache saves.
type DataKey struct {
	p *byte
	n int
}

// KeyOf is data's DataKey; ok is false for empty data.
func KeyOf(data []byte) (k DataKey, ok bool) {
	if len(data) == 0 {
		return DataKey{}, false
	}
	return DataKey{p: &data[0], n: len(data)}, true
}
