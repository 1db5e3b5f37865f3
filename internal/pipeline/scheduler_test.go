package pipeline

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestEffectiveInterval(t *testing.T) {
	for _, tc := range []struct {
		companies int
		interval  time.Duration
		perMinute float64
		want      time.Duration
	}{
		{500, 5 * time.Second, 600, 50 * time.Second}, // 6,000 a minute needed
		{20, 5 * time.Second, 600, 5 * time.Second},   // 240 needed: kept
		{50, 5 * time.Second, 600, 5 * time.Second},   // exactly the budget
		{3, time.Second, 60, 3 * time.Second},
		{7, time.Second, 900, time.Second},
		{1000, 30 * time.Second, 900, 66700 * time.Millisecond}, // 66.67 s, up to a tenth
	} {
		if got := effectiveInterval(tc.companies, tc.interval, tc.perMinute); got != tc.want {
			t.Errorf("%d companies every %s at %g/min: %s, want %s", tc.companies, tc.interval, tc.perMinute, got, tc.want)
		}
	}
}

func ids(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)) }

// TestSchedulerBoundsScansUnderWay: with --once, fifty companies are each
// scanned once, never more than maxScans at a time, and run returns nil.
func TestSchedulerBoundsScansUnderWay(t *testing.T) {
	var now, peak atomic.Int64
	var mu sync.Mutex
	count := map[int64]int{}
	s := &scheduler{
		interval: time.Hour, once: true, ids: ids(50),
		maxScans: func() int { return 3 },
		budget:   func() float64 { return 600 },
		scan: func(ctx context.Context, id int64) (bool, error) {
			n := now.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(2 * time.Millisecond)
			now.Add(-1)
			mu.Lock()
			count[id]++
			mu.Unlock()
			return false, nil
		},
		log: quiet(),
	}
	if err := s.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if peak.Load() > 3 {
		t.Errorf("%d scans at once, want at most 3", peak.Load())
	}
	for _, id := range s.ids {
		if count[id] != 1 {
			t.Errorf("company %d scanned %d times with --once", id, count[id])
		}
	}
}

// TestSchedulerScansEveryInterval: without --once every company is scanned
// again every interval, until ctx is done; run then returns nil.
func TestSchedulerScansEveryInterval(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	count := map[int64]int{}
	s := &scheduler{
		interval: 20 * time.Millisecond, ids: ids(4),
		maxScans: func() int { return 4 },
		budget:   func() float64 { return 60000 },
		scan: func(ctx context.Context, id int64) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			count[id]++
			if min(count[1], count[2], count[3], count[4]) >= 3 {
				cancel()
			}
			return false, nil
		},
		log: quiet(),
	}
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("companies not scanned three times each: %v", count)
	}
}

// TestSchedulerStopsOnAScanThatAsks: a scan that returns a stop error ends the
// others' scans (their ctx is done) and run returns it once all have returned.
func TestSchedulerStopsOnAScanThatAsks(t *testing.T) {
	fatal := errors.New("fenced")
	var returned atomic.Int64
	s := &scheduler{
		interval: time.Hour, ids: ids(5),
		maxScans: func() int { return 5 },
		budget:   func() float64 { return 600 },
		scan: func(ctx context.Context, id int64) (bool, error) {
			defer returned.Add(1)
			if id == 3 {
				return false, fatal
			}
			<-ctx.Done()
			return false, nil
		},
		log: quiet(),
	}
	if err := s.run(context.Background()); !errors.Is(err, fatal) {
		t.Fatalf("run: %v, want %v", err, fatal)
	}
	if n := returned.Load(); n != 5 {
		t.Errorf("run returned with %d of 5 scans returned", n)
	}
}

