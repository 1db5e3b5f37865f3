package poller

import (
	"context"
	"math"
	"net/http"
	"sync"
	"time"
)

// The request budget is process-wide: every company's scans draw on one pacer.
// It starts requests no faster than RequestsPerMinute, or than Cova's own
// rate-limit headers allow; keeps at most MaxInFlight in flight; holds every
// request while a 429 pause lasts; and tells each scan how many pages to keep
// requested: its share of the concurrency that the budget and the latency
// observed call for (Little's law: rate times latency, plus a margin).

const (
	// latencyMargin and spareRequests turn rate × latency into the number of
	// requests to keep under way: pages answered out of order wait for the
	// one before them, and latency varies from page to page.
	latencyMargin = 1.5
	spareRequests = 2
	// quotaReserve requests of the quota Cova says remains are never used:
	// answers can overtake one another, so the latest may not be the lowest.
	quotaReserve = 1
	// quotaWindow is Cova's rate-limit window, to which X-RateLimit-Limit refers.
	quotaWindow = time.Minute
	// latencyWeight is the weight of a new sample in the moving average.
	latencyWeight = 1.0 / 8
)

// pacer decides when each Cova request may start. It is safe for concurrent use.
type pacer struct {
	interval    time.Duration // between request starts at the budget
	maxInFlight int

	mu          sync.Mutex
	next        time.Time // the budget's next start
	lastGrant   time.Time
	inflight    int
	waiting     []*ticket // in arrival order
	timer       *time.Timer
	timerAt     time.Time // when timer fires; zero when it is not armed
	pausedUntil time.Time // set by a 429, or by failures in a row
	failures    int       // failed answers in a row, client-wide; a good one resets it
	quota       quota
	latency     time.Duration // moving average of requests' time in flight; 0 before the first
	firstGrant  time.Time
	flows       map[*flow]struct{}
	single      int // flows reading their first page only
	told        int // target the flows were last woken for
}

// ticket is one request's place in the queue, then its slot in flight.
type ticket struct {
	ready   chan struct{} // closed when granted
	granted bool
	at      time.Time // when granted
}

// quota is what Cova's latest rate-limit headers said.
type quota struct {
	known     bool
	limit     int // requests per window; 0 when not said
	remaining int
	sent      int       // requests started since that answer (or in flight then): not yet counted in remaining
	resetAt   time.Time // when the window frees requests; zero when not said, or once used
}

func newPacer(requestsPerMinute, maxInFlight int) *pacer {
	return &pacer{
		interval:    time.Duration(float64(time.Minute) / float64(requestsPerMinute)),
		maxInFlight: maxInFlight,
		flows:       make(map[*flow]struct{}),
		told:        -1,
	}
}

