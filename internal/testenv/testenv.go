// Package testenv holds what covacdc's tests share across packages: the
// covacdc binary, built once per test process, and waiting for a condition
// under a deadline. Only tests import it.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	binErr    error
)

// Covacdc returns the path of a covacdc binary built from this module's
// cmd/covacdc, once per test process: only the tests that run it pay for the
// build. A build failure fails t with the compiler's output. TestMain calls
// Cleanup after m.Run to remove the binary.
func Covacdc(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "covacdc-test-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "covacdc")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/covacdc/covacdc/cmd/covacdc").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build covacdc: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Cleanup removes the binary Covacdc built, if any.
func Cleanup() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// Eventually checks cond until it holds, first every few milliseconds and
// then every 100 ms, and fails t (naming what it waited for) once timeout has
// passed without it. cond may itself end t with t.Fatal, as when a process
// it watches dies.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := 2 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// HeapInUse is the heap in use once the garbage is collected: what a test
// of memory held subtracts before and after.
func HeapInUse() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
