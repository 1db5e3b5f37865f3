package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// config is what the flags choose: which scenarios, how big, how often.
type config struct {
	Scenarios []string
	Runs      int
	LongRuns  int // runs of the scenarios that take minutes (memory, ratelimit)
	Quick     bool
	Covacdc   string   // prebuilt covacdc binary; empty: go build ./cmd/covacdc
	Simulator string   // binary for `covacdc simulate`; empty: the covacdc binary
	RunArgs   []string // extra `covacdc run` flags for every run
	JSONOut   string
	Seed      int64

	LoadCustomers   int // scenario load
	LoadRPM         int
	MemoryCustomers int // scenario memory (and restore's state)

	SteadyCompanies int
	SteadyCustomers int
	PollInterval    time.Duration
	SteadyPolls     int

	RateCustomers int
	RateCompanies []int
	RateLatencies []time.Duration
	RateJitter    float64 // of the latency
	RateSimLimit  int
	RateRPM       int

	ShiftModify    int             // scenario shifting: simulate --modify-per-page
	ShiftLatencies []time.Duration // scenario shifting: its latencies

	CompanyCounts    []int // scenario companies
	CompanyCustomers int

	FreshCustomers int
	FreshTrickle   float64
	FreshFor       time.Duration
	FreshLatency   time.Duration
}

