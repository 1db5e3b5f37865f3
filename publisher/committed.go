package publisher

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/covacdc/covacdc/state"
)

// committedView is the state as committed to the state topic, and what this
// publisher saw of each company since it started: what Cursor, Companies and
// metric scrapes read.
//
// mu guards every field. Whoever writes one holds Publisher.txnMu as well (a
// commit, a restore, a scan beginning or committing), so code holding txnMu
// may read idx without mu: nothing can change it meanwhile.
type committedView struct {
	mu          sync.RWMutex
	idx         *state.Index
	seen        map[int64]struct{}  // companies that began a scan
	lastSuccess map[int64]time.Time // when each company's last scan committed
	startFrom   time.Time           // the cursor of a company with no state (Config.StartFrom)
	// resynced counts the customers resyncs published, by company, since
	// this publisher started (covacdc_resync_customers_total).
	resynced map[int64]int
}

func newCommittedView(startFrom time.Time) committedView {
	return committedView{
		idx:         state.NewIndex(),
		seen:        make(map[int64]struct{}),
		lastSuccess: make(map[int64]time.Time),
		resynced:    make(map[int64]int),
		startFrom:   startFrom,
	}
}

// cursor returns the company's committed cursor, or one at startFrom.
func (v *committedView) cursor(companyID int64) state.Cursor {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if c, ok := v.idx.Cursor(companyID); ok {
		return c
	}
	return state.Cursor{Since: v.startFrom}
}

// companies returns the state of every company in the index or seen since,
// ordered by id.
func (v *committedView) companies() []state.CompanyState {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := v.idx.Companies()
	known := make(map[int64]bool, len(out))
	for _, c := range out {
		known[c.CompanyID] = true
	}
	for id := range v.seen {
		if !known[id] {
			out = append(out, state.CompanyState{CompanyID: id, Cursor: state.Cursor{Since: v.startFrom}})
		}
	}
	slices.SortFunc(out, func(a, b state.CompanyState) int { return cmp.Compare(a.CompanyID, b.CompanyID) })
	return out
}

func (v *committedView) lastSuccesses() map[int64]time.Time {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return maps.Clone(v.lastSuccess)
}

// restored replaces the index with one a restore rebuilt. Called with txnMu.
func (v *committedView) restored(idx *state.Index) {
	v.mu.Lock()
	v.idx = idx
	v.mu.Unlock()
}

// commit applies a committed transaction's pending changes. Called with txnMu.
func (v *committedView) commit(pending *state.Pending) {
	v.mu.Lock()
	for c, n := range pending.Resyncs() {
		v.resynced[c] += n
	}
	pending.Commit()
	v.mu.Unlock()
}

// began notes a company whose scan began. Called with txnMu.
func (v *committedView) began(companyID int64) {
	v.mu.Lock()
	v.seen[companyID] = struct{}{}
	v.mu.Unlock()
}

// succeeded notes when a company's scan committed and returns how many of its
// customers are tracked. Called with txnMu.
func (v *committedView) succeeded(companyID int64, at time.Time) (tracked int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lastSuccess[companyID] = at
	return v.idx.Tracked(companyID)
}

// activeResync returns the company's committed active resync; nil when none.
func (v *committedView) activeResync(companyID int64) *state.Resync {
	v.mu.RLock()
	defer v.mu.RUnlock()
	c, _ := v.idx.Cursor(companyID)
	return c.Resync
}

// signalOffset returns the committed position of a signal-topic partition.
func (v *committedView) signalOffset(partition int32) (int64, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.idx.SignalOffset(partition)
}

// resyncCounts returns how many customers resyncs published, by company,
// since the publisher started.
func (v *committedView) resyncCounts() map[int64]int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return maps.Clone(v.resynced)
}
