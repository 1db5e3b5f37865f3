package poller

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/schema"
)

// assertComplete checks that every customer's current version, or a later one,
// was delivered by the scans.
func assertComplete(t *testing.T, truth, got map[string]int64) {
	t.Helper()
	missing := 0
	for id, v := range truth {
		if got[id] < v {
			missing++
			if missing <= 5 {
				t.Errorf("customer %s: delivered version %d, current %d", id, got[id], v)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d customers missing", missing, len(truth))
	}
}

// TestShiftingPages pages through results that change under the scan in every
// way a stable order allows, with fetch-ahead off and on.
func TestShiftingPages(t *testing.T) {
	tests := []struct {
		name    string
		byTime  bool
		between func(f *fakeCova)
	}{
		{"id order, inserts before the cursor", false, func(f *fakeCova) {
			for range 15 {
				f.insert()
			}
		}},
		{"id order, modifications", false, func(f *fakeCova) { f.modify(30) }},
		{"time order, a few modifications move rows to the end", true, func(f *fakeCova) { f.modify(3) }},
		{"time order, more modifications than the overlap", true, func(f *fakeCova) { f.modify(25) }},
	}
	for _, tc := range tests {
		for _, ahead := range []int{1, 4, 0} {
			t.Run(fmt.Sprintf("%s/fetch-ahead=%d", tc.name, ahead), func(t *testing.T) {
				f := newFakeCova(t, 1000)
				f.byTime = tc.byTime
				f.between = tc.between
				c, _ := newTestClient(t, f, func(cfg *Config) { cfg.FetchAhead = ahead })
				initial := f.truth()
				got, res, err := collect(t, c, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				// Every row that existed when the scan began must be there, at
				// its version then or later.
				assertComplete(t, initial, got)
				// The next scan delivers the rest. A request the finished scan
				// fetched ahead may still be in the handler: change it under its lock.
				f.mu.Lock()
				f.between = nil
				f.mu.Unlock()
				got2, _, err := collect(t, c, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				assertComplete(t, f.truth(), got2)
				t.Logf("requests %d, rereads %d, customers %d", res.Requests, res.Rereads, res.Customers)
			})
		}
	}
}

func TestPagingIgnored(t *testing.T) {
	f := newFakeCova(t, 450)
	f.ignorePaging = true
	c, _ := newTestClient(t, f, nil)
	got, res, err := collect(t, c, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	assertComplete(t, f.truth(), got)
	if res.Requests != 1 {
		t.Errorf("an unpaged response is the whole result: %d requests", res.Requests)
	}
}

func TestUnstableResultFailsInsteadOfLooping(t *testing.T) {
	f := newFakeCova(t, 500)
	f.byTime = true
	f.between = func(f *fakeCova) { f.modify(400) }
	c, _ := newTestClient(t, f, func(cfg *Config) { cfg.FetchAhead = 1 })
	_, res, err := collect(t, c, time.Time{})
	if !errors.Is(err, ErrUnstable) || !IsRetryable(err) {
		t.Fatalf("want ErrUnstable, got %v", err)
	}
	if res.Requests > 200 {
		t.Errorf("%d requests before giving up", res.Requests)
	}
}

func TestNextCursorFromServerDate(t *testing.T) {
	serverNow := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	localNow := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) // a wrong local clock
	f := newFakeCova(t, 5)
	f.date = serverNow
	c, _ := newTestClient(t, f, nil, WithClock(func() time.Time { return localNow }))
	since := serverNow.Add(-time.Hour)
	_, res, err := collect(t, c, since)
	if err != nil {
		t.Fatal(err)
	}
	if !res.ServerStart.Equal(serverNow) || !res.Next.Equal(serverNow.Add(-2*time.Minute)) || !res.Since.Equal(since) {
		t.Errorf("ServerStart %v Next %v", res.ServerStart, res.Next)
	}
	// Never earlier than since.
	_, res, err = collect(t, c, serverNow.Add(-time.Second))
	if err != nil || !res.Next.Equal(serverNow.Add(-time.Second)) {
		t.Errorf("Next %v, err %v", res.Next, err)
	}
}

func TestMalformedResponsesFailTheScan(t *testing.T) {
	for name, body := range map[string]string{
		"html":      "<html><body>Service Unavailable</body></html>",
		"truncated": `[` + record("45b95f03-9774-4302-9212-018ff0fd33b5", 1) + `,{"Id":"45b9`,
		"empty":     ``,
		"object":    `{"Message":"oops"}`,
		"garbage":   `[` + record("45b95f03-9774-4302-9212-018ff0fd33b5", 1) + ` x]`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFakeCova(t, 0)
			f.status = func(_ int, w http.ResponseWriter) bool {
				w.WriteHeader(200)
				io.WriteString(w, body)
				return true
			}
			c, _ := newTestClient(t, f, nil)
			_, res, err := collect(t, c, time.Time{})
			if !errors.Is(err, ErrMalformedResponse) || !IsRetryable(err) {
				t.Fatalf("want ErrMalformedResponse, got %v", err)
			}
			if res.Requests != c.cfg.MaxRetries+1 {
				t.Errorf("failed after %d requests, want the page's %d attempts", res.Requests, c.cfg.MaxRetries+1)
			}
		})
	}
}

func TestMalformedRecordsBecomeRecordErrors(t *testing.T) {
	f := newFakeCova(t, 0)
	good := record("45b95f03-9774-4302-9212-018ff0fd33b5", 3)
	bad := []string{`{"Version":1}`, `{"Id":"not-a-guid","Version":1,"LastModifiedDateUtc":"2024-01-01T00:00:00"}`, `17`}
	f.status = func(_ int, w http.ResponseWriter) bool {
		io.WriteString(w, "["+good+","+strings.Join(bad, ",")+"]")
		return true
	}
	c, _ := newTestClient(t, f, nil)
	var invalid []RecordError
	var customers int
	res, err := c.Scan(context.Background(), 9, time.Time{}, func(_ context.Context, b Batch) error {
		invalid = append(invalid, b.Invalid...)
		customers += len(b.Customers)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if customers != 1 || len(invalid) != 3 || res.Invalid != 3 {
		t.Fatalf("customers %d invalid %d", customers, len(invalid))
	}
	for i, re := range invalid {
		if string(re.Raw) != bad[i] || re.CompanyID != 9 || re.Reason == "" {
			t.Errorf("record error %d: %+v", i, re)
		}
	}
}

// TestStreamsBeforeResponseEnds proves a response is handed on while it is still
// arriving: the server holds the rest of the body until the client has handed on
// a first batch.
func TestStreamsBeforeResponseEnds(t *testing.T) {
	f := newFakeCova(t, 0)
	firstBatch := make(chan struct{})
	f.status = func(_ int, w http.ResponseWriter) bool {
		io.WriteString(w, "[")
		for i := range 250 {
			if i > 0 {
				io.WriteString(w, ",")
			}
			io.WriteString(w, record(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), 1))
		}
		w.(http.Flusher).Flush()
		select {
		case <-firstBatch:
		case <-time.After(5 * time.Second):
		}
		io.WriteString(w, "]")
		return true
	}
	c, _ := newTestClient(t, f, nil)
	batches := 0
	start := time.Now()
	_, err := c.Scan(context.Background(), 1, time.Time{}, func(_ context.Context, b Batch) error {
		if batches == 0 {
			close(firstBatch)
		}
		batches++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 4*time.Second {
		t.Error("the first batch came only after the whole response")
	}
	if batches != 3 {
		t.Errorf("%d batches of a 250-row unpaged response, want 3", batches)
	}
}

// TestUnpagedResponseBoundedMemory streams 300,000 customers in one response and
// checks the heap stays far below the size of the response.
func TestUnpagedResponseBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 300,000 records")
	}
	const n = 300_000
	f := newFakeCova(t, 0)
	f.status = func(_ int, w http.ResponseWriter) bool {
		io.WriteString(w, "[")
		for i := range n {
			if i > 0 {
				io.WriteString(w, ",")
			}
			fmt.Fprintf(w, `{"Id":"00000000-0000-4000-8000-%012d","Version":1,"LastModifiedDateUtc":"2024-01-01T00:00:00","Notes":"%s"}`, i, strings.Repeat("x", 300))
		}
		io.WriteString(w, "]")
		return true
	}
	c, _ := newTestClient(t, f, nil)
	var peak uint64
	var ms runtime.MemStats
	total := 0
	_, err := c.Scan(context.Background(), 1, time.Time{}, func(_ context.Context, b Batch) error {
		total += len(b.Customers)
		if total%20000 == 0 {
			// What the client holds, not the garbage the server's writes and
			// the decoding leave for a collection that, on a loaded machine,
			// may come late.
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != n {
		t.Fatalf("got %d customers, want %d", total, n)
	}
	// The response is about 110 MB; a streaming client holds a page or so.
	if peak > 40<<20 {
		t.Errorf("heap reached %d MB while streaming", peak>>20)
	}
}

// TestScanReusesPageMemory: later pages are decoded into the memory of batches
// already handed on, while copies of the customers fn kept stay intact, and fn
// may scribble over a batch's slice without harming the scan (it is the
// scan's again once fn returns). Rows move during the scan, so pages are also
// dropped and read again.
func TestScanReusesPageMemory(t *testing.T) {
	for _, ahead := range []int{1, 4, 0} {
		t.Run(fmt.Sprintf("fetch-ahead=%d", ahead), func(t *testing.T) {
			f := newFakeCova(t, 2000)
			f.byTime = true
			f.between = func(f *fakeCova) { f.modify(25) }
			c, _ := newTestClient(t, f, func(cfg *Config) { cfg.FetchAhead = ahead })
			initial := f.truth()
			var kept []schema.Customer
			slots := map[*schema.Customer]bool{}
			_, err := c.Scan(context.Background(), 42, time.Time{}, func(_ context.Context, b Batch) error {
				kept = append(kept, b.Customers...)
				for i := range b.Customers {
					slots[&b.Customers[i]] = true
					b.Customers[i] = schema.Customer{Id: "scribbled"}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, cu := range kept {
				if cu.Id == "scribbled" || cu.LastModifiedDateUtc.Raw == "" {
					t.Fatalf("a kept customer was overwritten: %+v", cu)
				}
				got[cu.Id] = max(got[cu.Id], cu.Version)
			}
			assertComplete(t, initial, got)
			// Without reuse every customer handed on has a slot of its own.
			most := ahead
			if ahead == 0 {
				most = c.cfg.MaxInFlight
			}
			if limit := (most + 2) * (c.cfg.PageSize + 1); len(slots) > limit {
				t.Errorf("%d customers handed on in %d distinct slots, want at most %d", len(kept), len(slots), limit)
			}
		})
	}
}
