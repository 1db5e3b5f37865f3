package poller

import "github.com/covacdc/covacdc/schema"

// tail remembers the last rows handed on from a response that ignores paging
// (the whole result in one response), so that when the response breaks off the
// scan can tell where to resume in the response read again (see scan.resume).
type tail struct {
	ring   []tailKey
	next   int
	handed int // rows handed on from the response so far
}

// tailKey identifies a row: a customer by Id and Version, an element that did
// not decode by its raw JSON.
type tailKey struct {
	id      [16]byte
	version int64
	raw     string
}

func newTail(n int) *tail { return &tail{ring: make([]tailKey, 0, n)} }

func tailKeyOf(c *schema.Customer, in *elemInfo) tailKey {
	if in.rerr != nil {
		return tailKey{raw: string(in.rerr.Raw)}
	}
	return tailKey{id: c.IdBytes, version: c.Version}
}

// add remembers a row handed on, forgetting the oldest once the ring is full.
func (t *tail) add(c *schema.Customer, in *elemInfo) {
	t.handed++
	k := tailKeyOf(c, in)
	if len(t.ring) < cap(t.ring) {
		t.ring = append(t.ring, k)
		return
	}
	t.ring[t.next] = k
	t.next = (t.next + 1) % len(t.ring)
}

func (t *tail) len() int { return len(t.ring) }

// keys returns the rows remembered, as a set.
func (t *tail) keys() map[tailKey]struct{} {
	m := make(map[tailKey]struct{}, len(t.ring))
	for _, k := range t.ring {
		m[k] = struct{}{}
	}
	return m
}