// acquire waits until a request may start: the budget, the quota Cova
// announced, a 429 pause and MaxInFlight all allow it, and every request that
// asked before has started. The caller must release the ticket once the
// response is done with.
func (p *pacer) acquire(ctx context.Context) (*ticket, error) {
	t := &ticket{ready: make(chan struct{})}
	p.mu.Lock()
	p.waiting = append(p.waiting, t)
	p.dispatchLocked(time.Now())
	p.mu.Unlock()
	select {
	case <-t.ready:
		return t, nil
	case <-ctx.Done():
	}
	p.mu.Lock()
	if t.granted {
		p.mu.Unlock()
		p.release(t, false)
		return nil, ctx.Err()
	}
	for i, w := range p.waiting {
		if w == t {
			p.waiting = append(p.waiting[:i], p.waiting[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	return nil, ctx.Err()
}

// release frees the ticket's slot. sample says whether its time in flight is
// a latency to learn from: an answer read to its end, not an error or a
// cancelled request.
func (p *pacer) release(t *ticket, sample bool) {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inflight--
	if sample {
		d := now.Sub(t.at)
		if p.latency == 0 {
			p.latency = d
		} else {
			p.latency += time.Duration(latencyWeight * float64(d-p.latency))
		}
	}
	p.dispatchLocked(now)
}

// pause stops every request until the given instant: Cova's limit is per
// client, so when it answers 429 all companies must slow down.
func (p *pacer) pause(until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
	p.dispatchLocked(time.Now())
}

// failed counts a failed answer (5xx, 408, a transport error, a broken body)
// and pauses every request for backoff(failures in a row): a Cova that fails
// fast is not sent the budget's worth of retries, whatever the number of pages
// under way.
func (p *pacer) failed(backoff func(n int) time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failures++
	now := time.Now()
	if until := now.Add(backoff(p.failures)); until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
	p.dispatchLocked(now)
}

// answered says a request succeeded: the failures in a row end, and the
// requests waiting may start again as many at once as the budget allows.
func (p *pacer) answered() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failures > 0 {
		p.failures = 0
		p.dispatchLocked(time.Now())
	}
}

// heard takes in the rate-limit headers of an answer, if it has any: from
// there on the pacer spends no more than the quota they announce.
func (p *pacer) heard(h http.Header, now time.Time) {
	rl, ok := parseRateLimit(h, now)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.quota = quota{
		known:     true,
		limit:     rl.limit,
		remaining: rl.remaining,
		// The requests in flight besides this one may or may not have reached
		// Cova before it answered: count them as not yet counted.
		sent:    max(0, p.inflight-1),
		resetAt: rl.resetAt,
	}
	p.dispatchLocked(now)
}

// requestsPerMinute is the rate the pacer allows itself: the budget, or Cova's
// announced limit when that is lower.
func (p *pacer) requestsPerMinute() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rateLocked() * 60
}

// rateLocked is requestsPerMinute per second.
func (p *pacer) rateLocked() float64 {
	r := 1 / p.interval.Seconds()
	if q := p.quota; q.known && q.limit > 0 {
		r = min(r, float64(max(1, q.limit-quotaReserve))/quotaWindow.Seconds())
	}
	return r
}

// target is how many requests the process should keep under way: the rate
// times the latency observed, with a margin, within MaxInFlight. Before the
// first answer the latency is at least the age of the first request.
func (p *pacer) target() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.targetLocked(time.Now())
}

func (p *pacer) targetLocked(now time.Time) int {
	w := p.latency
	if w == 0 && !p.firstGrant.IsZero() {
		w = now.Sub(p.firstGrant)
	}
	n := int(math.Ceil(p.rateLocked()*w.Seconds()*latencyMargin)) + spareRequests
	return min(max(n, 1), p.maxInFlight)
}

// dispatchLocked starts the waiting requests that may start now, and arms the
// timer for the first that may not yet.
func (p *pacer) dispatchLocked(now time.Time) {
	limit := p.maxInFlight
	if p.failures > 0 {
		// After a failure one request at a time probes Cova until one
		// succeeds, rather than every waiting page at the pause's end.
		limit = 1
	}
	for len(p.waiting) > 0 && p.inflight < limit {
		if at := p.earliestLocked(now); at.After(now) {
			p.wakeAtLocked(at)
			break
		}
		t := p.waiting[0]
		p.waiting[0] = nil
		p.waiting = p.waiting[1:]
		p.grantLocked(t, now)
	}
	if len(p.waiting) == 0 {
		p.waiting = nil
	}
	p.notifyLocked(now)
}

func (p *pacer) grantLocked(t *ticket, now time.Time) {
	// A token bucket with a burst of one: starts keep to the budget's schedule,
	// so a late wake-up does not lower the rate, but an idle spell saves nothing
	// up, and no 60 s window holds more than the budget and one.
	base := p.next
	if now.Sub(base) >= p.interval {
		base = now
	}
	p.next = base.Add(p.interval)
	p.lastGrant = now
	if p.firstGrant.IsZero() {
		p.firstGrant = now
	}
	p.inflight++
	if p.quota.known {
		p.quota.sent++
	}
	t.granted, t.at = true, now
	close(t.ready)
}

// earliestLocked is when the next request may start.
func (p *pacer) earliestLocked(now time.Time) time.Time {
	at := p.next
	if p.pausedUntil.After(at) {
		at = p.pausedUntil
	}
	q := &p.quota
	if !q.known {
		return at
	}
	avail := q.remaining - q.sent - quotaReserve
	if avail <= 0 && !q.resetAt.IsZero() && !q.resetAt.After(now) {
		// The window has moved on since Cova last said how much was left: at
		// least one more request is free (all of them if the window is fixed).
		q.remaining = q.sent + quotaReserve + 1
		q.resetAt = time.Time{}
		avail = 1
	}
	switch {
	case avail <= 0 && !q.resetAt.IsZero():
		// Used up: wait for the window to free some.
		if q.resetAt.After(at) {
			at = q.resetAt
		}
	case avail <= 0:
		// Used up, and no word of when more frees: one at a time at the pace
		// of Cova's limit (one a second when it did not say) until an answer
		// says more.
		pace := time.Second
		if q.limit > 0 {
			pace = quotaWindow / time.Duration(q.limit)
		}
		if next := p.lastGrant.Add(pace); next.After(at) {
			at = next
		}
	}
	// Left alone: with quota to spare, the budget sets the pace. Spreading it
	// over the time to the reset would slow a sliding window (Azure API
	// Management's, in front of Cova) far below its limit, since it frees
	// requests all along, not only at the reset it announces.
	return at
}

// wakeAtLocked makes dispatch run again at the given instant.
func (p *pacer) wakeAtLocked(at time.Time) {
	if !p.timerAt.IsZero() && !p.timerAt.After(at) {
		return // armed for earlier: dispatch will look again then
	}
	p.timerAt = at
	d := time.Until(at)
	if p.timer == nil {
		p.timer = time.AfterFunc(d, p.onTimer)
		return
	}
	p.timer.Reset(d)
}

func (p *pacer) onTimer() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.timerAt = time.Time{}
	p.dispatchLocked(time.Now())
}

