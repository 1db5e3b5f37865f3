package state

import "testing"

// BenchmarkDiff is the state's share of one customer: Pending.Diff against an
// index of benchCustomers tracked customers (cache misses included), for a
// customer seen before at the same Version, at an older one, and never; and the
// diff plus SetVersion a changed customer costs, its pending changes discarded
// every 2,000 (the default events per transaction).
func BenchmarkDiff(b *testing.B) {
	n := benchCustomers(b)
	x := NewIndex()
	for i := range n {
		x.SetVersion(1, benchID(i), 5)
	}
	x.SetCursor(1, Cursor{InitialLoadComplete: true})
	for _, tc := range []struct {
		name    string
		id      func(i int) [16]byte
		version int64
		want    Outcome
	}{
		{"unchanged", func(i int) [16]byte { return benchID(i % n) }, 5, Unchanged},
		{"updated", func(i int) [16]byte { return benchID(i % n) }, 6, Changed},
		{"created", func(i int) [16]byte { return benchID(n + i) }, 1, Changed},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := NewPending(x)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if ch := p.Diff(1, tc.id(i*7919), tc.version); ch.Outcome != tc.want {
					b.Fatalf("outcome %v, want %v", ch.Outcome, tc.want)
				}
				i++
			}
		})
	}
	b.Run("updated+set", func(b *testing.B) {
		p := NewPending(x)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			id := benchID((i * 7919) % n)
			if ch := p.Diff(1, id, 6); ch.Outcome == Changed {
				p.SetVersion(1, id, 6)
			}
			if i++; i%2000 == 0 {
				p.Discard()
			}
		}
	})
}