var allScenarios = []string{"load", "memory", "restore", "steady", "ratelimit", "shifting", "companies", "freshness"}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("covacdc-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scen := fs.String("scenarios", strings.Join(allScenarios, ","), "Comma-separated scenarios: "+strings.Join(allScenarios, ", ")+".")
	fs.IntVar(&c.Runs, "runs", 3, "Runs of each short scenario (load, restore, steady, freshness); figures are medians.")
	fs.IntVar(&c.LongRuns, "long-runs", 1, "Runs of the long scenarios (memory, ratelimit).")
	fs.BoolVar(&c.Quick, "quick", false, "Tiny sizes and short waits: checks that every scenario works, in seconds. Its figures mean nothing.")
	fs.StringVar(&c.Covacdc, "covacdc", "", "Path of a covacdc binary to use instead of building ./cmd/covacdc.")
	fs.StringVar(&c.Simulator, "simulator", "", "Path of the covacdc binary whose `covacdc simulate` serves Cova (default: the covacdc binary), to run an older covacdc against today's simulator.")
	runArgs := fs.String("run-args", "", "Extra `covacdc run` flags, space-separated, added to every run (e.g. \"--fetch-ahead 8\").")
	fs.StringVar(&c.JSONOut, "json", "", "Also write every run's figures as JSON to this file.")
	fs.Int64Var(&c.Seed, "seed", 1, "Seed of the simulated data.")
	fs.IntVar(&c.LoadCustomers, "customers", 200_000, "load: customers of the initial load.")
	fs.IntVar(&c.LoadRPM, "load-requests-per-minute", 100_000, "load: covacdc --requests-per-minute (high: the budget must not be what is measured).")
	fs.IntVar(&c.MemoryCustomers, "memory-customers", 1_000_000, "memory, restore: customers in the one unpaged response and in the state topic.")
	fs.IntVar(&c.SteadyCompanies, "steady-companies", 20, "steady: companies polled.")
	fs.IntVar(&c.SteadyCustomers, "steady-customers", 100, "steady: customers per company.")
	fs.DurationVar(&c.PollInterval, "poll-interval", 5*time.Second, "steady, freshness: covacdc --poll-interval.")
	fs.IntVar(&c.SteadyPolls, "steady-polls", 12, "steady: idle poll intervals measured after the initial load.")
	fs.IntVar(&c.RateCustomers, "rate-customers", 200_000, "ratelimit, shifting: customers in all, split evenly over the companies.")
	rateCompanies := fs.String("rate-companies", "1,4", "ratelimit, shifting: company counts to run, comma-separated.")
	rateLatencies := fs.String("rate-latency", "100ms,250ms,1s,2s", "ratelimit: simulator --latency of each cell, comma-separated.")
	fs.Float64Var(&c.RateJitter, "rate-jitter", 0.5, "ratelimit, shifting, freshness: simulator --latency-jitter, as a fraction of the latency.")
	fs.IntVar(&c.RateSimLimit, "rate-sim-limit", 1000, "ratelimit, shifting, freshness: simulator --rate-limit-per-minute.")
	fs.IntVar(&c.RateRPM, "rate-requests-per-minute", 900, "ratelimit, shifting, freshness: covacdc --requests-per-minute.")
	fs.IntVar(&c.ShiftModify, "shift-modify", 1, "shifting: simulator --modify-per-page, with --order modified.")
	shiftLatencies := fs.String("shift-latency", "250ms,2s", "shifting: simulator --latency of each cell, comma-separated.")
	companyCounts := fs.String("companies", "50,500,5000", "companies: company counts of the initial loads, comma-separated.")
	fs.IntVar(&c.CompanyCustomers, "company-customers", 100, "companies: customers of each company.")
	fs.IntVar(&c.FreshCustomers, "fresh-customers", 10_000, "freshness: customers of the one company.")
	fs.Float64Var(&c.FreshTrickle, "fresh-trickle", 2, "freshness: simulator --trickle (changes per second).")
	fs.DurationVar(&c.FreshFor, "fresh-for", 60*time.Second, "freshness: how long changes are measured after the initial load.")
	fs.DurationVar(&c.FreshLatency, "fresh-latency", 250*time.Millisecond, "freshness: simulator --latency.")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.Quick {
		quick := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		quick("runs", func() { c.Runs = 1 })
		quick("customers", func() { c.LoadCustomers = 2000 })
		quick("memory-customers", func() { c.MemoryCustomers = 5000 })
		quick("steady-companies", func() { c.SteadyCompanies = 3 })
		quick("steady-customers", func() { c.SteadyCustomers = 50 })
		quick("poll-interval", func() { c.PollInterval = time.Second })
		quick("steady-polls", func() { c.SteadyPolls = 2 })
		quick("rate-customers", func() { c.RateCustomers = 1200 })
		quick("rate-latency", func() { *rateLatencies = "20ms" })
		quick("shift-latency", func() { *shiftLatencies = "20ms" })
		quick("companies", func() { *companyCounts = "5" })
		quick("company-customers", func() { c.CompanyCustomers = 20 })
		quick("fresh-latency", func() { c.FreshLatency = 20 * time.Millisecond })
		quick("fresh-customers", func() { c.FreshCustomers = 200 })
		quick("fresh-trickle", func() { c.FreshTrickle = 5 })
		quick("fresh-for", func() { c.FreshFor = 3 * time.Second })
	}
	for _, s := range strings.Split(*scen, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if s == "all" {
			c.Scenarios = append(c.Scenarios, allScenarios...)
			continue
		}
		if !slices.Contains(allScenarios, s) {
			return c, fmt.Errorf("-scenarios: unknown %q (want %s)", s, strings.Join(allScenarios, ", "))
		}
		c.Scenarios = append(c.Scenarios, s)
	}
	var err error
	if c.RateCompanies, err = positiveInts("rate-companies", *rateCompanies); err != nil {
		return c, err
	}
	if c.CompanyCounts, err = positiveInts("companies", *companyCounts); err != nil {
		return c, err
	}
	if c.RateLatencies, err = durations("rate-latency", *rateLatencies); err != nil {
		return c, err
	}
	if c.ShiftLatencies, err = durations("shift-latency", *shiftLatencies); err != nil {
		return c, err
	}
	c.RunArgs = strings.Fields(*runArgs)
	switch {
	case c.Runs < 1 || c.LongRuns < 1:
		return c, errors.New("-runs and -long-runs: must be at least 1")
	case c.LoadCustomers < 1 || c.MemoryCustomers < 1 || c.SteadyCustomers < 1 || c.RateCustomers < 1 || c.FreshCustomers < 1 || c.CompanyCustomers < 1:
		return c, errors.New("customer counts must be at least 1")
	case c.SteadyCompanies < 1 || c.SteadyPolls < 1 || c.PollInterval <= 0:
		return c, errors.New("-steady-companies, -steady-polls and -poll-interval must be positive")
	}
	return c, nil
}

