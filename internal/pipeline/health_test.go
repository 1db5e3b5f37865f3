package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/state"
)

// TestReadiness follows /readyz's answer through restore, an initial load
// that fails and starts again, a scan that hangs, and Kafka going away.
func TestReadiness(t *testing.T) {
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	h := NewHealth(10*time.Second, []int64{1, 2}, nil)
	h.now = func() time.Time { return now }
	ctx := context.Background()
	expect := func(wantOK bool, wantWhy string) {
		t.Helper()
		ok, why := h.Check(ctx)
		if ok != wantOK || !strings.Contains(why, wantWhy) {
			t.Fatalf("ready=%v %q, want %v %q", ok, why, wantOK, wantWhy)
		}
	}
	expect(false, "state not restored yet")
	var kafkaDown error
	h.SetRestored(func(context.Context) error { return kafkaDown }, func() []state.CompanyState {
		return []state.CompanyState{{CompanyID: 2, HasCursor: true, Cursor: state.Cursor{ScanFinished: now.Add(-time.Hour)}}}
	})
	expect(false, "company 1: no successful scan yet")
	h.scanStarted(1, true)
	h.scanStarted(2, false)
	expect(false, "company 1: scan under way for 0s without a page yet")
	h.scanPage(1, "s1", 100)
	h.scanPage(2, "s2", 100)
	expect(true, "ok") // both scans hand on pages: an initial load may take hours
	// An initial load that failed and started again is ready again as soon
	// as it hands on pages: a failure an hour into it must not keep the
	// instance out of a rollout for the hours the next attempt takes.
	h.scanEnded(1, errors.New("page at row 4200: HTTP 503"), false, time.Second)
	expect(false, "company 1: no successful scan yet")
	h.scanStarted(1, true)
	now = now.Add(5 * time.Second)
	h.scanPage(1, "s3", 100)
	h.scanPage(2, "s2", 100)
	expect(true, "ok")
	// A scan that stops handing on pages makes the instance unready.
	now = now.Add(31 * time.Second)
	h.scanPage(2, "s2", 100)
	expect(false, "company 1: scan under way, no page for 31s")
	h.scanEnded(2, nil, false, time.Second)
	h.scanEnded(1, nil, false, time.Second)
	expect(true, "ok")
	kafkaDown = errors.New("connection refused")
	expect(false, "kafka unreachable: connection refused")
	kafkaDown = nil
	now = now.Add(31 * time.Second) // more than 3 poll intervals without a successful scan
	expect(false, "company 1: last successful scan 31s ago")
}

// TestStatusKeepsTheLastError fails a scan, then commits one: the status keeps
// the failure's text and time, and shows no scan between scans.
func TestStatusKeepsTheLastError(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := NewHealth(time.Minute, []int64{7}, nil)
	h.now = func() time.Time { return now }
	if st := h.Status(); st.StateRestored || len(st.Companies) != 1 || st.Companies[0].State != nil {
		t.Errorf("status before the restore: %+v, want company 7 alone without state", st)
	}
	h.SetRestored(nil, nil)
	h.scanStarted(7, true)
	h.scanEnded(7, errors.New("page at row 0: CustomerFull answered HTTP 503"), false, time.Second)
	now = now.Add(time.Minute)
	h.scanStarted(7, true)
	h.scanPage(7, "abc", 100)
	h.scanEnded(7, nil, false, time.Second)
	st := h.Status()
	if len(st.Companies) != 1 {
		t.Fatalf("status %+v, want company 7 alone", st)
	}
	c := st.Companies[0]
	want := ErrorStatus{Text: "page at row 0: CustomerFull answered HTTP 503", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if !st.StateRestored || c.State == nil || c.Scan != nil || c.LastError == nil || *c.LastError != want {
		t.Errorf("status after a failed scan and a committed one: %+v, want the restored state, no scan, and the last error %+v", c, want)
	}
}
