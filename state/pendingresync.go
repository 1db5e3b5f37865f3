package state

// DiffResync is Diff for a customer in the scope of the company's active
// resync, of Seq seq: a customer that resync has not published yet (committed
// or in this transaction) is Changed whatever its Version, with Resync set and
// Previous the last published Version; one it has published is diffed as
// usual.
func (p *Pending) DiffResync(companyID int64, id [16]byte, version, seq int64) Change {
	ch := p.Diff(companyID, id, version)
	if !p.Resynced(companyID, id, seq) {
		cur, _ := p.idx.Cursor(companyID)
		ch.Outcome, ch.Resync, ch.InitialLoad = Changed, true, !cur.InitialLoadComplete
	}
	return ch
}

// Resynced reports whether the resync of Seq seq has published the customer,
// committed (seq is the company's active resync) or in this transaction.
func (p *Pending) Resynced(companyID int64, id [16]byte, seq int64) bool {
	if s, ok := p.marks[companyID][id]; ok {
		return s == seq
	}
	cur, _ := p.idx.Cursor(companyID)
	return cur.activeSeq() == seq && p.idx.Resynced(companyID, id)
}

// SetResynced records that this transaction publishes the Version in a scan of
// the resync of Seq seq: the record is format 2 (AppendResyncVersionValue) and
// at commit the Version replaces the recorded one, lower or not.
func (p *Pending) SetResynced(companyID int64, id [16]byte, version, seq int64) {
	if !p.Resynced(companyID, id, seq) {
		if p.resyncs == nil {
			p.resyncs = make(map[int64]int)
		}
		p.resyncs[companyID]++
	}
	p.companyVersions(companyID)[id] = version
	if p.marks == nil {
		p.marks = make(map[int64]map[[16]byte]int64)
	}
	mk := p.marks[companyID]
	if mk == nil {
		mk = make(map[[16]byte]int64)
		p.marks[companyID] = mk
	}
	mk[id] = seq
	p.n++
}

// Resyncs returns how many customers this transaction publishes for the first
// time in a resync, by company: its resync snapshots. The map is p's; read it
// before Commit or Discard.
func (p *Pending) Resyncs() map[int64]int { return p.resyncs }

// SetSignalOffset records that this transaction moves the consumed position
// of a signal-topic partition to next.
func (p *Pending) SetSignalOffset(partition int32, next int64) {
	if p.signals == nil {
		p.signals = make(map[int32]int64)
	}
	p.signals[partition] = next
	p.n++
}
