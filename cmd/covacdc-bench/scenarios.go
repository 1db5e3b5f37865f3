package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
)

// scenarioRestore restarts covacdc on a state topic of MemoryCustomers tracked
// customers (the memory scenario's, or one it loads first) and measures the
// time from process start to the "state restored" line, after which the first
// scan may start.
func (b *bench) scenarioRestore(ctx context.Context) error {
	c := b.cfg
	if b.kept == nil {
		s := b.report.section("memory: one unpaged response (loaded for restore)",
			fmt.Sprintf("%d customers of one company in one response (simulate --ignore-paging)", c.MemoryCustomers))
		r, err := b.runLoad(ctx, loadSpec{scenario: "memory", companies: 1, customers: c.MemoryCustomers,
			simArgs: []string{"--ignore-paging"}, runArgs: []string{"--requests-per-minute", strconv.Itoa(c.LoadRPM)},
			keep: true, every: 500 * time.Millisecond, timeout: 60 * time.Minute})
		if err != nil {
			return err
		}
		b.memoryFigures(s, 0, r)
		s.target("covacdc peak RSS", "<=", 200, "")
	}
	kept := b.kept
	s := b.report.section("restore: startup on a full state topic",
		fmt.Sprintf("%d tracked customers in the state topic; time from process start to the \"state restored\" log line", kept.customers))
	for i := range c.Runs {
		cv, err := b.startCovacdc(ctx, kept.k, kept.n, kept.sim, 1, "--poll-interval", "1h")
		if err != nil {
			return err
		}
		l, err := cv.restored(ctx, 5*time.Minute)
		if err != nil {
			cv.kill()
			return err
		}
		if _, err := cv.stop(30 * time.Second); err != nil {
			return err
		}
		u := cv.usage()
		if got := int(l.num("customers")); got != kept.customers {
			return fmt.Errorf("restored %d customers, want %d", got, kept.customers)
		}
		s.add(i, "process start to state restored", "s", l.At.Sub(cv.start).Seconds())
		if d, err := time.ParseDuration(l.str("duration")); err == nil {
			s.add(i, "restore itself (logged duration)", "s", d.Seconds())
		} else if v := l.num("duration"); v > 0 {
			s.add(i, "restore itself (logged duration)", "s", v/1e9)
		}
		s.add(i, "state records read", "", l.num("records"))
		s.add(i, "covacdc CPU (start, restore, stop)", "s", u.CPU.Seconds())
		s.add(i, "covacdc peak RSS", "MB", float64(u.PeakRSS)/1e6)
	}
	s.target("process start to state restored", "<=", 3, "set for kfake; this run: "+b.report.Kafka)
	b.closeKept()
	return nil
}

// scenarioSteady loads SteadyCompanies small companies, then measures idle polls:
// nothing changes, so each poll should be one request per company.
func (b *bench) scenarioSteady(ctx context.Context) error {
	c := b.cfg
	s := b.report.section(fmt.Sprintf("steady: %d companies, nothing changing", c.SteadyCompanies),
		fmt.Sprintf("%d customers each, simulate --trickle 0, covacdc --poll-interval %s, %d intervals measured after the initial load", c.SteadyCustomers, c.PollInterval, c.SteadyPolls))
	for i := range c.Runs {
		if err := b.steadyRun(ctx, s, i); err != nil {
			return err
		}
	}
	s.target("requests per company per poll interval (max over companies)", "==", 1, "counted by scan start, from covacdc's log")
	s.target("requests per company per poll interval (min over companies)", "==", 1, "")
	s.target("requests per scan (max over companies)", "==", 1, "from /metrics")
	s.note("requests per poll interval: the requests of the scans that started in a window of whole intervals, from 70%% into one interval; by completion time (/metrics) a window's count is uneven, because the shared budget and the commits spread the 20 companies' completions over seconds")
	return nil
}

