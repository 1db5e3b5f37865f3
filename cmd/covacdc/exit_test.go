package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"

	"github.com/covacdc/covacdc/poller/covatest"
)

// lastLine is the final line a process wrote to stderr.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestBinaryConfigMistakeExits2WithOneLine(t *testing.T) {
	p := start(t, nil, "run", "--kafka-brokers", "127.0.0.1:1", "--company-id", "1", "--cova-client-id", "c",
		"--cova-client-secret", "s", "--cova-username", "u", "--cova-password", "p", "--page-size", "500")
	if code := p.wait(t, 10*time.Second); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	if got, want := p.stderr.String(), "covacdc: --page-size: must be between 2 and 100, got 500\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

func TestCredentialsRejectedExits1(t *testing.T) {
	e := newTestEnv(t, covatest.Config{})
	e.sim.Generate(1, 10)
	const wrong = "not-the-password-42"
	p := start(t, []string{"COVACDC_COVA_PASSWORD=" + wrong}, e.runArgs("1", "--poll-interval", "200ms")...)
	if code := p.wait(t, 30*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1\nstderr:\n%s", code, p.stderr)
	}
	stderr := p.stderr.String()
	want := "covacdc: Cova rejected the credentials: token endpoint answered HTTP 400 invalid_grant: username or password wrong or not allowed (check --cova-username and --cova-password)"
	if got := lastLine(stderr); got != want {
		t.Errorf("last stderr line\n got %s\nwant %s", got, want)
	}
	if strings.Contains(stderr, wrong) {
		t.Errorf("the password reached the logs:\n%s", stderr)
	}
}

func TestFencedByAnotherInstanceExits1(t *testing.T) {
	e := newTestEnv(t, covatest.Config{})
	e.sim.Generate(1, 200)
	args := e.runArgs("1", "--poll-interval", "300ms")
	older := start(t, passwordEnv(), args...)
	testenv.Eventually(t, 30*time.Second, "the first instance's initial load", func() bool { return e.committed(t, e.topic) >= 200 })

	newer := start(t, passwordEnv(), args...)
	if code := older.wait(t, 30*time.Second); code != 1 {
		t.Fatalf("older instance exit code %d, want 1\nstderr:\n%s", code, older.stderr)
	}
	want := `covacdc: fenced: another covacdc instance started with --transactional-id "` + e.txnID + `" and took over; this one stops (run one instance per transactional id)`
	if got := lastLine(older.stderr.String()); got != want {
		t.Errorf("older instance's last line:\n got %q\nwant %q", got, want)
	}
	select {
	case <-newer.done:
		t.Fatalf("the newer instance exited too (code %d)\nstderr:\n%s", newer.code, newer.stderr)
	default:
	}
	newer.signal(t, syscall.SIGTERM)
	if code := newer.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("newer instance exit code %d after SIGTERM\nstderr:\n%s", code, newer.stderr)
	}
}

// TestSIGTERMExits0Quickly stops covacdc in the middle of a slow initial load:
// it aborts the open transaction and exits 0 well within 10 s, and a restart
// completes the load without duplicates.
func TestSIGTERMExits0Quickly(t *testing.T) {
	e := newTestEnv(t, covatest.Config{Seed: 3})
	e.sim.Generate(1, 1000)
	e.sim.SetHazards(covatest.Hazards{Slow: 50 * time.Millisecond})
	e.metrics = freeAddr(t)
	args := e.runArgs("1", "--page-size", "20", "--max-events-per-transaction", "60")
	p := start(t, passwordEnv(), args...)
	testenv.Eventually(t, 30*time.Second, "some events committed", func() bool { return e.committed(t, e.topic) >= 100 })

	p.signal(t, syscall.SIGTERM)
	began := time.Now()
	code := p.wait(t, 15*time.Second)
	took := time.Since(began)
	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0\nstderr:\n%s", code, p.stderr)
	}
	if took > 10*time.Second {
		t.Fatalf("took %s to stop after SIGTERM, want under 10s", took)
	}
	t.Logf("stopped %s after SIGTERM", took.Round(time.Millisecond))

	e.sim.SetHazards(covatest.Hazards{})
	e.metrics = ""
	again := start(t, passwordEnv(), append(e.runArgs("1"), "--once")...)
	if code := again.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("restart exit %d\nstderr:\n%s", code, again.stderr)
	}
	checkExactlyOnce(t, e.readEvents(t, e.topic), map[int64]map[string]int64{1: e.sim.Truth(1)})
}

func TestOnceExits1WhenAScanFails(t *testing.T) {
	e := newTestEnv(t, covatest.Config{})
	e.sim.Generate(1, 10)
	// Company 2 does not exist in the simulator: its scans fail, company 1's succeed.
	p := start(t, passwordEnv(), append(e.runArgs("1,2"), "--once")...)
	code := p.wait(t, 90*time.Second)
	if code != 1 {
		t.Fatalf("exit code %d, want 1\nstderr:\n%s", code, p.stderr)
	}
	if got := lastLine(p.stderr.String()); !strings.HasPrefix(got, "covacdc: 1 of 2 companies failed their scan: company 2:") {
		t.Errorf("last line %q", got)
	}
	checkExactlyOnce(t, e.readEvents(t, e.topic), map[int64]map[string]int64{1: e.sim.Truth(1)})
}
