package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"
)

// TestSecondDemoOnTheSameDirectoryExits: two demos must not share an embedded
// Kafka's files. The second says which directory is taken and exits; once the
// first stops, the directory is free again.
func TestSecondDemoOnTheSameDirectoryExits(t *testing.T) {
	dir := t.TempDir()
	args := []string{"demo", "--data-dir", dir, "--companies", "1", "--customers", "20", "--trickle", "0", "--metrics-addr", ""}
	ready := func(p *proc) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, "the demo's first events", func() bool {
			return strings.Contains(p.stdout.String(), "Committed events")
		})
	}
	first := start(t, nil, args...)
	ready(first)
	if out := first.stdout.String(); !strings.Contains(out, ": 1 company (id 1) x 20 customers,") {
		t.Errorf("demo banner does not say 1 company:\n%s", out)
	}

	second := start(t, nil, args...)
	if code := second.wait(t, 15*time.Second); code == 0 {
		t.Errorf("the second demo exited 0")
	}
	want := "covacdc: another covacdc demo is using the data directory " + dir + "; stop it or pass another --data-dir\n"
	if got := second.stderr.String(); got != want {
		t.Errorf("second demo's stderr:\n got %q\nwant %q", got, want)
	}

	first.signal(t, syscall.SIGTERM)
	if code := first.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("first demo exit %d after SIGTERM\nstderr:\n%s", code, first.stderr)
	}
	third := start(t, nil, args...)
	ready(third)
	third.signal(t, syscall.SIGTERM)
	if code := third.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("a demo after the first stopped exited %d\nstderr:\n%s", code, third.stderr)
	}
}
