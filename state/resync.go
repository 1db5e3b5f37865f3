package state

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"
)

// Resync is a request to publish a company's customers again, whatever their
// Versions: every customer's current record, or only Customers'. It lives in
// the company's cursor (Cursor.Resync) from its acceptance until a scan that
// published it completes. The Resync of a Cursor read from an Index is the
// index's own: treat it as read-only.
type Resync struct {
	// ID is the requester's id of the request, kept for operators.
	ID string
	// Seq numbers the company's resyncs, increasing: the publisher assigns it
	// when it accepts the request. The version records a resync writes carry
	// it, so that a restart knows which customers this resync has published.
	Seq int64
	// Customers are the GUIDs to publish; empty: every customer.
	Customers [][16]byte
	// RequestedAt is when the requester asked; AcceptedAt when the publisher
	// committed the request.
	RequestedAt, AcceptedAt time.Time
}

// InScope reports whether the resync publishes the customer.
func (r *Resync) InScope(id [16]byte) bool {
	if len(r.Customers) == 0 {
		return true
	}
	for _, c := range r.Customers {
		if c == id {
			return true
		}
	}
	return false
}

// CompletedResync is what the cursor keeps of the last resync completed.
type CompletedResync struct {
	ID          string
	Seq         int64
	CompletedAt time.Time
}

// LastResyncSeq returns the highest resync Seq the cursor knows of (active or
// completed); 0 when none. The next resync of the company takes one more.
func (c Cursor) LastResyncSeq() int64 {
	var seq int64
	if c.LastResync != nil {
		seq = c.LastResync.Seq
	}
	if c.Resync != nil {
		seq = max(seq, c.Resync.Seq)
	}
	return seq
}

// activeSeq is the Seq of the cursor's active resync; 0 when none.
func (c Cursor) activeSeq() int64 {
	if c.Resync == nil {
		return 0
	}
	return c.Resync.Seq
}

// FormatResyncVersion is the format byte of a version record written by a
// resync: the Version, then the resync's Seq. A covacdc that reads only
// FormatVersion refuses it ("version value format 2") rather than misread it.
const FormatResyncVersion = 2

// AppendResyncVersionValue appends the value of a version record written
// while a resync of the company is active: [2][varint Version][uvarint Seq].
// Unlike a format-1 record it replaces a higher Version on restore: a resync
// follows Cova's current Version even where it went backwards.
func AppendResyncVersionValue(dst []byte, version, seq int64) []byte {
	dst = append(dst, FormatResyncVersion)
	dst = binary.AppendVarint(dst, version)
	return binary.AppendUvarint(dst, uint64(seq))
}

// marks are the customers a company's resyncs have published, by resync Seq.
// Only the active resync's set is kept once the cursor is known; a restore
// holds a set whose cursor it has not read yet until it reads it (settle).
type marks map[int64]map[[16]byte]struct{}

// SetResynced records the Version a resync of Seq seq published: it replaces
// the recorded one, lower or higher, and marks the customer as published by
// that resync (kept only while seq may be the company's active resync).
func (x *Index) SetResynced(companyID int64, id [16]byte, version, seq int64) {
	c := x.write(companyID)
	c.versions[id] = version
	c.unmark(id)
	if c.hasCursor && seq != c.cursor.activeSeq() && seq <= c.cursor.LastResyncSeq() {
		return // a resync that completed or was replaced
	}
	if c.marks == nil {
		c.marks = make(marks)
	}
	m := c.marks[seq]
	if m == nil {
		m = make(map[[16]byte]struct{})
		c.marks[seq] = m
	}
	m[id] = struct{}{}
}

// Resynced reports whether the company's active resync has published the
// customer; false when no resync is active.
func (x *Index) Resynced(companyID int64, id [16]byte) bool {
	c := x.company(companyID)
	if c == nil || c.cursor.Resync == nil {
		return false
	}
	_, ok := c.marks[c.cursor.Resync.Seq][id]
	return ok
}

// ResyncedCount returns how many customers the company's active resync has
// published so far; 0 when none is active.
func (x *Index) ResyncedCount(companyID int64) int {
	c := x.company(companyID)
	if c == nil {
		return 0
	}
	return c.resynced()
}

func (c *company) resynced() int {
	if c.cursor.Resync == nil {
		return 0
	}
	return len(c.marks[c.cursor.Resync.Seq])
}

// unmark forgets the customer's marks: a later record of it replaces them.
func (c *company) unmark(id [16]byte) {
	for _, m := range c.marks {
		delete(m, id)
	}
}

// pruneMarks drops the marks of every resync the cursor says completed or was
// replaced. With final, it drops every set but the active resync's: nothing is
// left to read that could make another one active.
func (c *company) pruneMarks(final bool) {
	if c.marks == nil {
		return
	}
	active, known := c.cursor.activeSeq(), c.cursor.LastResyncSeq()
	for seq := range c.marks {
		if seq != active && (final || c.hasCursor && seq <= known) {
			delete(c.marks, seq)
		}
	}
	if len(c.marks) == 0 {
		c.marks = nil // nothing per customer while no resync is active
	}
}

// settle ends a restore: only each company's active resync keeps its marks.
func (x *Index) settle() {
	for _, c := range x.companies {
		c.pruneMarks(true)
	}
}

type resyncJSON struct {
	ID          string    `json:"id"`
	Seq         int64     `json:"seq"`
	Customers   []string  `json:"customers,omitempty"` // 32 hex digits each, as in the keys
	RequestedAt time.Time `json:"requestedAt"`
	AcceptedAt  time.Time `json:"acceptedAt"`
}

type lastResyncJSON struct {
	ID          string    `json:"id"`
	Seq         int64     `json:"seq"`
	CompletedAt time.Time `json:"completedAt"`
}

func toResyncJSON(r *Resync) *resyncJSON {
	if r == nil {
		return nil
	}
	j := &resyncJSON{ID: r.ID, Seq: r.Seq, RequestedAt: r.RequestedAt.UTC(), AcceptedAt: r.AcceptedAt.UTC()}
	for _, id := range r.Customers {
		j.Customers = append(j.Customers, hex.EncodeToString(id[:]))
	}
	return j
}

func fromResyncJSON(key []byte, j *resyncJSON) (*Resync, error) {
	if j == nil {
		return nil, nil
	}
	if j.Seq < 1 {
		return nil, badRecord(key, fmt.Sprintf("resync seq %d (want 1 or more)", j.Seq))
	}
	r := &Resync{ID: j.ID, Seq: j.Seq, RequestedAt: j.RequestedAt, AcceptedAt: j.AcceptedAt}
	for _, s := range j.Customers {
		var id [16]byte
		if len(s) != 32 {
			return nil, badRecord(key, fmt.Sprintf("resync customer %q: want 32 hex digits", s))
		}
		if _, err := hex.Decode(id[:], []byte(s)); err != nil {
			return nil, badRecord(key, fmt.Sprintf("resync customer %q: want 32 hex digits", s))
		}
		r.Customers = append(r.Customers, id)
	}
	return r, nil
}

func toLastResyncJSON(r *CompletedResync) *lastResyncJSON {
	if r == nil {
		return nil
	}
	return &lastResyncJSON{ID: r.ID, Seq: r.Seq, CompletedAt: r.CompletedAt.UTC()}
}

func fromLastResyncJSON(j *lastResyncJSON) *CompletedResync {
	if j == nil {
		return nil
	}
	return &CompletedResync{ID: j.ID, Seq: j.Seq, CompletedAt: j.CompletedAt}
}
