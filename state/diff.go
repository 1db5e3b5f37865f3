package state

import (
	"crypto/sha256"
)

// Outcome is what the diff makes of a customer's Version.
type Outcome int

const (
	Changed   Outcome = iota // newer than the last published Version: publish it
	Unchanged                // equal to the last published Version: skip and count
	Stale                    // older than the last published Version: skip and count, never move backwards
)

func (o Outcome) String() string {
	switch o {
	case Changed:
		return "changed"
	case Unchanged:
		return "unchanged"
	case Stale:
		return "stale"
	}
	return "unknown"
}

// Change is the diff of one customer: facts, from which the publisher decides
// how to call the change.
type Change struct {
	Outcome Outcome
	// Previous is the last published Version, when HasPrevious. A customer
	// without one has never been published: this is its first event.
	Previous    int64
	HasPrevious bool
	// InitialLoad says, of a Changed customer, that the company's committed
	// cursor has not completed the initial load yet.
	InitialLoad bool
	// Resync says that the company's active resync publishes the customer
	// now, whatever its Version (Outcome is Changed): its event is a SNAPSHOT.
	Resync bool
}

// Pending is one transaction's state changes on top of a committed Index. The
// diff sees the committed index plus what this transaction already holds, so a
// customer served twice within one transaction is published once per Version.
// The index only takes the changes on Commit, once the Kafka transaction has
// committed; Discard forgets them after an abort.
//
// A Pending is not safe for concurrent use; it shares its owner's lock with the
// Index.
type Pending struct {
	idx         *Index
	versions    map[int64]map[[16]byte]int64
	deadLetters map[int64]map[[16]byte]struct{}
	cursors     map[int64]Cursor
	// marks are the customers this transaction publishes with a resync's
	// Seq (their records are format 2), and resyncs how many of them the
	// resync publishes for the first time, by company.
	marks   map[int64]map[[16]byte]int64
	resyncs map[int64]int
	signals map[int32]int64
	n       int
	// sizeHint is the most versions one company had in the last transaction:
	// the next one's map starts that large instead of growing to it.
	sizeHint int
}

// NewPending returns an empty set of pending changes on top of idx.
func NewPending(idx *Index) *Pending {
	return &Pending{idx: idx}
}

// Diff compares a customer's Version with the last one published (committed or
// pending in this transaction). It changes nothing.
func (p *Pending) Diff(companyID int64, id [16]byte, version int64) Change {
	prev, ok := p.pendingVersion(companyID, id)
	if !ok {
		prev, ok = p.idx.Version(companyID, id)
	}
	switch {
	case ok && version == prev:
		return Change{Outcome: Unchanged, Previous: prev, HasPrevious: true}
	case ok && version < prev:
		return Change{Outcome: Stale, Previous: prev, HasPrevious: true}
	}
	cur, _ := p.idx.Cursor(companyID)
	return Change{Outcome: Changed, Previous: prev, HasPrevious: ok, InitialLoad: !cur.InitialLoadComplete}
}

func (p *Pending) pendingVersion(companyID int64, id [16]byte) (int64, bool) {
	m := p.versions[companyID]
	if m == nil {
		return 0, false
	}
	v, ok := m[id]
	return v, ok
}

// SetVersion records that this transaction publishes the Version.
func (p *Pending) SetVersion(companyID int64, id [16]byte, version int64) {
	m := p.companyVersions(companyID)
	if old, ok := m[id]; !ok || version > old {
		m[id] = version
	}
	p.n++
}

// companyVersions returns the company's pending versions, made when missing.
func (p *Pending) companyVersions(companyID int64) map[[16]byte]int64 {
	if p.versions == nil {
		p.versions = make(map[int64]map[[16]byte]int64)
	}
	m := p.versions[companyID]
	if m == nil {
		m = make(map[[16]byte]int64, p.sizeHint)
		p.versions[companyID] = m
	}
	return m
}

// HasDeadLetter reports whether the dead letter was published, committed or in
// this transaction.
func (p *Pending) HasDeadLetter(companyID int64, hash [16]byte) bool {
	if _, ok := p.deadLetters[companyID][hash]; ok {
		return true
	}
	return p.idx.HasDeadLetter(companyID, hash)
}

// AddDeadLetter records that this transaction publishes the dead letter.
func (p *Pending) AddDeadLetter(companyID int64, hash [16]byte) {
	if p.deadLetters == nil {
		p.deadLetters = make(map[int64]map[[16]byte]struct{})
	}
	m := p.deadLetters[companyID]
	if m == nil {
		m = make(map[[16]byte]struct{})
		p.deadLetters[companyID] = m
	}
	m[hash] = struct{}{}
	p.n++
}

// SetCursor records that this transaction moves the company's cursor.
func (p *Pending) SetCursor(companyID int64, c Cursor) {
	if p.cursors == nil {
		p.cursors = make(map[int64]Cursor)
	}
	p.cursors[companyID] = c
	p.n++
}

// Len returns how many changes are pending.
func (p *Pending) Len() int { return p.n }

// Commit applies the pending changes to the index and empties p. Call it only
// once the Kafka transaction holding the matching records has committed.
func (p *Pending) Commit() {
	for c, m := range p.versions {
		marks := p.marks[c]
		for id, v := range m {
			if seq, ok := marks[id]; ok {
				p.idx.SetResynced(c, id, v, seq)
			} else {
				p.idx.SetVersion(c, id, v)
			}
		}
	}
	for part, next := range p.signals {
		p.idx.SetSignalOffset(part, next)
	}
	for c, m := range p.deadLetters {
		for h := range m {
			p.idx.AddDeadLetter(c, h)
		}
	}
	for c, cur := range p.cursors {
		p.idx.SetCursor(c, cur)
	}
	p.Discard()
}

// Discard forgets the pending changes (the transaction aborted).
func (p *Pending) Discard() {
	p.sizeHint = 0
	for _, m := range p.versions {
		p.sizeHint = max(p.sizeHint, len(m))
	}
	p.versions, p.deadLetters, p.cursors, p.n = nil, nil, nil, 0
	p.marks, p.resyncs, p.signals = nil, nil, nil
}

// DeadLetterHash identifies a dead letter of a company by its raw bytes: the same
// bad record, re-read by every scan whose window covers it, is published once.
func DeadLetterHash(raw []byte) [16]byte {
	sum := sha256.Sum256(raw)
	var h [16]byte
	copy(h[:], sum[:16])
	return h
}
