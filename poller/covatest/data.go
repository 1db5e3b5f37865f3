package covatest

import (
	"cmp"
	"context"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"
)

// row is one customer (or one raw record) as served. Its json is rendered once per
// Version and never changed afterwards, so a response can keep referring to it
// after the lock is released.
type row struct {
	id      string
	k1, k2  uint64 // SQL Server uniqueidentifier order of id
	rk      uint64 // OrderRandom position
	lm      int64  // LastModifiedDateUtc, ticks
	version int64
	seed    uint64
	json    []byte
	raw     bool
}

// company holds one company's customers and the serving order. order is kept
// sorted incrementally for single changes; a bulk load appends and marks it dirty,
// and the next request sorts once.
type company struct {
	id     int64
	rows   map[string]*row // customers by Id (raw records are not customers)
	list   []*row          // customers in creation order, for random picks
	order  []*row          // customers and raw records in serving order
	dirty  bool
	gen    uint64 // bumped by every change; keys the filter cache
	minLM  int64  // no row has an earlier LastModifiedDateUtc
	served []Served

	// The rows matching the last filter, reused while nothing changes: a scan
	// asks the same filter page after page.
	cacheSince int64
	cacheGen   uint64
	cacheRows  []*row
	cacheOK    bool
}

// bulkThreshold is the batch size above which inserts append and sort later
// instead of inserting one by one into the sorted order.
const bulkThreshold = 256

const yearTicks = 365 * 24 * 3600 * ticksPerSecond

var pow10 = []int64{1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000}

func (s *Simulator) companyLocked(id int64, create bool) *company {
	c := s.companies[id]
	if c == nil && create {
		c = &company{id: id, rows: make(map[string]*row), minLM: math.MaxInt64}
		s.companies[id] = c
	}
	return c
}

