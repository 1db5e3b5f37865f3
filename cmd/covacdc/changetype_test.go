package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/covacdc/covacdc/poller/covatest"
)

// TestChangeTypeTellsTheTruth checks the change type and previousVersion of
// every event on the topic, read with read_committed, after an initial load
// that Cova changes under it (customers modified and inserted between its
// pages, in each row order the simulator has) and a few later scans with
// changes: previousVersion is null exactly for a customer's first event,
// UPDATED exactly when it is set, SNAPSHOT for a first event during the
// company's initial load and CREATED for one after it.
func TestChangeTypeTellsTheTruth(t *testing.T) {
	for _, order := range []struct {
		name  string
		order covatest.Order
	}{{"guid", covatest.OrderGUID}, {"modified", covatest.OrderModified}, {"random", covatest.OrderRandom}} {
		t.Run(order.name, func(t *testing.T) {
			e := newTestEnv(t, covatest.Config{Seed: 11, Order: order.order})
			const generated = 200
			e.sim.Generate(1, generated)
			e.sim.SetHazards(covatest.Hazards{ModifyPerPage: 3, InsertPerPage: 2})
			// Pages of 20 that overlap by 10: the load spans some 30 pages.
			args := append(e.runArgs("1", "--page-size", "20", "--max-events-per-transaction", "40"), "--once")

			// A scan that meets a shift it cannot prove safe fails; the
			// next one repeats it, still within the initial load.
			for attempt := 1; ; attempt++ {
				load := start(t, passwordEnv(), args...)
				code := load.wait(t, 60*time.Second)
				if code == 0 {
					break
				}
				if attempt == 3 {
					t.Fatalf("initial load: exit %d\nstderr:\n%s", code, load.stderr)
				}
			}
			duringLoad := map[string]bool{} // customer/version published by the initial load
			e.settled(t, e.topic)
			for _, ev := range e.readEvents(t, e.topic) {
				duringLoad[fmt.Sprintf("%s/%d", ev.CustomerID, ev.Version)] = true
			}
			if len(duringLoad) <= generated {
				t.Fatalf("the initial load published %d events of %d customers: the inserts between pages did not happen", len(duringLoad), generated)
			}

			e.sim.SetHazards(covatest.Hazards{})
			for i := range 3 {
				e.sim.Modify(1, 15)
				e.sim.Insert(1, 5)
				p := start(t, passwordEnv(), args...)
				if code := p.wait(t, 60*time.Second); code != 0 {
					t.Fatalf("scan %d after the load: exit %d\nstderr:\n%s", i+1, code, p.stderr)
				}
			}

			e.settled(t, e.topic)
			events := e.readEvents(t, e.topic)
			checkExactlyOnce(t, events, map[int64]map[string]int64{1: e.sim.Truth(1)})
			last := map[string]int64{}
			types := map[string]int{}
			wrong := 0
			for _, ev := range events {
				prev, seen := last[ev.CustomerID]
				last[ev.CustomerID] = ev.Version
				var want string
				switch {
				case seen:
					want = "UPDATED"
				case duringLoad[fmt.Sprintf("%s/%d", ev.CustomerID, ev.Version)]:
					want = "SNAPSHOT"
				default:
					want = "CREATED"
				}
				types[ev.ChangeType]++
				var bad []string
				if ev.ChangeType != want {
					bad = append(bad, fmt.Sprintf("changeType %s, want %s", ev.ChangeType, want))
				}
				switch {
				case seen && ev.PreviousVersion == nil:
					bad = append(bad, fmt.Sprintf("previousVersion null after version %d", prev))
				case seen && *ev.PreviousVersion != prev:
					bad = append(bad, fmt.Sprintf("previousVersion %d, want %d", *ev.PreviousVersion, prev))
				case !seen && ev.PreviousVersion != nil:
					bad = append(bad, fmt.Sprintf("previousVersion %d on the customer's first event", *ev.PreviousVersion))
				}
				if h := ev.Headers["covacdc-change-type"]; h != ev.ChangeType {
					bad = append(bad, fmt.Sprintf("header covacdc-change-type %s", h))
				}
				if len(bad) > 0 {
					if wrong++; wrong <= 5 {
						t.Errorf("customer %s version %d (partition %d offset %d): %v", ev.CustomerID, ev.Version, ev.Partition, ev.Offset, bad)
					}
				}
			}
			t.Logf("%d events: %v; %d wrong", len(events), types, wrong)
			if types["SNAPSHOT"] == 0 || types["CREATED"] == 0 || types["UPDATED"] == 0 {
				t.Errorf("change types %v: want all three", types)
			}
		})
	}
}
