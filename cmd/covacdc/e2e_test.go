package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"

	"github.com/covacdc/covacdc/poller/covatest"
)

// TestKillMidLoadThenResume runs covacdc run against the simulator and Kafka,
// kills it with SIGKILL in the middle of the initial load, lets Cova change while
// it is down, restarts it, and reads the topic back with read_committed:
// every customer's current version is there, nothing twice, versions rising.
func TestKillMidLoadThenResume(t *testing.T) {
	e := newTestEnv(t, covatest.Config{Seed: 7})
	const perCompany = 1500
	companies := []int64{1, 2}
	for _, id := range companies {
		e.sim.Generate(id, perCompany)
	}
	// Slow pages make the load last long enough to be interrupted.
	e.sim.SetHazards(covatest.Hazards{Slow: 40 * time.Millisecond})

	args := e.runArgs("1,2", "--page-size", "25", "--max-events-per-transaction", "100", "--poll-interval", "1h")
	first := start(t, passwordEnv(), args...)
	testenv.Eventually(t, 30*time.Second, "some events committed", func() bool { return e.committed(t, e.topic) >= 400 })
	first.signal(t, syscall.SIGKILL)
	first.wait(t, 5*time.Second)
	killedAt := e.committed(t, e.topic)
	if killedAt >= 2*perCompany {
		t.Fatalf("the load was over (%d offsets committed) before the kill: make it slower", killedAt)
	}
	t.Logf("killed with %d offsets committed (events and markers) of %d customers", killedAt, 2*perCompany)

	// Cova keeps changing while covacdc is down.
	e.sim.SetHazards(covatest.Hazards{})
	for _, id := range companies {
		e.sim.Modify(id, 50)
		e.sim.Burst(id, 5, time.Now().UTC())
	}

	second := start(t, passwordEnv(), append(args, "--once")...)
	if code := second.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("restarted covacdc run --once exited %d\nstderr:\n%s", code, second.stderr)
	}
	// And after the initial load, changes are UPDATED and CREATED events.
	for _, id := range companies {
		e.sim.Modify(id, 20)
		e.sim.Burst(id, 3, time.Now().UTC())
	}
	third := start(t, passwordEnv(), append(args, "--once")...)
	if code := third.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("third covacdc run --once exited %d\nstderr:\n%s", code, third.stderr)
	}

	events := e.readEvents(t, e.topic)
	truth := map[int64]map[string]int64{}
	for _, id := range companies {
		truth[id] = e.sim.Truth(id)
	}
	checkExactlyOnce(t, events, truth)

	types := map[string]int{}
	for _, ev := range events {
		types[ev.ChangeType]++
		if ev.Headers["covacdc-change-type"] != ev.ChangeType || ev.Headers["covacdc-company-id"] == "" {
			t.Fatalf("headers %v do not match event %+v", ev.Headers, ev)
		}
	}
	t.Logf("change types: %v", types)
	if types["SNAPSHOT"] < 2*perCompany || types["UPDATED"] == 0 || types["CREATED"] == 0 {
		t.Errorf("change types %v: want every generated customer as SNAPSHOT, then UPDATED and CREATED after the load", types)
	}
	if !strings.Contains(third.stderr.String(), "scan committed") {
		t.Errorf("no scan log line in:\n%s", third.stderr)
	}
}
