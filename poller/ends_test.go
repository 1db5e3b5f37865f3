package poller

import (
	"slices"
	"testing"
)

// TestEndsQueueGoesOnIntoTheGap: once a probe bounds the end, a queue that
// reaches the pages not known to hold rows before the narrowing ends goes on
// requesting them (a page or two past the end cost less than the scan's
// share idle for a round trip), up to the first probe still under way there,
// and never past the first short page.
func TestEndsQueueGoesOnIntoTheGap(t *testing.T) {
	e := newEnds()
	e.answered(10, true, true)   // full: pages 0-10 hold 100 rows
	e.answered(20, false, false) // empty: the end lies in 11-19
	none := func(lo, hi int) bool { return false }
	for idx := 11; idx <= 20; idx++ {
		if !e.worth(idx, none) {
			t.Errorf("page %d: not requested with no probe under way; the queue would wait a round trip", idx)
		}
	}
	if e.worth(21, none) {
		t.Error("page 21, past the first empty page, is requested")
	}
	probeAt15 := func(lo, hi int) bool { return lo <= 15 && 15 < hi }
	if !e.worth(15, probeAt15) || e.worth(16, probeAt15) {
		t.Error("with a probe under way at 15, want pages up to 15 requested and none after it until it answers")
	}
}

// TestEndsShortPageWithRowsIsTheLast: a short page that holds the rows it
// shares with the page before makes that page full: the end is known exactly
// and nothing is left to narrow.
func TestEndsShortPageWithRowsIsTheLast(t *testing.T) {
	e := newEnds()
	e.answered(30, false, true)
	if e.full != 29 || e.short != 30 {
		t.Fatalf("full %d, short %d; want 29 and 30", e.full, e.short)
	}
	if got := e.probes(5, 10, maxProbes, func(int) bool { return false }, func(int) bool { return false }); got != nil {
		t.Errorf("probes %v with the end known exactly", got)
	}
}

// TestEndsProbesAWindowApart: before the end is known, probes go a window
// apart, starting two windows ahead of the queue and reaching further as they
// come back full, up to probeLead windows; once one comes back empty, the gap
// behind it is narrowed with probes the queue has not reached, never past the
// empty one, and the result growing past it lets probing go on.
func TestEndsProbesAWindowApart(t *testing.T) {
	e := newEnds()
	no := func(int) bool { return false }
	if got := e.probes(10, probeMinWindow-1, maxProbes, no, no); got != nil {
		t.Fatalf("probes %v with a window of %d", got, probeMinWindow-1)
	}
	got := e.probes(10, 10, maxProbes, no, no)
	if !slices.Equal(got, []int{30}) {
		t.Fatalf("first probes %v, want [30]", got)
	}
	for i := 0; i < probeLead; i++ {
		e.answered(30+10*i, true, true)
		e.probedFull()
	}
	got = e.probes(10, 10, maxProbes, no, no)
	var want []int
	for m := 40; m <= 10+probeLead*10; m += 10 {
		want = append(want, m)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("probes %v after they came back full, want %v (up to %d windows ahead)", got, want, probeLead)
	}
	e = newEnds()
	e.answered(60, true, true)
	e.answered(72, false, false)
	got = e.probes(20, 10, maxProbes, no, no)
	if len(got) == 0 {
		t.Fatal("no probe narrows a gap of 10 pages 4 windows ahead of the queue")
	}
	for _, m := range got {
		if m <= 61 || m >= 72 {
			t.Errorf("probe at %d, outside the pages not known to hold rows (62-71)", m)
		}
	}
	e.answered(72, true, true)
	if e.known() {
		t.Error("the end stays known after the page that bounded it came back full")
	}
}

// TestEndsQueueKeepsBehindProbes: while the end is not known, a queue whose
// window grows at once (other companies' scans ended) does not send the
// whole of it past the pages probes proved full; before any probe came back
// full (a short scan, or its first pages), nothing holds it back.
func TestEndsQueueKeepsBehindProbes(t *testing.T) {
	e := newEnds()
	none := func(lo, hi int) bool { return false }
	if !e.worth(100, none) {
		t.Error("page 100 not requested before any probe came back full")
	}
	e.answered(30, true, true)
	e.probedFull()
	if !e.worth(31, none) {
		t.Error("page 31, after the last page a probe proved full, not requested")
	}
	if e.worth(32, none) {
		t.Error("page 32 requested while no probe proved page 31 full")
	}
}

// TestEndsQueueNotHeldWhenProbingStops: a scan whose share falls below what
// probing needs (Cova answers faster, or the budget is shared with more
// companies) stops probing, and its queue no longer keeps behind the last
// probe that came back full: held there, it requested a page or two at a
// time, and a load at 100 ms a page took 1.3 times the budget's floor.
func TestEndsQueueNotHeldWhenProbingStops(t *testing.T) {
	e := newEnds()
	none := func(int) bool { return false }
	noneIn := func(lo, hi int) bool { return false }
	probes := e.probes(10, probeMinWindow, maxProbes, none, none)
	if len(probes) == 0 {
		t.Fatal("no probe with a window of probeMinWindow")
	}
	e.probedFull()
	e.answered(probes[0], true, true)
	if e.worth(probes[0]+2, noneIn) {
		t.Fatalf("while probing, page %d past the last full probe %d is requested", probes[0]+2, probes[0])
	}
	if got := e.probes(probes[0]+1, probeMinWindow-1, maxProbes, none, none); got != nil {
		t.Fatalf("probes %v with a window below probeMinWindow", got)
	}
	for idx := probes[0] + 2; idx < probes[0]+20; idx++ {
		if !e.worth(idx, noneIn) {
			t.Fatalf("probing stopped, yet page %d is held back behind the last full probe %d", idx, probes[0])
		}
	}
}
