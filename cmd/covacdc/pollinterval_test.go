package main

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"

	"github.com/covacdc/covacdc/poller/covatest"
)

// TestPollIntervalThatCannotBeKept: thirty companies polled every second need
// 1,800 requests a minute; with a budget of 60 each can be polled every 30 s.
// covacdc says so at start-up, at WARN, and in
// covacdc_effective_poll_interval_seconds.
func TestPollIntervalThatCannotBeKept(t *testing.T) {
	e := newTestEnv(t, covatest.Config{Seed: 5})
	var companies []string
	for id := int64(1); id <= 30; id++ {
		e.sim.Generate(id, 3)
		companies = append(companies, strconv.FormatInt(id, 10))
	}
	e.metrics = freeAddr(t)
	p := start(t, passwordEnv(), e.runArgs(strings.Join(companies, ","), "--poll-interval", "1s", "--requests-per-minute", "60")...)
	var warn string
	testenv.Eventually(t, 60*time.Second, "the WARN line of the poll interval", func() bool {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			if strings.Contains(line, "level=WARN") && strings.Contains(line, "--poll-interval cannot be kept") {
				warn = line
				return true
			}
		}
		return false
	})
	for _, want := range []string{"companies=30", "poll_interval=1s", "effective_poll_interval=30s", "requests_per_minute=60", "requests_per_minute_needed=1800"} {
		if !strings.Contains(warn, want) {
			t.Errorf("the WARN line lacks %s: %s", want, warn)
		}
	}
	var got float64
	testenv.Eventually(t, 10*time.Second, "covacdc_effective_poll_interval_seconds", func() bool {
		got = sum(families(t, scrape(t, e.metrics))["covacdc_effective_poll_interval_seconds"], nil)
		return got != 0
	})
	if got != 30 {
		t.Errorf("covacdc_effective_poll_interval_seconds = %v, want 30", got)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM\nstderr:\n%s", code, p.stderr)
	}
}
