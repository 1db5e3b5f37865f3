package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// loadSpec is one initial load: every customer of every company published once.
type loadSpec struct {
	scenario  string
	companies int
	customers int // per company
	simArgs   []string
	runArgs   []string
	decode    bool // also measure the decode-only ceiling
	keep      bool // keep Kafka and the simulator (for restore)
	// waitScans ends the load at the last company's "scan committed" line
	// rather than at the scrape that counts every customer's event: when
	// customers change during the load, some have more than one event.
	waitScans bool
	every     time.Duration // scrape interval
	timeout   time.Duration
}

// loadRun is what one initial load measured.
type loadRun struct {
	Total        int
	SimReady     time.Duration
	Startup      time.Duration // process start -> state restored
	Wall         time.Duration // process start -> every event committed
	Scan         time.Duration // state restored -> every event committed
	CPUAtDone    time.Duration // /proc, at completion
	Usage        usage         // rusage, whole process life
	Requests     float64
	Throttled    float64
	MaxPerMinute float64
	Codes        map[string]float64 // covacdc's requests by HTTP status
	PeakRSSSeen  int64              // highest VmRSS of the scrapes
	HeapAtPeak   float64            // go_memstats_heap_inuse_bytes at that scrape
	Errors       []string
	Rereads      float64 // pages read again, from the scans' log lines
	HandedOn     float64 // customers the scans handed on, from their log lines
	Verify       verification
	Sim          simStats
	Fetched      *fetched
	Decode       *decodeResult
}

// keptState is the Kafka, topics and simulator the memory scenario leaves for restore.
type keptState struct {
	k         *kafka
	sim       *simulator
	n         names
	customers int
}

func (s *keptState) close() {
	if s.sim != nil {
		s.sim.kill()
	}
	s.k.close()
}

