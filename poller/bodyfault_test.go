package poller

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// faulty serves f, except that the CustomerFull requests for which at(n, r)
// holds (n counts CustomerFull requests from 1) get fault(w, real) instead:
// real is what f would have answered.
type faulty struct {
	f     *fakeCova
	at    func(n int, r *http.Request) bool
	fault func(w http.ResponseWriter, real *httptest.ResponseRecorder)

	mu      sync.Mutex
	n       int
	faulted []string // the URIs of the requests answered with the fault
}

func (h *faulty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		h.f.ServeHTTP(w, r)
		return
	}
	h.mu.Lock()
	h.n++
	n := h.n
	at := h.at(n, r)
	if at {
		h.faulted = append(h.faulted, r.RequestURI)
	}
	h.mu.Unlock()
	if !at {
		h.f.ServeHTTP(w, r)
		return
	}
	real := httptest.NewRecorder()
	h.f.ServeHTTP(real, r)
	h.fault(w, real)
}

// realHeaders copies the content headers of the real answer.
func realHeaders(w http.ResponseWriter, real *httptest.ResponseRecorder) {
	for _, k := range []string{"Content-Type", "Content-Encoding"} {
		if v := real.Header().Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
}

// The faults a response body meets on the way, as a client sees them.
var bodyFaults = map[string]struct {
	gzip  bool
	fault func(w http.ResponseWriter, real *httptest.ResponseRecorder)
}{
	"truncated": {fault: func(w http.ResponseWriter, real *httptest.ResponseRecorder) {
		body := real.Body.Bytes()
		realHeaders(w, real)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection drops mid-body
	}},
	"half JSON array, cleanly ended": {fault: func(w http.ResponseWriter, real *httptest.ResponseRecorder) {
		body := real.Body.Bytes()
		realHeaders(w, real)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)/2))
		w.Write(body[:len(body)/2])
	}},
	"not JSON": {fault: func(w http.ResponseWriter, _ *httptest.ResponseRecorder) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "upstream connect error or disconnect/reset before headers. reset reason: connection termination")
	}},
	"HTML 200": {fault: func(w http.ResponseWriter, _ *httptest.ResponseRecorder) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!DOCTYPE html><html><body><h1>Server Error in '/' Application.</h1></body></html>")
	}},
	"reset after headers": {fault: func(w http.ResponseWriter, real *httptest.ResponseRecorder) {
		realHeaders(w, real)
		w.Header().Set("Content-Length", strconv.Itoa(real.Body.Len()))
		w.WriteHeader(http.StatusOK)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}},
	"broken gzip checksum": {gzip: true, fault: func(w http.ResponseWriter, real *httptest.ResponseRecorder) {
		body := bytes.Clone(real.Body.Bytes())
		body[len(body)-8] ^= 0xff // CRC-32 in the trailer
		realHeaders(w, real)
		w.Write(body)
	}},
	"broken gzip header": {gzip: true, fault: func(w http.ResponseWriter, real *httptest.ResponseRecorder) {
		body := bytes.Clone(real.Body.Bytes())
		body[0] ^= 0xff
		realHeaders(w, real)
		w.Write(body)
	}},
	"broken gzip stream": {gzip: true, fault: func(w http.ResponseWriter, real *httptest.ResponseRecorder) {
		body := bytes.Clone(real.Body.Bytes())
		body[10] = 0x07 // the first deflate block: final, of the reserved type 3
		realHeaders(w, real)
		w.Write(body)
	}},
}