// flow is one scan's claim on the pacer's concurrency.
type flow struct {
	p     *pacer
	paged bool
	// wake receives when the scan's share may have grown: time to request more.
	wake chan struct{}
}

// open registers a scan: it counts as one request under way until it is paged.
func (p *pacer) open() *flow {
	f := &flow{p: p, wake: make(chan struct{}, 1)}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.flows[f] = struct{}{}
	p.single++
	p.told = -1
	return f
}

// setPaged marks the scan as one with pages to read: it takes a share of the
// concurrency from then on.
func (f *flow) setPaged() {
	p := f.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if !f.paged {
		f.paged = true
		p.single--
		p.told = -1
	}
}

// close unregisters the scan; the others share what it used.
func (f *flow) close() {
	p := f.p
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.flows, f)
	if !f.paged {
		p.single--
	}
	p.told = -1
	p.notifyLocked(time.Now())
}

// share is how many of its pages the scan should keep requested: the target
// concurrency less one for each scan on its first page, split evenly between
// the scans with pages to read; at least one.
func (f *flow) share() int {
	p := f.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if !f.paged {
		return 1
	}
	paged := len(p.flows) - p.single
	n := p.targetLocked(time.Now()) - p.single
	return max(1, (n+paged-1)/max(1, paged))
}

// notifyLocked wakes the paged scans when the target has changed since they
// were last woken, or a scan came or went: their shares may have grown.
func (p *pacer) notifyLocked(now time.Time) {
	n := p.targetLocked(now)
	if n == p.told {
		return
	}
	p.told = n
	for f := range p.flows {
		if f.paged {
			select {
			case f.wake <- struct{}{}:
			default:
			}
		}
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
