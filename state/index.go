package state

import (
	"cmp"
	"slices"
)

// Index is the in-memory image of the state topic: for each company the last
// published Version of each customer, the dead letters already published and the
// cursor. A customer costs a 16-byte id and an 8-byte Version in a map keyed by
// value (no strings, no boxed values).
//
// Reads of an Index may run at once; a write must exclude every other read
// and write (the publisher holds a lock for it). It only ever moves a
// customer's Version forward, but for a resync's (SetResynced), which follows
// Cova's current Version wherever it went.
type Index struct {
	companies map[int64]*company
	// last caches the company of the previous write: a restore writes long
	// runs of one company's keys. Only writes set it, so that reads write
	// nothing.
	last *company
	// signals is the consumed position of each partition of the signal
	// topic: the offset of the next signal to read.
	signals map[int32]int64
}

type company struct {
	id          int64
	versions    map[[16]byte]int64
	deadLetters map[[16]byte]struct{}
	cursor      Cursor
	hasCursor   bool
	// marks are the customers the active resync published (resync.go); nil
	// while no resync is active.
	marks marks
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{companies: make(map[int64]*company)}
}

// company returns the company's entry, or nil. It writes nothing.
func (x *Index) company(id int64) *company {
	if c := x.last; c != nil && c.id == id {
		return c
	}
	return x.companies[id]
}

// write returns the company's entry, made when missing, for a write.
func (x *Index) write(id int64) *company {
	c := x.company(id)
	if c == nil {
		c = &company{id: id, versions: make(map[[16]byte]int64)}
		x.companies[id] = c
	}
	x.last = c
	return c
}

// Version returns the last published Version of a customer.
func (x *Index) Version(companyID int64, id [16]byte) (int64, bool) {
	c := x.company(companyID)
	if c == nil {
		return 0, false
	}
	v, ok := c.versions[id]
	return v, ok
}

// SetVersion records a published Version; an older one than the recorded one is
// ignored, so a customer never moves backwards.
func (x *Index) SetVersion(companyID int64, id [16]byte, version int64) {
	c := x.write(companyID)
	if old, ok := c.versions[id]; !ok || version > old {
		c.versions[id] = version
	}
}

// Cursor returns the company's cursor; false when no scan of it has completed.
func (x *Index) Cursor(companyID int64) (Cursor, bool) {
	c := x.company(companyID)
	if c == nil {
		return Cursor{}, false
	}
	return c.cursor, c.hasCursor
}

// SetCursor records the company's cursor. The marks of a resync it says
// completed or was replaced are dropped.
func (x *Index) SetCursor(companyID int64, cur Cursor) {
	c := x.write(companyID)
	c.cursor, c.hasCursor = cur, true
	c.pruneMarks(false)
}

// HasDeadLetter reports whether the dead letter identified by hash was already
// published for the company.
func (x *Index) HasDeadLetter(companyID int64, hash [16]byte) bool {
	c := x.company(companyID)
	if c == nil || c.deadLetters == nil {
		return false
	}
	_, ok := c.deadLetters[hash]
	return ok
}

// AddDeadLetter records a published dead letter.
func (x *Index) AddDeadLetter(companyID int64, hash [16]byte) {
	c := x.write(companyID)
	if c.deadLetters == nil {
		c.deadLetters = make(map[[16]byte]struct{})
	}
	c.deadLetters[hash] = struct{}{}
}

// Tracked returns how many customers of the company have a published Version.
func (x *Index) Tracked(companyID int64) int {
	c := x.company(companyID)
	if c == nil {
		return 0
	}
	return len(c.versions)
}

// Len returns how many customers are tracked over all companies.
func (x *Index) Len() int {
	n := 0
	for _, c := range x.companies {
		n += len(c.versions)
	}
	return n
}

// Companies returns the state of every company in the index, ordered by id.
func (x *Index) Companies() []CompanyState {
	out := make([]CompanyState, 0, len(x.companies))
	for _, c := range x.companies {
		out = append(out, CompanyState{CompanyID: c.id, Cursor: c.cursor, HasCursor: c.hasCursor, Tracked: len(c.versions), Resynced: c.resynced()})
	}
	slices.SortFunc(out, func(a, b CompanyState) int { return cmp.Compare(a.CompanyID, b.CompanyID) })
	return out
}

// Apply applies one record of the state topic, as a restore reads it. Records
// merge by maximum (the higher Version, the cursor of more completed scans, the
// further signal position), so the result does not depend on the order of
// partitions; a version record of a resync (format 2) replaces the customer's
// Version instead, since the records of one key are read in the order they were
// written (one key, one partition). A record with a nil
// value (a tombstone an operator wrote) forgets the key. Startup markers are
// ignored. An unreadable record is an error wrapping ErrBadRecord.
func (x *Index) Apply(key, value []byte) error {
	if len(key) < 2 || key[1] != '/' {
		return badRecord(key, "unknown key")
	}
	switch key[0] {
	case 'v':
		companyID, id, err := parseCompanyAndHex(key, key[2:])
		if err != nil {
			return err
		}
		if value == nil {
			if c := x.company(companyID); c != nil {
				delete(c.versions, id)
				c.unmark(id)
			}
			return nil
		}
		v, seq, err := parseVersionValue(key, value)
		if err != nil {
			return err
		}
		if seq != 0 {
			x.SetResynced(companyID, id, v, seq)
			return nil
		}
		x.SetVersion(companyID, id, v)
		if c := x.last; c.marks != nil {
			c.unmark(id)
		}
	case 'c':
		companyID, rest, err := parseCompany(key, key[2:])
		if err != nil {
			return err
		}
		if len(rest) != 0 {
			return badRecord(key, "trailing bytes after the company id")
		}
		if value == nil {
			if c := x.company(companyID); c != nil {
				c.cursor, c.hasCursor = Cursor{}, false
			}
			return nil
		}
		cur, err := parseCursorValue(key, value)
		if err != nil {
			return err
		}
		if old, ok := x.Cursor(companyID); !ok || cur.Scans >= old.Scans {
			x.SetCursor(companyID, cur)
		}
	case 'd':
		companyID, hash, err := parseCompanyAndHex(key, key[2:])
		if err != nil {
			return err
		}
		if value == nil {
			if c := x.company(companyID); c != nil && c.deadLetters != nil {
				delete(c.deadLetters, hash)
			}
			return nil
		}
		x.AddDeadLetter(companyID, hash)
	case 's':
		return x.applySignal(key, value)
	case 'm':
		return nil
	default:
		return badRecord(key, "unknown key")
	}
	return nil
}