// TestBodyFaultRetriedAtThePage: a page whose body breaks on the way is read
// again at once, from the same place: the scan succeeds, every customer is
// handed on once, and the page was the one requested twice.
func TestBodyFaultRetriedAtThePage(t *testing.T) {
	for name, bf := range bodyFaults {
		for _, ahead := range []int{1, 4, 0} {
			t.Run(fmt.Sprintf("%s/fetch-ahead=%d", name, ahead), func(t *testing.T) {
				f := newFakeCova(t, 450)
				f.gzip = bf.gzip
				// The first request for the third page (rows from 198) breaks:
				// a page the scan needs, however far ahead it fetches.
				broken := false
				h := &faulty{f: f, at: func(_ int, r *http.Request) bool {
					if broken || r.URL.Query().Get("$skip") != "198" {
						return false
					}
					broken = true
					return true
				}, fault: bf.fault}
				c, _ := newTestClient(t, h, func(cfg *Config) { cfg.FetchAhead = ahead })
				got, res, err := collect(t, c, time.Time{})
				if err != nil {
					t.Fatalf("scan failed: %v", err)
				}
				assertComplete(t, f.truth(), got)
				f.mu.Lock()
				defer f.mu.Unlock()
				h.mu.Lock()
				defer h.mu.Unlock()
				if len(h.faulted) != 1 {
					t.Fatalf("%d requests met the fault", len(h.faulted))
				}
				if n := slices.Index(f.uris, h.faulted[0]); n < 0 || !slices.Contains(f.uris[n+1:], h.faulted[0]) {
					t.Errorf("the broken page %s was not read again: %q", h.faulted[0], f.uris)
				}
				// Pages at rows 0, 99, 198, 297 and 396 (a short one), and the broken one again.
				if ahead == 1 && (res.Requests != 6 || f.uris[2] != f.uris[3]) {
					t.Errorf("%d requests: %q", res.Requests, f.uris)
				}
			})
		}
	}
}

// TestBodyFaultsShareThePageBudget: a page that keeps failing, with status
// and body faults in turn, fails the scan after MaxRetries retries, with an
// error that counts the attempts, names each kind and the last cause; what
// the earlier pages held was handed on, nothing of the failing one.
func TestBodyFaultsShareThePageBudget(t *testing.T) {
	f := newFakeCova(t, 450)
	page2 := 0
	h := &faulty{f: f, at: func(_ int, r *http.Request) bool {
		return r.URL.Query().Get("$skip") == "90"
	}}
	h.fault = func(w http.ResponseWriter, real *httptest.ResponseRecorder) {
		page2++
		if page2%2 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		bodyFaults["truncated"].fault(w, real)
	}
	c, _ := newTestClient(t, h, func(cfg *Config) { cfg.FetchAhead = 1; cfg.PageOverlap = 10 })
	got, res, err := collect(t, c, time.Time{})
	want := "page at row 90: 9 attempts failed (truncated body x5, HTTP 503 x4); last error: malformed CustomerFull response: body ends before the JSON array does (truncated)"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n got %v\nwant %s", err, want)
	}
	if !errors.Is(err, ErrMalformedResponse) || !IsRetryable(err) {
		t.Errorf("the error must wrap its last cause and stay retryable: %v", err)
	}
	if len(got) != 100 || res.Requests != 10 {
		t.Errorf("handed on %d customers in %d requests, want the first page's 100 in 1 + 9", len(got), res.Requests)
	}
}

