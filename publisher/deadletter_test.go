package publisher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/schema"
)

// TestDeadLettersPerScanAreCapped serves a scan more bad records than
// MaxDeadLettersPerScan: the scan fails with an error naming the flag, the
// cursor does not move, and no more dead letters are written than the cap; a
// scan re-reading them (already published ones count too) fails the same way
// without writing any; a higher cap lets the scan complete.
func TestDeadLettersPerScanAreCapped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.cfg.MaxDeadLettersPerScan = 3
	ctx := context.Background()
	var bad []poller.RecordError
	for i := range 5 {
		bad = append(bad, poller.RecordError{Raw: json.RawMessage(fmt.Sprintf(`{"Version":%d}`, i)), Reason: "missing_id", Err: errors.New("no Id")})
	}
	since := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	plan := scanPlan{batches: [][]schema.Customer{{customer(1, 1)}}, invalid: bad, since: since}
	p := e.open(nil)
	for n := range 2 {
		err := e.runScan(ctx, p, n, plan)
		if !errors.Is(err, ErrTooManyDeadLetters) || !strings.Contains(err.Error(), "--max-dead-letters-per-scan") {
			t.Fatalf("scan %d: %v, want ErrTooManyDeadLetters naming --max-dead-letters-per-scan", n, err)
		}
		p.txnMu.Lock()
		err = p.endTxn(ctx, true) // what the abandoned scan left open
		p.txnMu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if cs := p.Companies(); len(cs) != 1 || cs[0].HasCursor {
			t.Fatalf("after scan %d: %+v, want no cursor", n, cs)
		}
		if n := len(readCommitted(t, e.c, e.cfg.DLQTopic)); n != 3 {
			t.Fatalf("dead-letter topic holds %d records, want the cap, 3", n)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}

	e.cfg.MaxDeadLettersPerScan = 5
	p = e.open(nil)
	if err := e.runScan(ctx, p, 2, plan); err != nil {
		t.Fatalf("scan within the cap: %v", err)
	}
	if got := p.Cursor(e.company).Since; !got.Equal(since) {
		t.Errorf("cursor %s, want %s", got, since)
	}
	if n := len(readCommitted(t, e.c, e.cfg.DLQTopic)); n != 5 {
		t.Errorf("dead-letter topic holds %d records, want 5", n)
	}
	if cs := p.Companies(); len(cs) != 1 || cs[0].Cursor.Scans != 1 {
		t.Errorf("companies %+v, want one completed scan", cs)
	}
}