func (s *Simulator) cmpRows(a, b *row) int {
	switch s.cfg.Order {
	case OrderModified:
		if c := cmp.Compare(a.lm, b.lm); c != 0 {
			return c
		}
	case OrderRandom:
		if c := cmp.Compare(a.rk, b.rk); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.k1, b.k1); c != 0 {
		return c
	}
	if c := cmp.Compare(a.k2, b.k2); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

func (s *Simulator) sortedLocked(c *company) []*row {
	if c.dirty {
		slices.SortFunc(c.order, s.cmpRows)
		c.dirty = false
	}
	return c.order
}

// placeLocked puts a new row into the serving order.
func (s *Simulator) placeLocked(c *company, r *row, bulk bool) {
	c.minLM = min(c.minLM, r.lm)
	if bulk || c.dirty {
		c.gen++
		c.order = append(c.order, r)
		c.dirty = true
		return
	}
	i, _ := slices.BinarySearchFunc(c.order, r, s.cmpRows)
	c.order = slices.Insert(c.order, i, r)
	s.cacheUpdateLocked(c, r, false)
}

// cacheUpdateLocked keeps a valid filter cache valid across a change of one row
// (a new row, or one whose LastModifiedDateUtc moved while its place in the
// order stayed), so a scan over a company that changes between its pages does
// not re-filter the whole company for every page. wasIn says whether the row
// matched the cached filter before the change.
func (s *Simulator) cacheUpdateLocked(c *company, r *row, wasIn bool) {
	valid := c.cacheOK && c.cacheGen == c.gen
	c.gen++
	if !valid {
		return
	}
	isIn := r.lm >= c.cacheSince
	switch {
	case isIn && !wasIn:
		i, _ := slices.BinarySearchFunc(c.cacheRows, r, s.cmpRows)
		c.cacheRows = slices.Insert(c.cacheRows, i, r)
	case wasIn && !isIn:
		i, _ := slices.BinarySearchFunc(c.cacheRows, r, s.cmpRows)
		for i < len(c.cacheRows) && c.cacheRows[i] != r {
			i++
		}
		if i == len(c.cacheRows) {
			return // not found: leave the cache stale
		}
		c.cacheRows = slices.Delete(c.cacheRows, i, i+1)
	}
	c.cacheGen = c.gen
}

// unplaceLocked removes a row from the sorted order (before its key changes).
func (s *Simulator) unplaceLocked(c *company, r *row) {
	i, _ := slices.BinarySearchFunc(c.order, r, s.cmpRows)
	for ; i < len(c.order); i++ {
		if c.order[i] == r {
			c.order = slices.Delete(c.order, i, i+1)
			return
		}
	}
	panic("covatest: row missing from the serving order")
}

// addLocked creates len(lms) customers with these LastModifiedDateUtc values.
func (s *Simulator) addLocked(c *company, lms []int64) []string {
	rows := make([]row, len(lms))
	ptrs := make([]*row, len(lms))
	ids := make([]string, len(lms))
	for i, lm := range lms {
		id := newGUID(s.rng)
		for c.rows[id] != nil {
			id = newGUID(s.rng)
		}
		r := &rows[i]
		*r = row{id: id, lm: lm, version: 1, seed: s.rng.Uint64()}
		r.k1, r.k2 = guidKey(id)
		r.rk = randomKey(id, s.cfg.Seed)
		c.rows[id] = r // reserves the Id against a duplicate within the batch
		ptrs[i], ids[i] = r, id
	}
	renderAll(ptrs)
	bulk := len(lms) > bulkThreshold
	for _, r := range ptrs {
		c.list = append(c.list, r)
		s.placeLocked(c, r, bulk)
	}
	return ids
}

// renderAll renders rows in parallel into shared arenas: one allocation per
// megabyte instead of one per customer keeps a million-customer load fast.
func renderAll(rows []*row) {
	workers := min(runtime.GOMAXPROCS(0), 1+len(rows)/1000)
	var wg sync.WaitGroup
	chunk := (len(rows) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		part := rows[min(w*chunk, len(rows)):min((w+1)*chunk, len(rows))]
		wg.Go(func() {
			g := newGenerator()
			var arena []byte
			for _, r := range part {
				// Records stay well under 16 KiB, so rendering straight into the
				// arena practically never outgrows it (and is still correct if it does).
				if cap(arena)-len(arena) < 16<<10 {
					arena = make([]byte, 0, 1<<20)
				}
				c := buildCustomer(g, r.seed, r.id, r.version, r.lm)
				start := len(arena)
				arena = c.render(arena)
				r.json = arena[start:len(arena):len(arena)]
			}
		})
	}
	wg.Wait()
}

func renderRow(r *row) {
	c := buildCustomer(newGenerator(), r.seed, r.id, r.version, r.lm)
	r.json = slices.Clip(c.render(make([]byte, 0, 2048)))
}

// modifyLocked makes the next Version of a customer, last modified at lm.
func (s *Simulator) modifyLocked(c *company, r *row, lm int64) {
	s.setVersionLocked(c, r, r.version+1, lm)
}

// setVersionLocked gives a customer the Version, last modified at lm.
func (s *Simulator) setVersionLocked(c *company, r *row, version, lm int64) {
	moves := s.cfg.Order == OrderModified && !c.dirty
	if moves {
		s.unplaceLocked(c, r)
	}
	wasIn := c.cacheOK && r.lm >= c.cacheSince
	r.version = version
	r.lm = lm
	renderRow(r)
	if moves {
		s.placeLocked(c, r, false)
	} else if c.dirty {
		c.gen++
	} else {
		s.cacheUpdateLocked(c, r, wasIn)
	}
}

// pickLocked chooses n distinct random customers (all of them when n is larger).
func (s *Simulator) pickLocked(c *company, n int) []*row {
	if n >= len(c.list) {
		out := slices.Clone(c.list)
		s.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out
	}
	seen := make(map[int]bool, n)
	out := make([]*row, 0, n)
	for len(out) < n {
		i := s.rng.IntN(len(c.list))
		if !seen[i] {
			seen[i] = true
			out = append(out, c.list[i])
		}
	}
	return out
}

func (s *Simulator) modifyRandomLocked(c *company, n int, lm int64) []string {
	if c == nil || n <= 0 {
		return nil
	}
	var ids []string
	for _, r := range s.pickLocked(c, n) {
		s.modifyLocked(c, r, lm)
		ids = append(ids, r.id)
	}
	return ids
}

// Generate adds n realistic customers to the company (created on first use), with
// LastModifiedDateUtc spread over the year before now, and returns their Ids. The
// data depends only on Config.Seed and the sequence of calls. It holds the
// simulator's lock while it renders, on all cores: a million customers take
// seconds and about 2.5 GB.
func (s *Simulator) Generate(companyID int64, n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.companyLocked(companyID, true)
	now := toTicks(s.now())
	lms := make([]int64, max(n, 0))
	for i := range lms {
		lm := now - s.rng.Int64N(yearTicks)
		// Vary the precision (whole seconds to ticks) so that once trimmed,
		// fractions of every length from 0 to 7 digits appear.
		lm -= lm % pow10[s.rng.IntN(len(pow10))]
		lms[i] = lm
	}
	return s.addLocked(c, lms)
}

// Burst adds n customers that all share one LastModifiedDateUtc (at) and returns their Ids.
func (s *Simulator) Burst(companyID int64, n int, at time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.companyLocked(companyID, true)
	lms := make([]int64, max(n, 0))
	t := toTicks(at)
	for i := range lms {
		lms[i] = t
	}
	return s.addLocked(c, lms)
}

// Insert adds n new customers last modified now and returns their Ids.
func (s *Simulator) Insert(companyID int64, n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.insertLocked(s.companyLocked(companyID, true), n, toTicks(s.now()))
}

func (s *Simulator) insertLocked(c *company, n int, lm int64) []string {
	if n <= 0 {
		return nil
	}
	lms := make([]int64, n)
	for i := range lms {
		lms[i] = lm
	}
	return s.addLocked(c, lms)
}

// Modify changes n random existing customers of the company (Version+1,
// LastModifiedDateUtc = now, some field changed) and returns their Ids.
func (s *Simulator) Modify(companyID int64, n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.modifyRandomLocked(s.companyLocked(companyID, false), n, toTicks(s.now()))
}

// ModifyID changes one customer as Modify does; false when it is unknown.
func (s *Simulator) ModifyID(companyID int64, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.companyLocked(companyID, false)
	if c == nil || c.rows[id] == nil {
		return false
	}
	s.modifyLocked(c, c.rows[id], toTicks(s.now()))
	return true
}

// RestoreBackup sets each of the customers ids back by versions Versions (to
// no less than 1), last modified now, as Cova restored from a backup would:
// their Version goes down. It returns the ids it knew.
func (s *Simulator) RestoreBackup(companyID int64, versions int64, ids ...string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.companyLocked(companyID, false)
	if c == nil {
		return nil
	}
	var out []string
	for _, id := range ids {
		if r := c.rows[id]; r != nil {
			s.setVersionLocked(c, r, max(1, r.version-versions), toTicks(s.now()))
			out = append(out, id)
		}
	}
	return out
}

// AddRaw adds a record served verbatim (malformed records: no Id, wrong types, ...),
// placed in the order as if it had the given Id and LastModifiedDateUtc. It is not
// part of Truth. raw must be one JSON value or deliberately broken text; it is
// served between commas like any record.
func (s *Simulator) AddRaw(companyID int64, id string, lastModified time.Time, raw string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.companyLocked(companyID, true)
	r := &row{id: id, lm: toTicks(lastModified), json: []byte(raw), raw: true}
	r.k1, r.k2 = guidKey(id)
	r.rk = randomKey(id, s.cfg.Seed)
	s.placeLocked(c, r, false)
}

// Trickle modifies and inserts customers of the company (about four
// modifications to one insert) at perSecond changes a second, in wall-clock
// time, until ctx ends. It blocks; run it in a goroutine you wait for.
func (s *Simulator) Trickle(ctx context.Context, companyID int64, perSecond float64) {
	if perSecond <= 0 {
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(max(time.Duration(float64(time.Second)/perSecond), 10*time.Millisecond))
	defer tick.Stop()
	start, done := time.Now(), 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		due := int(time.Since(start).Seconds()*perSecond) - done
		if due <= 0 {
			continue
		}
		s.mu.Lock()
		c := s.companyLocked(companyID, true)
		now := toTicks(s.now())
		for range due {
			if len(c.list) == 0 || s.rng.IntN(5) == 0 {
				s.insertLocked(c, 1, now)
			} else {
				s.modifyLocked(c, c.list[s.rng.IntN(len(c.list))], now)
			}
		}
		s.mu.Unlock()
		done += due
	}
}

// matchingLocked returns the rows with LastModifiedDateUtc >= since in serving
// order. The slice is only valid until the lock is released.
func (s *Simulator) matchingLocked(c *company, since int64) []*row {
	order := s.sortedLocked(c)
	if since <= c.minLM {
		return order
	}
	if s.cfg.Order == OrderModified {
		i, _ := slices.BinarySearchFunc(order, since, func(r *row, t int64) int { return cmp.Compare(r.lm, t) })
		return order[i:]
	}
	if c.cacheOK && c.cacheSince == since && c.cacheGen == c.gen {
		return c.cacheRows
	}
	out := c.cacheRows[:0]
	for _, r := range order {
		if r.lm >= since {
			out = append(out, r)
		}
	}
	c.cacheSince, c.cacheGen, c.cacheRows, c.cacheOK = since, c.gen, out, true
	return out
}

// Truth returns each customer's current Version, keyed by Id.
func (s *Simulator) Truth(companyID int64) map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64)
	if c := s.companyLocked(companyID, false); c != nil {
		for id, r := range c.rows {
			out[id] = r.version
		}
	}
	return out
}

// Record returns the JSON the simulator currently serves for one customer.
func (s *Simulator) Record(companyID int64, id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.companyLocked(companyID, false)
	if c == nil || c.rows[id] == nil {
		return "", false
	}
	return string(c.rows[id].json), true
}

// Served returns every (Id, Version) of the company ever served, in serving order
// (with repeats). Rows cut off by TruncateNext are not included; raw records are,
// with Version 0. Empty when Config.NoServedLog is set.
func (s *Simulator) Served(companyID int64) []Served {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.companyLocked(companyID, false); c != nil {
		return slices.Clone(c.served)
	}
	return nil
}
