package state

import (
	"sync"
	"testing"
)

// TestIndexReadsMayRunAtOnce reads two companies of an Index from several
// goroutines at once, as the publisher's readers do under a shared lock: the
// race detector proves that reading writes nothing.
func TestIndexReadsMayRunAtOnce(t *testing.T) {
	x := NewIndex()
	for c := range int64(2) {
		x.SetVersion(c, id(1), 10+c)
		x.SetCursor(c, Cursor{Scans: 1 + c})
		x.AddDeadLetter(c, id(2))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				c := int64((g + i) % 2)
				if v, _ := x.Version(c, id(1)); v != 10+c {
					t.Errorf("company %d: Version %d, want %d", c, v, 10+c)
					return
				}
				if cur, _ := x.Cursor(c); cur.Scans != 1+c {
					t.Errorf("company %d: cursor %+v, want %d scans", c, cur, 1+c)
					return
				}
				if !x.HasDeadLetter(c, id(2)) || x.Tracked(c) != 1 {
					t.Errorf("company %d: dead letter or tracked customers lost", c)
					return
				}
			}
		})
	}
	wg.Wait()
}