func (b *bench) steadyRun(ctx context.Context, s *section, run int) (err error) {
	c := b.cfg
	k, err := startKafka()
	if err != nil {
		return err
	}
	defer k.close()
	sim, err := b.startSimulator(ctx, c.SteadyCustomers, c.SteadyCompanies)
	if err != nil {
		return err
	}
	defer sim.kill()
	cv, err := b.startCovacdc(ctx, k, newNames("steady"), sim, c.SteadyCompanies, "--poll-interval", c.PollInterval.String())
	if err != nil {
		return err
	}
	defer cv.kill()
	restored, err := cv.restored(ctx, 5*time.Minute)
	if err != nil {
		return err
	}
	if _, _, _, err := cv.waitPublished(ctx, float64(c.SteadyCompanies*c.SteadyCustomers), 200*time.Millisecond, 10*time.Minute); err != nil {
		return err
	}
	// Events of a scan may commit in another company's transaction before the
	// scan itself completes: wait for every company's own "scan committed".
	for id := 1; id <= c.SteadyCompanies; id++ {
		cid := strconv.Itoa(id)
		if _, err := cv.waitLog(ctx, 10*time.Minute, "company "+cid+"'s first scan", func(l logLine) bool {
			return scanCommitted(l) && l.str("company_id") == cid
		}); err != nil {
			return err
		}
	}
	// Every company's ticker started when the state was restored, so polls
	// start together at restored + k intervals, and the shared budget spreads
	// their requests over the next second or two. The window starts and ends
	// 70% into an interval, between two such bursts, so each company's count is
	// its polls in whole intervals.
	next := time.Since(restored.At)/c.PollInterval + 1
	time.Sleep(time.Until(restored.At.Add(next*c.PollInterval + c.PollInterval*7/10)))
	m0, err := scrape(ctx, cv.MetricsAddr)
	if err != nil {
		return err
	}
	cpu0, t0 := must(cv.cpu()), time.Now()
	b.logf("steady: measuring %d idle poll intervals", c.SteadyPolls)
	select {
	case <-time.After(time.Duration(c.SteadyPolls) * c.PollInterval):
	case <-ctx.Done():
		return ctx.Err()
	}
	m1, err := scrape(ctx, cv.MetricsAddr)
	if err != nil {
		return err
	}
	cpu1, t1 := must(cv.cpu()), time.Now()
	req0, req1 := m0.by("covacdc_cova_requests_total", "company_id"), m1.by("covacdc_cova_requests_total", "company_id")
	scans0, scans1 := m0.by("covacdc_scan_duration_seconds_count", "company_id"), m1.by("covacdc_scan_duration_seconds_count", "company_id")
	var perScan []float64
	totalScans := 0.0
	for id := 1; id <= c.SteadyCompanies; id++ {
		key := strconv.Itoa(id)
		dr, ds := req1[key]-req0[key], scans1[key]-scans0[key]
		if ds > 0 {
			perScan = append(perScan, dr/ds)
		}
		totalScans += ds
	}
	if len(perScan) < c.SteadyCompanies {
		return fmt.Errorf("only %d of %d companies scanned in the window", len(perScan), c.SteadyCompanies)
	}
	// Per company, from covacdc's own log: the scans that started (a log
	// line's time minus its duration) within the window of SteadyPolls whole
	// intervals, and their requests. A scan's start is its tick, far from the
	// window's edges, where its completion may not be. Wait for the last ones.
	select {
	case <-time.After(c.PollInterval):
	case <-ctx.Done():
		return ctx.Err()
	}
	end := t0.Add(time.Duration(c.SteadyPolls) * c.PollInterval)
	started := map[string]float64{}
	for _, l := range cv.logs(scanCommitted) {
		d, err := time.ParseDuration(l.str("duration"))
		if start := l.At.Add(-d); err == nil && !start.Before(t0) && start.Before(end) {
			started[l.str("company_id")] += l.num("requests")
		}
	}
	var perInterval []float64
	for id := 1; id <= c.SteadyCompanies; id++ {
		perInterval = append(perInterval, started[strconv.Itoa(id)]/float64(c.SteadyPolls))
	}
	errs := cv.errorLines()
	multi := cv.logs(func(l logLine) bool {
		return scanCommitted(l) && l.At.After(t0) && l.At.Before(t1) && l.num("requests") != 1
	})
	if len(multi) > 0 {
		s.note("run %d: %d idle scans made more than one request; the first: %s", run+1, len(multi), multi[0].Raw)
	}
	if _, err := cv.stop(30 * time.Second); err != nil {
		return err
	}
	st, err := sim.stopSimulator()
	if err != nil {
		return err
	}
	s.add(run, "requests per scan (max over companies)", "", slices.Max(perScan))
	s.add(run, "requests per scan (min over companies)", "", slices.Min(perScan))
	s.add(run, "requests per company per poll interval (max over companies)", "", slices.Max(perInterval))
	s.add(run, "requests per company per poll interval (min over companies)", "", slices.Min(perInterval))
	s.add(run, "idle scans measured (all companies)", "", totalScans)
	s.add(run, "covacdc CPU per idle poll", "ms", (cpu1-cpu0).Seconds()/totalScans*1000)
	s.add(run, "covacdc CPU while idle", "% of one core", (cpu1-cpu0).Seconds()/t1.Sub(t0).Seconds()*100)
	s.add(run, "covacdc peak RSS", "MB", float64(cv.usage().PeakRSS)/1e6)
	s.add(run, "CustomerFull requests (simulator, whole run)", "", float64(st.CustomerFullRequests))
	s.add(run, "Cova requests (covacdc /metrics, at the last scrape)", "", m1.sum("covacdc_cova_requests_total"))
	if len(errs) > 0 {
		s.note("run %d: covacdc logged %d ERROR lines, first: %s", run+1, len(errs), errs[0])
	}
	s.note("CPU per idle poll is the process's CPU over the window divided by the scans in it: it includes the /metrics scrapes, Kafka metadata refreshes and readiness checks")
	return nil
}

