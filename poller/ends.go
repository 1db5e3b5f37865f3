package poller

import (
	"math"
)

// A result's end is where a page comes back short, and Cova does not say
// beforehand where that is. To keep its share of the budget busy a scan has
// about rate × latency pages requested ahead, and when the short page arrives
// those past it have reached Cova for nothing: 40 at 2 s a page and 15 a
// second. So a scan that reads many pages also requests a few pages far
// ahead of the ones it joins (probes): a probe that comes back full proves
// every page before it full, one that comes back short or empty bounds the
// end, and from then on the scan narrows the pages between the last known
// full and the first known short with more probes, while its queue goes on
// with the pages known to hold rows. Probes are pages like the others: they
// are joined, in order, when the scan reaches them, so one costs a request
// only when it lies past the end.

// maxProbes bounds the pages a scan requests ahead of its queue, for the
// memory of those answered long before the scan joins them.
const maxProbes = 8

// probeMinWindow is the fewest pages a scan keeps requested at once for it to
// probe: with fewer, few pages reach past the end anyway.
const probeMinWindow = 6

// probeLead is how far ahead of its queue a scan probes, in windows (the
// pages it keeps requested, about one round trip's worth): one window for the
// probe's own round trip, one for the stride between probes, which is the
// gap a short probe leaves to narrow, and the rest for the round trips that
// narrow it before the queue gets there. It is also about how many answered
// probes a scan holds.
const probeLead = 4

// ends is what the pages answered say of where a result ends, by page index
// (the n-th page of a run of pages at the same overlap).
type ends struct {
	full      int  // the highest index answered full, -1 for none
	short     int  // the lowest index answered short (or empty), math.MaxInt for none
	lastProbe int  // where the last probe went while the end was not known
	reach     int  // how far ahead of the queue it may go, in windows
	probing   bool // a probe came back full: the queue keeps behind them
}

func newEnds() ends { return ends{full: -1, short: math.MaxInt, lastProbe: -1} }

// answered takes in a page's answer: full (PageSize rows or more), or else
// whether it held every row it shares with the page before (rows at least
// the overlap), which makes that page full. The result does not shrink while
// it is read (Cova deletes no customer), so a full page means every page
// before it is full and a short one that every page after it is short: a
// short page after a full one is the last. Rows added during the scan can
// make a page full after one answered short: the later answer wins.
func (e *ends) answered(idx int, full, prevFull bool) {
	switch {
	case full:
		e.full = max(e.full, idx)
		if e.short <= idx {
			e.short = math.MaxInt // the result grew
		}
	default:
		e.short = min(e.short, idx)
		if prevFull {
			e.full = max(e.full, idx-1)
		}
		if e.full >= e.short {
			e.full = e.short - 1
		}
	}
}

// known says whether a page past the end has been seen.
func (e *ends) known() bool { return e.short != math.MaxInt }

// worth says whether requesting the page at idx can pay: no page past the
// first short one; past the last page known to hold rows (the one after the
// last full page), only up to the first probe still under way there, whose
// answer comes before any other request would, and may show the pages after
// it to be past the end. When the queue reaches the pages not known to hold
// rows it so goes on requesting them rather than wait for narrowing that did
// not end in time: a page or two past the end cost less than a round trip of
// the scan's whole share idle.
//
// While the end is not known, once probes have come back full (they lie a
// window or more ahead of the queue), the queue requests no page past the one
// after the last full: when its window grows at once (the scans of other
// companies ended) it waits for probes to reach further rather than send the
// whole of it where the result may have ended.
func (e *ends) worth(idx int, probedIn func(lo, hi int) bool) bool {
	if idx <= e.full+1 {
		return true
	}
	if !e.known() {
		return !e.probing
	}
	return idx <= e.short && !probedIn(e.full+2, idx)
}

// probes returns the indexes of the next pages to probe, given the next index
// the queue takes (next), the pages the scan keeps requested (window), how
// many more probes it may have (room), whether a probe is requested and not
// answered yet (pending), and whether a page is requested at all (requested).
//
// While the end is not known, probes go a window apart, up to probeLead
// windows ahead of the queue (less until probes have come back full): about
// one sent a round trip as the queue moves on, so that one lies past the end
// when the first comes back short, a window or less past the last full one.
//
// Once the end is known, the pages between the last known to hold rows and
// the first short are narrowed in rounds, a round being a few probes sent at
// once when none there is under way; the queue moves on about a window a
// round trip, so rounds is how many can end before it gets there. A probe
// past the end is the waste: with many rounds to go, one probe a quarter of
// the way in lies past the end a quarter of the time (halving would waste
// more: about 0.72 ln gap probes against 0.44 ln gap); with few, k probes
// spread evenly cut the gap k+1 times a round, k chosen so that the probes
// and the half of the gap left at the end that the queue requests past the
// end waste least: (k+1)^(rounds+1) = gap.
func (e *ends) probes(next, window, room int, pending, requested func(idx int) bool) []int {
	if room <= 0 {
		return nil
	}
	if e.known() {
		// lo certainly holds rows, or the queue requests it before a probe
		// sent now could say; hi is short.
		lo, hi := max(e.full+1, next+window-1), e.short
		gap := hi - lo - 1 // the pages not known to hold rows, to narrow
		if gap < 2 {
			return nil
		}
		for i := e.full + 2; i < hi; i++ {
			if pending(i) {
				return nil // a round is under way
			}
		}
		rounds := (lo + 1 - next) / window
		if math.Pow(4.0/3, float64(rounds)) >= float64(gap) {
			m := lo + max(1, (hi-lo)/4)
			if m < next || requested(m) {
				return nil
			}
			return []int{m}
		}
		k := int(math.Round(math.Pow(float64(gap), 1/float64(rounds+1)))) - 1
		k = max(1, min(k, gap-1, room))
		var ms []int
		for j := 1; j <= k; j++ {
			m := lo + j*(hi-lo)/(k+1)
			if m > lo && m < hi && m >= next && !requested(m) && (len(ms) == 0 || ms[len(ms)-1] != m) {
				ms = append(ms, m)
			}
		}
		return ms
	}
	if window < probeMinWindow {
		// The scan's share fell too low to probe (the latency or the budget
		// fell): the queue no longer keeps behind probes that stopped, or it
		// would request a page or two at a time.
		e.probing = false
		return nil
	}
	m := e.lastProbe + window
	if e.lastProbe < next {
		// No probe yet, or the queue caught up with them (its window grew):
		// probe two windows ahead, then further as probes come back full,
		// so that the first short one lies at most a window past the last
		// full one, whatever the result's length.
		e.reach = 2
		m = next + 2*window
	}
	var ms []int
	for ; len(ms) < room && m <= next+e.reach*window; m += window {
		ms = append(ms, m)
		e.lastProbe = m
	}
	return ms
}

// probedFull takes in a probe answered full while the end is not known: the
// scan may probe a window further ahead, up to probeLead windows.
func (e *ends) probedFull() {
	e.reach = min(probeLead, e.reach+1)
	e.probing = true
}
