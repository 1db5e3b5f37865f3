package main

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"
	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/prometheus/client_golang/prometheus"
)

// TestIdleCompaniesWeighLittle: what covacdc keeps for every configured
// company between its scans (its metric series and its entry in the state,
// which the registry reaches through the publisher's gauges) must weigh
// little: a deployment configures thousands of companies, and memory must
// follow the work in flight, not the company list. covacdc scans 100, then
// 400 companies of one customer once; the heap its registry still holds
// afterwards, less what is left once it is dropped, grows by what 300 idle
// companies cost.
func TestIdleCompaniesWeighLittle(t *testing.T) {
	const small, large = 100, 400
	e := newTestEnv(t, covatest.Config{Seed: 3})
	for id := int64(1); id <= large; id++ {
		e.sim.Generate(id, 1)
	}
	held := map[int]int64{}
	for _, n := range []int{small, large} {
		held[n] = registryHeap(t, e, n)
	}
	per := (held[large] - held[small]) / (large - small)
	// Every series of a company exists at zero from the first scrape (a dead
	// letter count for every reason, an event count for every change type,
	// the scan-duration histogram of both outcomes): 3.4 KB measured when each
	// was a series, 1.4 KB since those still at zero are a bit each.
	if limit := int64(2 << 10); per > limit {
		t.Errorf("an idle company holds %d bytes of heap in its series and state, want at most %d: 5,000 companies would hold %d MB with nothing in flight",
			per, limit, per*5000>>20)
	}
	t.Logf("the registry holds %d KB after %d companies, %d KB after %d: %d bytes a company", held[small]>>10, small, held[large]>>10, large, per)
}

// registryHeap runs covacdc --once on companies 1..n, on topics of their own,
// and returns the heap its registry holds afterwards.
func registryHeap(t *testing.T, e *testEnv, n int) int64 {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = strconv.Itoa(i + 1)
	}
	e.topic, e.state, e.dlq, e.txnID = e.topic+"x", e.state+"x", e.dlq+"x", e.txnID+"x"
	var f runFlags
	if err := parseFlags(runCommand(&f), e.runArgs(strings.Join(ids, ","), "--once")[1:], &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	f.Password = covatest.DefaultPassword
	cfg, err := f.validate()
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reg := newRegistry()
	if err := runPipeline(ctx, cfg, newLogger(&logs, "text", "warn"), reg, nil); err != nil {
		t.Fatalf("run --once: %v\n%s", err, logs.String())
	}
	if got := len(e.readEvents(t, e.topic)); got != n {
		t.Fatalf("%d events committed, want %d", got, n)
	}
	if len(gather(t, reg)) == 0 {
		t.Fatal("the registry holds no metrics")
	}
	held := testenv.HeapInUse()
	runtime.KeepAlive(reg)
	return held - testenv.HeapInUse()
}

// gather returns the metric families of reg.
func gather(t *testing.T, reg prometheus.Gatherer) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	return names
}