// TestPickPrefersCompaniesWithChanges: among the companies due, the longest
// overdue goes first, but one whose last scan found changes counts as
// overdue by the bonus more.
func TestPickPrefersCompaniesWithChanges(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	quietCo := &scheduled{id: 1, next: t0}
	busy := &scheduled{id: 2, next: t0.Add(10 * time.Second), changed: true}
	notYet := &scheduled{id: 3, next: t0.Add(time.Hour), changed: true}
	all := []*scheduled{quietCo, busy, notYet}
	now := t0.Add(20 * time.Second)
	if got := pick(all, now, 0); got != quietCo {
		t.Errorf("no bonus (the interval is kept): picked %d, want the longest overdue 1", got.id)
	}
	if got := pick(all, now, 15*time.Second); got != busy {
		t.Errorf("bonus 15s: picked %d, want 2, whose last scan found changes", got.id)
	}
	if got := pick(all, now, 5*time.Second); got != quietCo {
		t.Errorf("bonus 5s: picked %d, want 1, overdue by more than 2's bonus", got.id)
	}
	quietCo.running, busy.done = true, true
	if got := pick(all, now, time.Hour); got != nil {
		t.Errorf("picked %d: none is due and idle", got.id)
	}
}

// TestSchedulerSpendsSpareBudgetOnChanges: the budget allows each of ten
// companies a scan every 200 ms, not every 10 ms: the company whose scans keep
// finding changes is scanned far more often than the others, and every other
// is still scanned.
func TestSchedulerSpendsSpareBudgetOnChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	count := map[int64]int{}
	s := &scheduler{
		interval: 10 * time.Millisecond, ids: ids(10),
		maxScans: func() int { return 1 },
		budget:   func() float64 { return 3000 }, // 10 companies: one each every 200 ms
		scan: func(ctx context.Context, id int64) (bool, error) {
			time.Sleep(5 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			count[id]++
			others := 1 << 30
			for o := int64(2); o <= 10; o++ {
				others = min(others, count[o])
			}
			if others >= 3 {
				cancel()
			}
			return id == 1, nil
		},
		log: quiet(),
	}
	if err := s.run(ctx); err != nil {
		t.Fatal(err)
	}
	most := 0
	for o := int64(2); o <= 10; o++ {
		most = max(most, count[o])
	}
	if count[1] < 2*most {
		t.Errorf("company 1, whose scans find changes, scanned %d times; the others up to %d: %v", count[1], most, count)
	}
}

// TestSchedulerSaysWhenTheIntervalCannotBeKept: at the start, and whenever the
// budget changes it, the scheduler reports the interval the budget allows;
// above --poll-interval it warns.
func TestSchedulerSaysWhenTheIntervalCannotBeKept(t *testing.T) {
	var logs bytes.Buffer
	var budget atomic.Int64
	budget.Store(600)
	var mu sync.Mutex
	var told []time.Duration
	scans := 0
	s := &scheduler{
		interval: 5 * time.Second, once: true, ids: ids(500),
		maxScans: func() int { return 10 },
		budget:   func() float64 { return float64(budget.Load()) },
		scan: func(ctx context.Context, id int64) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			scans++
			switch scans {
			case 100:
				budget.Store(300) // Cova says its limit is lower
			case 300:
				budget.Store(60000)
			}
			return false, nil
		},
		effective: func(d time.Duration) {
			mu.Lock()
			told = append(told, d)
			mu.Unlock()
		},
		log: slog.New(slog.NewTextHandler(&logs, nil)),
	}
	if err := s.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{50 * time.Second, 100 * time.Second, 5 * time.Second}
	if len(told) != len(want) {
		t.Fatalf("effective intervals %v, want %v", told, want)
	}
	for i := range want {
		if told[i] != want[i] {
			t.Fatalf("effective intervals %v, want %v", told, want)
		}
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 3 ||
		!strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "--poll-interval cannot be kept") ||
		!strings.Contains(lines[0], "effective_poll_interval=50s") || !strings.Contains(lines[0], "companies=500") ||
		!strings.Contains(lines[0], "requests_per_minute=600") || !strings.Contains(lines[0], "requests_per_minute_needed=6000") ||
		!strings.Contains(lines[1], "level=WARN") || !strings.Contains(lines[1], "effective_poll_interval=1m40s") ||
		!strings.Contains(lines[2], "level=INFO") || !strings.Contains(lines[2], "--poll-interval is kept again") {
		t.Errorf("log:\n%s", logs.String())
	}
}
