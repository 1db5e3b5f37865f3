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
