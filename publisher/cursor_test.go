package publisher

import (
	"context"
	"testing"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
)

// TestCompleteWritesTheCursor completes scans with what only their caller
// knows (the next Since and the server's scan start) and reads the cursor back
// from the state topic, across a restart: Complete sets the rest.
func TestCompleteWritesTheCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	now := time.Date(2024, 5, 1, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	open := func() *Publisher {
		p, err := New(ctx, e.cfg, WithEncoder(e.enc), WithClock(func() time.Time { return now }))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close(context.Background()) })
		return p
	}
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	complete := func(p *Publisher, n int) state.Cursor {
		t.Helper()
		s := p.BeginScan(e.company, "scan", schema.Source{})
		next, serverStart := base.Add(time.Duration(n)*time.Hour), base.Add(time.Duration(n)*time.Hour+time.Minute)
		if err := s.Complete(ctx, next, serverStart); err != nil {
			t.Fatalf("scan %d: %v", n, err)
		}
		return state.Cursor{Since: next, ScanStarted: serverStart, ScanFinished: now.UTC(), InitialLoadComplete: true, Scans: int64(n)}
	}
	check := func(p *Publisher, want state.Cursor) {
		t.Helper()
		if got := p.Cursor(e.company); got != want {
			t.Errorf("cursor held:\n got %+v\nwant %+v", got, want)
		}
		cs, err := state.Summary(ctx, e.cfg.State.Topic, e.c.Opts()...)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 1 || !cs[0].HasCursor || cs[0].Cursor != want {
			t.Errorf("cursor on the state topic:\n got %+v\nwant %+v", cs, want)
		}
	}
	p := open()
	complete(p, 1)
	check(p, complete(p, 2))
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	p = open()
	check(p, complete(p, 3))
}
