package publisher

import (
	"bytes"
	"strings"
	"testing"
)

// TestArenaNeverRewritesWhatItHandedOut hands out slices of every size, some
// larger than a block, and checks at the end that each still holds its bytes.
func TestArenaNeverRewritesWhatItHandedOut(t *testing.T) {
	var a arena
	var got, want [][]byte
	for i := range 3000 {
		n := (i * 7919) % 5000
		if i%500 == 0 {
			n = arenaBlock + i // larger than a whole block
		}
		content := []byte(strings.Repeat(string(rune('a'+i%26)), n))
		b := a.keep(append(a.free(), content...))
		if len(b) != n || cap(b) != n {
			t.Fatalf("slice %d: len %d cap %d, want %d", i, len(b), cap(b), n)
		}
		got, want = append(got, b), append(want, content)
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("slice %d was overwritten", i)
		}
	}
}

// TestArenaReusesBlocksOnlyAfterCommit interleaves commits and aborts with the
// slices handed out. Until a commit, every slice handed out since the last one
// keeps its bytes; a slice handed out before an abort keeps them for good (kgo
// may still hold its record); and the blocks of committed transactions are
// filled again rather than allocated.
func TestArenaReusesBlocksOnlyAfterCommit(t *testing.T) {
	var a arena
	type handed struct{ got, want []byte }
	var sinceCommit, beforeAbort []handed
	check := func(when string, hs []handed) {
		t.Helper()
		for i, h := range hs {
			if !bytes.Equal(h.got, h.want) {
				t.Fatalf("%s: slice %d of %d was overwritten", when, i, len(hs))
			}
		}
	}
	blocks := map[*byte]bool{}
	for i := range 20000 {
		n := (i * 7919) % 3000
		content := []byte(strings.Repeat(string(rune('a'+i%26)), n))
		b := a.keep(append(a.free(), content...))
		blocks[&a.buf[:1][0]] = true
		sinceCommit = append(sinceCommit, handed{b, content})
		switch {
		case i%1500 == 1499:
			check("before a commit", sinceCommit)
			check("before a commit", beforeAbort)
			a.committed()
			sinceCommit = sinceCommit[:0]
		case i%7000 == 6999:
			a.aborted()
			beforeAbort = append(beforeAbort, sinceCommit...)
			sinceCommit = sinceCommit[:0]
		}
	}
	check("at the end", sinceCommit)
	check("at the end", beforeAbort)
	// 20,000 slices of 1.5 KB on average are 117 blocks of 256 KB; commits
	// every 1,500 slices (9 blocks) let the arena live in far fewer.
	if len(blocks) > 40 {
		t.Errorf("the arena used %d blocks: committed blocks are not reused", len(blocks))
	}
}

// TestRecyclerDropsWhatAnAbortMayHold: a slice comes back from get only after a
// commit, and never if a transaction aborted between its get and its used.
func TestRecyclerDropsWhatAnAbortMayHold(t *testing.T) {
	var r recycler[int]
	same := func(a, b []int) bool { return &a[:1][0] == &b[:1][0] }

	s1, since := r.get(10)
	r.used(s1, since)
	if s, _ := r.get(10); same(s, s1) {
		t.Fatal("a slice came back before its transaction committed")
	}
	r.committed()
	if s, _ := r.get(10); !same(s, s1) {
		t.Fatal("a committed slice did not come back")
	}

	s2, since := r.get(10)
	r.aborted() // s2's records may be buffered still
	r.used(s2, since)
	r.committed()
	s3, since := r.get(10)
	if same(s3, s2) {
		t.Fatal("a slice used by an aborted transaction came back")
	}
	r.used(s3, since)
	r.aborted() // s3 was used, then its transaction aborted
	r.committed()
	if s, _ := r.get(10); same(s, s3) {
		t.Fatal("a slice used before an abort came back")
	}
	if s, _ := r.get(1000); cap(s) < 1000 {
		t.Fatalf("get(1000) returned capacity %d", cap(s))
	}
}

// TestRecyclerKeepsWhatATransactionUsed: after a commit the recycler holds as
// many spares as that transaction used, so a run of small transactions (an idle
// covacdc) holds none.
func TestRecyclerKeepsWhatATransactionUsed(t *testing.T) {
	var r recycler[byte]
	fill := func(n int) {
		for range n {
			s, since := r.get(64)
			r.used(s, since)
		}
	}
	fill(10)
	r.committed()
	if len(r.spare) != 10 {
		t.Fatalf("%d spares after a transaction of 10, want 10", len(r.spare))
	}
	fill(3)
	r.committed()
	if len(r.spare) != 3 {
		t.Fatalf("%d spares after a transaction of 3, want 3", len(r.spare))
	}
	r.committed()
	if len(r.spare) != 0 {
		t.Fatalf("%d spares after an empty transaction, want 0", len(r.spare))
	}
	fill(maxSpare + 5)
	r.committed()
	if len(r.spare) != maxSpare {
		t.Fatalf("%d spares, want at most %d", len(r.spare), maxSpare)
	}
}
