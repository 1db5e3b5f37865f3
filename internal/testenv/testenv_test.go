package testenv

import (
	"os"
	"strings"
	"testing"
	"time"
)

// fakeT records a Fatalf instead of ending the test, so Eventually's failure
// can be checked.
type fakeT struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeT) Helper()       {}
func (f *fakeT) Failed() bool  { return f.failed }
func (f *fakeT) Skipped() bool { return false }
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = true
	f.msg = format
	panic(f)
}

func TestEventuallyWaitsForTheCondition(t *testing.T) {
	start, calls := time.Now(), 0
	Eventually(t, 10*time.Second, "the third call", func() bool { calls++; return calls == 3 })
	if calls != 3 {
		t.Fatalf("cond called %d times, want 3", calls)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("three checks took %s", d)
	}
}

func TestEventuallyFailsAtTheDeadline(t *testing.T) {
	f := &fakeT{}
	func() {
		defer func() {
			if r := recover(); r != f {
				panic(r)
			}
		}()
		Eventually(f, 30*time.Millisecond, "a condition that never holds", func() bool { return false })
	}()
	if !f.failed || !strings.Contains(f.msg, "timed out") {
		t.Fatalf("Eventually on a false condition: failed %v, %q; want a timeout failure", f.failed, f.msg)
	}
}

func TestCovacdcBuildsARunnableBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds covacdc")
	}
	defer Cleanup()
	bin := Covacdc(t)
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("%s: %v, mode %v: want an executable", bin, err, fi)
	}
	if Covacdc(t) != bin {
		t.Error("a second call built covacdc again")
	}
}