func (b *bench) runLoad(ctx context.Context, spec loadSpec) (_ *loadRun, err error) {
	k, err := startKafka()
	if err != nil {
		return nil, err
	}
	var sim *simulator
	defer func() {
		if err != nil || !spec.keep {
			if sim != nil {
				sim.kill()
			}
			k.close()
		}
	}()
	r := &loadRun{Total: spec.companies * spec.customers}
	b.logf("%s: simulator with %d companies of %d customers %v", spec.scenario, spec.companies, spec.customers, spec.simArgs)
	if sim, err = b.startSimulator(ctx, spec.customers, spec.companies, spec.simArgs...); err != nil {
		return nil, err
	}
	r.SimReady = sim.Ready
	if spec.decode {
		b.logf("%s: fetching every page once for the decode-only ceiling", spec.scenario)
		if r.Fetched, err = b.fetchAll(ctx, sim, spec.companies); err != nil {
			return nil, err
		}
		if r.Fetched.Customers != r.Total {
			return nil, fmt.Errorf("fetched %d customers, want %d", r.Fetched.Customers, r.Total)
		}
	}
	n := newNames(spec.scenario)
	b.logf("%s: covacdc run %v", spec.scenario, spec.runArgs)
	cv, err := b.startCovacdc(ctx, k, n, sim, spec.companies, append([]string{"--poll-interval", "1h"}, spec.runArgs...)...)
	if err != nil {
		return nil, err
	}
	defer cv.kill()
	rl, err := cv.restored(ctx, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	r.Startup = rl.At.Sub(cv.start)
	done, points, m, err := cv.waitPublished(ctx, float64(r.Total), spec.every, spec.timeout)
	if err != nil {
		return nil, err
	}
	if spec.waitScans {
		for id := 1; id <= spec.companies; id++ {
			cid := strconv.Itoa(id)
			l, err := cv.waitLog(ctx, spec.timeout, "company "+cid+"'s first scan", func(l logLine) bool {
				return scanCommitted(l) && l.str("company_id") == cid
			})
			if err != nil {
				return nil, err
			}
			if l.At.After(done) {
				done = l.At
			}
		}
		if m, err = scrape(ctx, cv.MetricsAddr); err != nil {
			return nil, err
		}
	}
	for _, l := range cv.logs(scanCommitted) {
		r.Rereads += l.num("rereads")
		r.HandedOn += l.num("customers")
	}
	r.Wall, r.Scan = done.Sub(cv.start), done.Sub(rl.At)
	r.CPUAtDone = points[len(points)-1].CPU
	r.Requests = m.sum("covacdc_cova_requests_total")
	r.Throttled = m.sum("covacdc_cova_throttled_total")
	r.Codes = m.by("covacdc_cova_requests_total", "code")
	r.MaxPerMinute = maxPerMinute(points)
	for _, p := range points {
		if p.RSS > r.PeakRSSSeen {
			r.PeakRSSSeen, r.HeapAtPeak = p.RSS, p.Heap
		}
	}
	b.logf("%s: memory over the run:%s", spec.scenario, memoryTrace(points, 12))
	r.Errors = cv.errorLines()
	if _, err := cv.stop(30 * time.Second); err != nil {
		return nil, err
	}
	r.Usage = cv.usage()
	if ru, ok := cv.state.SysUsage().(*syscall.Rusage); ok {
		b.logf("%s: peak RSS %.0f MB (VmHWM); rusage Maxrss %.0f MB (holds the bench's own, see usage)", spec.scenario, float64(r.Usage.PeakRSS)/1e6, float64(ru.Maxrss)/1e3)
	}
	b.logf("%s: %d customers committed in %s; verifying with a read_committed consumer", spec.scenario, r.Total, r.Wall.Round(time.Millisecond))
	want := map[string]int{}
	for i := 1; i <= spec.companies; i++ {
		want[strconv.Itoa(i)] = spec.customers
	}
	var truth map[string]int64
	if r.Fetched != nil {
		truth = r.Fetched.Truth
	}
	if r.Verify, err = verify(ctx, k, n.Events, want, truth, 5*time.Minute+time.Duration(r.Total)*time.Millisecond); err != nil {
		return nil, err
	}
	if spec.keep {
		b.closeKept()
		b.kept = &keptState{k: k, sim: sim, n: n, customers: r.Total}
	} else {
		if r.Sim, err = sim.stopSimulator(); err != nil {
			return nil, err
		}
		sim = nil
	}
	if spec.decode {
		b.logf("%s: decode-only ceiling", spec.scenario)
		d, err := decodeOnly(r.Fetched.File)
		if err != nil {
			return nil, err
		}
		if d.Customers != r.Fetched.Customers || d.Invalid != 0 || d.Pages != r.Fetched.Pages {
			return nil, fmt.Errorf("decode-only: %d customers, %d invalid in %d pages; fetched %d customers in %d pages", d.Customers, d.Invalid, d.Pages, r.Fetched.Customers, r.Fetched.Pages)
		}
		r.Decode = &d
	}
	return r, nil
}

func (b *bench) scenarioLoad(ctx context.Context) error {
	c := b.cfg
	s := b.report.section("load: initial load",
		fmt.Sprintf("%d customers of one company, simulator paging $top=100, covacdc --requests-per-minute %d and default fetch-ahead/in-flight; completion from /metrics at 200 ms, verified read_committed",
			c.LoadCustomers, c.LoadRPM))
	for i := range c.Runs {
		r, err := b.runLoad(ctx, loadSpec{scenario: "load", companies: 1, customers: c.LoadCustomers,
			runArgs: []string{"--requests-per-minute", strconv.Itoa(c.LoadRPM)}, decode: true,
			every: 200 * time.Millisecond, timeout: 30 * time.Minute})
		if err != nil {
			return err
		}
		perK := r.Usage.CPU.Seconds() / float64(r.Total) * 1000
		decodePerK := r.Decode.CPU / float64(r.Decode.Customers) * 1000
		s.add(i, "customers/s (process start to last commit)", "1/s", float64(r.Total)/r.Wall.Seconds())
		s.add(i, "customers/s (state restored to last commit)", "1/s", float64(r.Total)/r.Scan.Seconds())
		s.add(i, "wall time", "s", r.Wall.Seconds())
		s.add(i, "covacdc CPU (rusage, whole life)", "s", r.Usage.CPU.Seconds())
		s.add(i, "covacdc CPU user", "s", r.Usage.User.Seconds())
		s.add(i, "covacdc CPU system", "s", r.Usage.System.Seconds())
		s.add(i, "covacdc CPU per 1,000 customers", "ms", perK*1000)
		s.add(i, "decode-only CPU per 1,000 customers", "ms", decodePerK*1000)
		s.add(i, "covacdc CPU / decode-only CPU", "x", perK/decodePerK)
		s.add(i, "covacdc peak RSS", "MB", float64(r.Usage.PeakRSS)/1e6)
		s.add(i, "Cova requests (covacdc)", "", r.Requests)
		s.add(i, "CustomerFull requests (simulator, less the bench's own fetch)", "", float64(r.Sim.CustomerFullRequests-r.Fetched.Pages))
		s.add(i, "JSON bytes per customer", "B", float64(r.Fetched.Bytes)/float64(r.Fetched.Customers))
		s.add(i, "simulator start (generation)", "s", r.SimReady.Seconds())
		if len(r.Errors) > 0 {
			s.note("run %d: covacdc logged %d ERROR lines, first: %s", i+1, len(r.Errors), r.Errors[0])
		}
		s.note("collections per customer (counts of 0/1/2/3 elements; the simulator draws 0-3, it cannot force 2 each): addresses %v, contact methods %v, extensions %v",
			r.Fetched.Mix["addresses"], r.Fetched.Mix["contact_methods"], r.Fetched.Mix["extensions"])
		s.note("verified: %d events, %d customers, every version as the simulator served it, no duplicates", r.Verify.Events, r.Verify.Customers)
	}
	s.target("customers/s (process start to last commit)", ">=", 15000, "set for kfake on a 2-core machine; this run: "+b.report.Kafka)
	s.target("covacdc CPU / decode-only CPU", "<=", 2, "")
	s.note("Kafka (%s), the simulator and the bench's /metrics scraper share the cores with covacdc", b.report.Kafka)
	return nil
}

func (b *bench) scenarioMemory(ctx context.Context) error {
	c := b.cfg
	s := b.report.section("memory: one unpaged response",
		fmt.Sprintf("%d customers of one company in one response (simulate --ignore-paging), covacdc defaults but --requests-per-minute %d", c.MemoryCustomers, c.LoadRPM))
	for i := range c.LongRuns {
		keep := i == c.LongRuns-1 && wants(c.Scenarios, "restore")
		r, err := b.runLoad(ctx, loadSpec{scenario: "memory", companies: 1, customers: c.MemoryCustomers,
			simArgs: []string{"--ignore-paging"}, runArgs: []string{"--requests-per-minute", strconv.Itoa(c.LoadRPM)},
			keep: keep, every: 500 * time.Millisecond, timeout: 60 * time.Minute})
		if err != nil {
			return err
		}
		b.memoryFigures(s, i, r)
	}
	s.target("covacdc peak RSS", "<=", 200, "")
	return nil
}

func (b *bench) memoryFigures(s *section, i int, r *loadRun) {
	s.add(i, "covacdc peak RSS", "MB", float64(r.Usage.PeakRSS)/1e6)
	s.add(i, "wall time", "s", r.Wall.Seconds())
	s.add(i, "customers/s", "1/s", float64(r.Total)/r.Wall.Seconds())
	s.add(i, "covacdc CPU", "s", r.Usage.CPU.Seconds())
	s.add(i, "Cova requests", "", r.Requests)
	s.add(i, "simulator start (generation)", "s", r.SimReady.Seconds())
	if len(r.Errors) > 0 {
		s.note("run %d: covacdc logged %d ERROR lines, first: %s", i+1, len(r.Errors), r.Errors[0])
	}
	s.note("verified: %d events, %d customers, no duplicates", r.Verify.Events, r.Verify.Customers)
	s.note("index bytes per customer: go test ./state -run '^$' -bench BenchmarkIndexBytesPerCustomer (see BENCHMARKS.md)")
}

func wants(scenarios []string, name string) bool {
	for _, s := range scenarios {
		if s == name {
			return true
		}
	}
	return false
}

func (b *bench) scenarioRateLimit(ctx context.Context) error {
	for _, latency := range b.cfg.RateLatencies {
		for _, companies := range b.cfg.RateCompanies {
			if err := b.rateCell(ctx, "ratelimit", latency, companies, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// scenarioShifting is the ratelimit scenario on a result that moves while it
// is read: rows served by time of modification, and customers modified
// between pages (each moves to the end).
func (b *bench) scenarioShifting(ctx context.Context) error {
	for _, latency := range b.cfg.ShiftLatencies {
		for _, companies := range b.cfg.RateCompanies {
			if err := b.rateCell(ctx, "shifting", latency, companies,
				[]string{"--order", "modified", "--modify-per-page", strconv.Itoa(b.cfg.ShiftModify)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// rateCell is one initial load at the budget: companies of RateCustomers in
// all, Cova answering after latency plus up to RateJitter of it more.
func (b *bench) rateCell(ctx context.Context, scenario string, latency time.Duration, companies int, extraSim []string) error {
	c := b.cfg
	per := c.RateCustomers / companies
	pages := (per + 99) / 100 * companies
	floor := float64(pages) / float64(c.RateRPM) * 60
	jitter := time.Duration(float64(latency) * c.RateJitter)
	simArgs := append([]string{"--latency", latency.String(), "--latency-jitter", jitter.String(),
		"--rate-limit-per-minute", strconv.Itoa(c.RateSimLimit)}, extraSim...)
	shifting := scenario == "shifting"
	s := b.report.section(fmt.Sprintf("%s: %d company(ies) of %d, latency %s", scenario, companies, per, latency),
		fmt.Sprintf("simulate %s; covacdc --requests-per-minute %d; budget floor %d pages / %d per minute = %.1f s, 105%% = %.1f s",
			strings.Join(simArgs, " "), c.RateRPM, pages, c.RateRPM, floor, 1.05*floor))
	for i := range c.LongRuns {
		r, err := b.runLoad(ctx, loadSpec{scenario: scenario, companies: companies, customers: per,
			simArgs: simArgs, runArgs: []string{"--requests-per-minute", strconv.Itoa(c.RateRPM)},
			every: 250 * time.Millisecond, timeout: 90 * time.Minute, waitScans: shifting})
		if err != nil {
			return err
		}
		s.add(i, "wall time (process start to last commit)", "s", r.Wall.Seconds())
		s.add(i, "scan time (state restored to last commit)", "s", r.Scan.Seconds())
		s.add(i, "wall / budget floor", "x", r.Wall.Seconds()/floor)
		sent := float64(r.Sim.CustomerFullRequests + r.Sim.Abandoned)
		s.add(i, "Cova requests (covacdc)", "", r.Requests)
		s.add(i, "requests sent (simulator: answered and abandoned)", "", sent)
		s.add(i, "requests / pages", "x", sent/float64(pages))
		s.add(i, "wall / floor of the requests made", "x", r.Wall.Seconds()/(r.Requests/float64(c.RateRPM)*60))
		s.add(i, "429s received (covacdc_cova_throttled_total)", "", r.Throttled)
		s.add(i, "429s answered (simulator)", "", float64(r.Sim.Status429))
		s.add(i, "peak requests in flight (simulator)", "", float64(r.Sim.MaxInFlight))
		s.add(i, "most requests in a 60 s window (scrapes at 250 ms)", "", r.MaxPerMinute)
		s.add(i, "CustomerFull requests (simulator)", "", float64(r.Sim.CustomerFullRequests))
		s.add(i, "requests abandoned in their latency (simulator)", "", float64(r.Sim.Abandoned))
		if shifting {
			s.add(i, "pages read again (the scans' rereads)", "", r.Rereads)
			s.add(i, "customers handed on (modified ones again)", "", r.HandedOn)
		}
		s.add(i, "covacdc CPU", "s", r.Usage.CPU.Seconds())
		s.add(i, "covacdc peak RSS", "MB", float64(r.Usage.PeakRSS)/1e6)
		if len(r.Errors) > 0 {
			s.note("run %d: covacdc logged %d ERROR lines, first: %s", i+1, len(r.Errors), r.Errors[0])
		}
		s.note("verified: %d events, %d customers, no duplicates", r.Verify.Events, r.Verify.Customers)
		s.note("run %d: covacdc's requests by code: %v", i+1, r.Codes)
	}
	s.target("wall / budget floor", "<=", 1.05, "")
	s.target("429s received (covacdc_cova_throttled_total)", "==", 0, "")
	if !shifting {
		s.target("requests / pages", "<=", 1.02, "on a result that does not change; every request that reached the simulator, those covacdc cancelled in their latency (past the result's end) included")
	}
	return nil
}

// scenarioCompanies loads many small companies at covacdc's default budget
// and measures its peak memory: it must follow the work in flight, not the
// number of companies.
func (b *bench) scenarioCompanies(ctx context.Context) error {
	c := b.cfg
	const budget = 600 // covacdc's default --requests-per-minute
	for _, n := range c.CompanyCounts {
		// A scan ends on a page shorter than a full one, so a company of
		// exactly 100 customers takes 2 requests, not 1: the floor counts the
		// requests a scan cannot do without, not the pages the customers fill.
		needed := (c.CompanyCustomers/100 + 1) * n
		floor := float64(needed) / budget * 60
		s := b.report.section(fmt.Sprintf("companies: %d companies of %d", n, c.CompanyCustomers),
			fmt.Sprintf("initial load, simulate --trickle 0, covacdc defaults (--requests-per-minute %d); budget floor %d requests (%d a company: the last page must come back short) / %d per minute = %.0f s",
				budget, needed, needed/n, budget, floor))
		// /metrics grows with the companies (series per company): scrape
		// seldom, so that rendering it weighs little in the memory measured.
		every := time.Second
		if n >= 500 {
			every = 5 * time.Second
		}
		for i := range c.LongRuns {
			// To the last scan: a company's customers are all published by its
			// first page, but its scan ends only with the page that proves the end.
			r, err := b.runLoad(ctx, loadSpec{scenario: "companies", companies: n, customers: c.CompanyCustomers,
				every: every, timeout: 3 * time.Hour, waitScans: true})
			if err != nil {
				return err
			}
			s.add(i, "covacdc peak RSS", "MB", float64(r.Usage.PeakRSS)/1e6)
			s.add(i, "Go heap in use at the highest scraped RSS", "MB", r.HeapAtPeak/1e6)
			s.add(i, "wall time (process start to the last scan committed)", "s", r.Wall.Seconds())
			s.add(i, "wall / budget floor", "x", r.Wall.Seconds()/floor)
			s.add(i, "Cova requests (covacdc)", "", r.Requests)
			s.add(i, "requests / requests needed", "x", float64(r.Sim.CustomerFullRequests+r.Sim.Abandoned)/float64(needed))
			s.add(i, "429s received (covacdc_cova_throttled_total)", "", r.Throttled)
			s.add(i, "peak requests in flight (simulator)", "", float64(r.Sim.MaxInFlight))
			s.add(i, "covacdc CPU", "s", r.Usage.CPU.Seconds())
			if len(r.Errors) > 0 {
				s.note("run %d: covacdc logged %d ERROR lines, first: %s", i+1, len(r.Errors), r.Errors[0])
			}
			s.note("verified: %d events, %d customers, no duplicates", r.Verify.Events, r.Verify.Customers)
		}
		s.target("covacdc peak RSS", "<=", 100, "")
	}
	return nil
}
