package pipeline

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"
)

// scheduler decides when each company is scanned: every poll interval, and
// no more scans at once than the poller can keep busy, so that the memory of
// scans under way follows the requests in flight, not the company list. When
// the request budget cannot poll every company at the interval it says so,
// and scans the companies whose last scans found changes before those that
// found none.
type scheduler struct {
	interval time.Duration // --poll-interval
	once     bool          // --once: scan every company once, then return
	ids      []int64
	// maxScans is how many scans may run at once, read before each start.
	maxScans func() int
	// budget is the requests per minute the poller allows itself now.
	budget func() float64
	// scan scans one company and says whether it found changes. A non-nil
	// stop ends every scan, and run returns it.
	scan func(ctx context.Context, id int64) (changed bool, stop error)
	// effective is told the poll interval the budget allows at the start and
	// whenever it changes (see effectiveInterval).
	effective func(time.Duration)
	// wake names companies to scan now (a resync was accepted for them), or
	// as soon as the scan under way ends. Nil: none.
	wake <-chan int64
	log  *slog.Logger
	now  func() time.Time // default time.Now
}

// scheduled is one company's place in the schedule.
type scheduled struct {
	id      int64
	next    time.Time // when its next scan is due
	changed bool      // its last scan found changes
	running bool
	again   bool // woken while running: due again when the scan ends
	done    bool // with --once, scanned
}

// recheck is how often run looks again at the poller's concurrency while
// companies wait for a free slot: it grows as Cova's latency is learned.
const recheck = 250 * time.Millisecond

// run scans until ctx is done (then it returns nil once the scans under way
// have returned), a scan asks to stop (it returns that error once every scan
// has returned), or, with once, every company has been scanned.
func (s *scheduler) run(ctx context.Context) error {
	if s.now == nil {
		s.now = time.Now
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := s.now()
	all := make([]*scheduled, len(s.ids))
	for i, id := range s.ids {
		all[i] = &scheduled{id: id, next: start}
	}
	type result struct {
		c       *scheduled
		started time.Time
		changed bool
		stop    error
	}
	results := make(chan result)
	var wg sync.WaitGroup
	defer wg.Wait()
	running, scanned := 0, 0
	var stop error
	effective := time.Duration(0)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if e := effectiveInterval(len(all), s.interval, s.budget()); e != effective {
			s.report(effective, e)
			effective = e
		}
		now := s.now()
		waiting := false // a company is due but no slot is free
		if stop == nil && ctx.Err() == nil {
			limit := max(1, s.maxScans())
			for {
				c := pick(all, now, effective-s.interval)
				if c == nil {
					break
				}
				if running >= limit {
					waiting = true
					break
				}
				c.running = true
				running++
				wg.Add(1)
				go func(started time.Time) {
					defer wg.Done()
					changed, err := s.scan(ctx, c.id)
					results <- result{c: c, started: started, changed: changed, stop: err}
				}(now)
			}
		}
		if running == 0 && (stop != nil || ctx.Err() != nil || (s.once && scanned == len(all))) {
			return stop
		}
		var wake <-chan time.Time
		if stop == nil && ctx.Err() == nil {
			d := time.Duration(-1)
			if waiting {
				d = recheck
			} else if next, ok := nextDue(all); ok {
				d = max(0, next.Sub(now))
			}
			if d >= 0 {
				timer.Reset(d)
				wake = timer.C
			}
		}
		done := ctx.Done()
		if ctx.Err() != nil {
			done = nil // already seen: wait for the scans under way
		}
		select {
		case r := <-results:
			running--
			c := r.c
			c.running, c.changed = false, r.changed
			// Every interval from the start of the last scan, as a ticker would.
			c.next = r.started.Add(s.interval)
			if c.again {
				c.next, c.again = s.now(), false
			}
			if s.once {
				c.done = true
				scanned++
			}
			if r.stop != nil && stop == nil {
				stop = r.stop
				cancel()
			}
		case id := <-s.wake:
			for _, c := range all {
				switch {
				case c.id != id:
				case c.running:
					c.again = true
				case !c.done: // with once, a company scanned stays scanned
					c.next = s.now()
				}
			}
		case <-wake:
		case <-done:
		}
	}
}

// pick returns the company to scan next among those due at now: the one
// whose scan is longest overdue, where a company whose last scan found changes
// counts as overdue by bonus more. nil when none is due.
func pick(all []*scheduled, now time.Time, bonus time.Duration) *scheduled {
	var best *scheduled
	var bestKey time.Time
	for _, c := range all {
		if c.running || c.done || c.next.After(now) {
			continue
		}
		key := c.next
		if c.changed {
			key = key.Add(-bonus)
		}
		if best == nil || key.Before(bestKey) {
			best, bestKey = c, key
		}
	}
	return best
}

// nextDue is the earliest due time of the companies not scanning.
func nextDue(all []*scheduled) (time.Time, bool) {
	var next time.Time
	found := false
	for _, c := range all {
		if c.running || c.done {
			continue
		}
		if !found || c.next.Before(next) {
			next, found = c.next, true
		}
	}
	return next, found
}

// effectiveInterval is how often each of companies can be polled: the poll
// interval, or longer when the budget (requests per minute) cannot pay one
// request per company per interval, which is what a scan that finds nothing
// new costs.
func effectiveInterval(companies int, interval time.Duration, perMinute float64) time.Duration {
	if perMinute <= 0 {
		return interval
	}
	allowed := time.Duration(math.Ceil(float64(companies) * 60 / perMinute * float64(time.Second)))
	// Whole tenths of a second: a budget that moves by a request or so does
	// not make a new interval.
	allowed = (allowed + 99*time.Millisecond).Truncate(100 * time.Millisecond)
	return max(interval, allowed)
}

// report says that the effective interval changed from was (0 at the start)
// to now.
func (s *scheduler) report(was, now time.Duration) {
	if s.effective != nil {
		s.effective(now)
	}
	budget := s.budget()
	fields := []any{
		"companies", len(s.ids),
		"poll_interval", s.interval.String(),
		"effective_poll_interval", now.String(),
		"requests_per_minute", math.Round(budget),
		"requests_per_minute_needed", math.Ceil(float64(len(s.ids)) * float64(time.Minute) / float64(s.interval)),
	}
	switch {
	case now > s.interval:
		s.log.Warn("--poll-interval cannot be kept: the request budget polls each company about every effective_poll_interval, those whose last scans found changes first; raise --requests-per-minute if Cova allows, or --poll-interval", fields...)
	case was > s.interval:
		s.log.Info("--poll-interval is kept again: the request budget polls every company at it", fields...)
	}
}