func must(d time.Duration, err error) time.Duration {
	if err != nil {
		return 0
	}
	return d
}

// scenarioFreshness measures, under a trickle of changes, the time from a
// change's LastModifiedDateUtc to when a read_committed consumer reads its event.
func (b *bench) scenarioFreshness(ctx context.Context) error {
	c := b.cfg
	s := b.report.section("freshness: trickle of changes",
		fmt.Sprintf("1 company of %d, simulate --trickle %g --latency %s --latency-jitter %s --rate-limit-per-minute %d; covacdc --poll-interval %s --requests-per-minute %d; changes measured for %s after the initial load",
			c.FreshCustomers, c.FreshTrickle, c.FreshLatency, c.freshJitter(), c.RateSimLimit, c.PollInterval, c.RateRPM, c.FreshFor))
	for i := range c.Runs {
		if err := b.freshRun(ctx, s, i); err != nil {
			return err
		}
	}
	s.note("read time: when the read_committed consumer (FetchMaxWait 100 ms) received the event, an upper bound of the commit; record timestamp: when covacdc produced it inside the transaction, a lower bound")
	s.note("several changes of one customer within a poll interval are one event (its latest Version); only published events are measured")
	return nil
}

func (b *bench) freshRun(ctx context.Context, s *section, run int) error {
	c := b.cfg
	k, err := startKafka()
	if err != nil {
		return err
	}
	defer k.close()
	sim, err := b.startSimulator(ctx, c.FreshCustomers, 1, "--trickle", strconv.FormatFloat(c.FreshTrickle, 'g', -1, 64),
		"--latency", c.FreshLatency.String(), "--latency-jitter", c.freshJitter().String(), "--rate-limit-per-minute", strconv.Itoa(c.RateSimLimit))
	if err != nil {
		return err
	}
	defer sim.kill()
	n := newNames("freshness")
	cv, err := b.startCovacdc(ctx, k, n, sim, 1, "--poll-interval", c.PollInterval.String(), "--requests-per-minute", strconv.Itoa(c.RateRPM))
	if err != nil {
		return err
	}
	defer cv.kill()

	var (
		mu     sync.Mutex
		events []committedEvent
	)
	cctx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	consumed := make(chan error, 1)
	go func() {
		consumed <- consume(cctx, k, n.Events, true, func(ev committedEvent) bool {
			if ev.ChangeType != "SNAPSHOT" {
				mu.Lock()
				events = append(events, ev)
				mu.Unlock()
			}
			return true
		})
	}()
	first, err := cv.waitLog(ctx, 10*time.Minute, "initial load", scanCommitted)
	if err != nil {
		return err
	}
	from := first.At
	b.logf("freshness: initial load committed; measuring changes for %s", c.FreshFor)
	select {
	case <-time.After(c.FreshFor + 2*c.PollInterval + 5*time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	until := from.Add(c.FreshFor)
	stopConsumer()
	if err := <-consumed; err != nil {
		return err
	}
	errs := cv.errorLines()
	if _, err := cv.stop(30 * time.Second); err != nil {
		return err
	}
	if _, err := sim.stopSimulator(); err != nil {
		return err
	}
	var byRead, byRecord []float64
	mu.Lock()
	for _, ev := range events {
		if ev.LastModified.Before(from) || ev.LastModified.After(until) {
			continue
		}
		byRead = append(byRead, ev.ReadAt.Sub(ev.LastModified).Seconds())
		byRecord = append(byRecord, ev.RecordTime.Sub(ev.LastModified).Seconds())
	}
	mu.Unlock()
	if len(byRead) == 0 {
		return fmt.Errorf("no change events with LastModifiedDateUtc in the %s after the initial load", c.FreshFor)
	}
	slices.Sort(byRead)
	slices.Sort(byRecord)
	s.add(run, "events measured", "", float64(len(byRead)))
	s.add(run, "p50 LastModifiedDateUtc to read (committed)", "s", quantile(byRead, 0.5))
	s.add(run, "p99 LastModifiedDateUtc to read (committed)", "s", quantile(byRead, 0.99))
	s.add(run, "max LastModifiedDateUtc to read (committed)", "s", byRead[len(byRead)-1])
	s.add(run, "p50 LastModifiedDateUtc to record timestamp", "s", quantile(byRecord, 0.5))
	s.add(run, "p99 LastModifiedDateUtc to record timestamp", "s", quantile(byRecord, 0.99))
	if len(errs) > 0 {
		s.note("run %d: covacdc logged %d ERROR lines, first: %s", run+1, len(errs), errs[0])
	}
	return nil
}

// freshJitter is the freshness scenario's simulate --latency-jitter.
func (c config) freshJitter() time.Duration {
	return time.Duration(float64(c.FreshLatency) * c.RateJitter)
}

// quantile of sorted values, nearest rank.
func quantile(sorted []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