// TestCancelledScanIsNotRetried: a body cut by the caller's cancellation is not
// a fault of Cova's.
func TestCancelledScanIsNotRetried(t *testing.T) {
	f := newFakeCova(t, 50)
	h := &faulty{f: f, at: func(int, *http.Request) bool { return true }}
	h.fault = func(w http.ResponseWriter, real *httptest.ResponseRecorder) {
		body := real.Body.Bytes()
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		time.Sleep(time.Second)
	}
	c, _ := newTestClient(t, h, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res, err := c.Scan(ctx, 42, time.Time{}, func(context.Context, Batch) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) || res.Requests != 1 {
		t.Fatalf("got %v after %d requests, want the context's error after 1", err, res.Requests)
	}
}

// cutAfter answers the first CustomerFull request with the real body cut in
// the middle of its element number n (from 0), then runs between, then serves
// f as it is.
func cutAfter(f *fakeCova, n int, between func(f *fakeCova)) *faulty {
	return &faulty{f: f, at: func(k int, _ *http.Request) bool { return k == 1 }, fault: func(w http.ResponseWriter, real *httptest.ResponseRecorder) {
		body := real.Body.Bytes()
		off := 0
		for range n {
			off += bytes.Index(body[off:], []byte("},{")) + 2
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body[:off+20])
		w.(http.Flusher).Flush()
		if between != nil {
			f.mu.Lock()
			between(f)
			f.mu.Unlock()
		}
		panic(http.ErrAbortHandler)
	}}
}

// modifyAt bumps the rows at these places of the current order.
func (f *fakeCova) modifyAt(places ...int) {
	f.sort()
	for _, i := range places {
		f.seq++
		f.rows[i].version++
		f.rows[i].mod = f.seq
	}
}

// insertFirst adds rows whose Ids sort before every other.
func (f *fakeCova) insertFirst(n int) {
	for range n {
		f.seq++
		f.rows = append(f.rows, fakeRow{id: fmt.Sprintf("00000000-0000-4000-8000-%012x", f.seq), version: 1, mod: f.seq})
	}
}

func span(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// TestUnpagedResponseResumesAfterABreak: a response that ignores paging (the
// whole result) breaks after two batches were handed on. The scan reads it
// again and hands on the rest, never a row twice and never skipping one,
// though the result shifted in between.
func TestUnpagedResponseResumesAfterABreak(t *testing.T) {
	for _, tc := range []struct {
		name    string
		byTime  bool
		between func(f *fakeCova)
	}{
		{"unchanged", false, nil},
		{"rows before the break move to the end", true, func(f *fakeCova) { f.modifyAt(0, 1, 2) }},
		{"rows inserted before the break", false, func(f *fakeCova) { f.insertFirst(5) }},
		{"the last rows handed on changed", true, func(f *fakeCova) { f.modifyAt(span(150, 200)...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeCova(t, 450)
			f.ignorePaging, f.byTime = true, tc.byTime
			initial := f.truth()
			c, _ := newTestClient(t, cutAfter(f, 250, tc.between), nil)
			got, res, err := collect(t, c, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			assertComplete(t, initial, got)
			if res.Requests != 2 {
				t.Errorf("%d requests, want 2", res.Requests)
			}
		})
	}
}

// TestUnpagedResponseResumeFallsBackSafely: when the response read again gives
// no way to tell what was handed on already, the scan fails (the next poll
// repeats it) rather than hand a row on twice or skip one.
func TestUnpagedResponseResumeFallsBackSafely(t *testing.T) {
	t.Run("every row of the last batch changed", func(t *testing.T) {
		f := newFakeCova(t, 450)
		f.ignorePaging, f.byTime = true, true
		c, _ := newTestClient(t, cutAfter(f, 250, func(f *fakeCova) { f.modifyAt(span(100, 200)...) }), nil)
		_, _, err := collect(t, c, time.Time{})
		want := "response without paging: Cova's result kept shifting under the scan: the response broke off after 200 rows, and none of the last 100 rows handed on is in the response read again"
		if err == nil || err.Error() != want || !errors.Is(err, ErrUnstable) {
			t.Fatalf("error\n got %v\nwant %s", err, want)
		}
	})
	t.Run("read again, the result is paged", func(t *testing.T) {
		f := newFakeCova(t, 450)
		f.ignorePaging = true
		c, _ := newTestClient(t, cutAfter(f, 150, func(f *fakeCova) { f.ignorePaging = false }), nil)
		_, _, err := collect(t, c, time.Time{})
		want := "response without paging: Cova's result kept shifting under the scan: the response broke off after 100 rows, and the one read again holds only 100 rows: Cova pages the result again"
		if err == nil || err.Error() != want || !errors.Is(err, ErrUnstable) {
			t.Fatalf("error\n got %v\nwant %s", err, want)
		}
	})
}