// positiveInts reads a comma-separated list of positive integers.
func positiveInts(flagName, v string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(v, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil || n < 1 {
			return nil, fmt.Errorf("-%s: want positive integers, got %q", flagName, v)
		}
		out = append(out, n)
	}
	return out, nil
}

// durations reads a comma-separated list of positive durations.
func durations(flagName, v string) ([]time.Duration, error) {
	var out []time.Duration
	for _, s := range strings.Split(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("-%s: want positive durations, got %q", flagName, v)
		}
		out = append(out, d)
	}
	return out, nil
}

// run parses the flags, runs the chosen scenarios and prints the report to stdout;
// progress goes to stderr. It blocks until done or ctx is cancelled.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	b := &bench{cfg: cfg, progress: stderr, report: &report{}}
	if b.bin = cfg.Covacdc; b.bin == "" {
		dir, err := os.MkdirTemp("", "covacdc-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		b.tmp = dir
		b.bin = filepath.Join(dir, "covacdc")
		b.logf("building covacdc into %s", dir)
		build := exec.CommandContext(ctx, "go", "build", "-o", b.bin, "github.com/covacdc/covacdc/cmd/covacdc")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build covacdc: %w\n%s", err, out)
		}
	} else {
		dir, err := os.MkdirTemp("", "covacdc-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		b.tmp = dir
	}
	if b.simBin = cfg.Simulator; b.simBin == "" {
		b.simBin = b.bin
	}
	b.report.Machine = machine()
	b.report.Kafka = "kfake (in the bench process)"
	if brokers := os.Getenv("KAFKA_BROKERS"); brokers != "" {
		b.report.Kafka = "KAFKA_BROKERS=" + brokers
	}
	b.report.Args = strings.Join(args, " ")

	for _, s := range cfg.Scenarios {
		if err := ctx.Err(); err != nil {
			return err
		}
		b.logf("scenario %s", s)
		var err error
		switch s {
		case "load":
			err = b.scenarioLoad(ctx)
		case "memory":
			err = b.scenarioMemory(ctx)
		case "restore":
			err = b.scenarioRestore(ctx)
		case "steady":
			err = b.scenarioSteady(ctx)
		case "ratelimit":
			err = b.scenarioRateLimit(ctx)
		case "shifting":
			err = b.scenarioShifting(ctx)
		case "companies":
			err = b.scenarioCompanies(ctx)
		case "freshness":
			err = b.scenarioFreshness(ctx)
		}
		if err != nil {
			b.closeKept()
			return fmt.Errorf("scenario %s: %w", s, err)
		}
	}
	b.closeKept()
	b.report.print(stdout)
	if cfg.JSONOut != "" {
		js, err := json.MarshalIndent(b.report, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.JSONOut, js, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// bench is one invocation: the binary, the report, and the state the restore
// scenario takes over from the memory scenario.
type bench struct {
	cfg      config
	bin      string
	simBin   string // for covacdc simulate
	tmp      string
	progress io.Writer
	report   *report

	kept *keptState // memory's Kafka and simulator, for restore
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, "%s covacdc-bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (b *bench) closeKept() {
	if b.kept != nil {
		b.kept.close()
		b.kept = nil
	}
}

// machine describes where the figures were taken.
func machine() map[string]string {
	m := map[string]string{
		"go":    runtime.Version(),
		"cpus":  fmt.Sprint(runtime.NumCPU()),
		"os":    runtime.GOOS + "/" + runtime.GOARCH,
		"model": "unknown",
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["model"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				m["memory"] = strings.TrimSpace(strings.TrimPrefix(line, "MemTotal:"))
			}
		}
	}
	return m
}
