package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/covacdc/covacdc/internal/pipeline"
	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/covacdc/covacdc/publisher"
	"github.com/covacdc/covacdc/schema"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// defaultDemoDir is where the demo keeps its embedded Kafka: under
// $XDG_STATE_HOME when set, else in the working directory.
func defaultDemoDir() string {
	if x := os.Getenv("XDG_STATE_HOME"); x != "" {
		return filepath.Join(x, "covacdc-demo")
	}
	return "covacdc-demo-data"
}

type demoFlags struct {
	Sim          simFlags
	DataDir      string
	PollInterval time.Duration
	MetricsAddr  string
	LogLevel     string
	Trickle      string
}

func demoCommand(f *demoFlags) *command {
	c := newCommand("demo", "Zero setup: an embedded Kafka persisted under --data-dir (a second run resumes), the Cova simulator with generated customers and a trickle of changes, and the pipeline; prints each committed event. Ctrl-C stops it.")
	c.String(&f.DataDir, "data-dir", "", "Directory of the embedded Kafka's data (empty: $XDG_STATE_HOME/covacdc-demo when set, else ./covacdc-demo-data); delete it to start over. A running demo locks it: a second demo on it exits.")
	c.Int(&f.Sim.Customers, "customers", 3000, "Customers generated per company.")
	c.Int(&f.Sim.Companies, "companies", 2, "Companies, with ids 1 to N.")
	c.String(&f.Trickle, "trickle", "2", "Customer changes per second over all companies; 0: none.")
	c.Int64(&f.Sim.Seed, "seed", 1, "Seed of the generated customers.")
	c.Duration(&f.PollInterval, "poll-interval", 2*time.Second, "Time between the starts of two scans of a company.")
	c.String(&f.MetricsAddr, "metrics-addr", "127.0.0.1:"+defaultMetricsPort, "Address for /metrics, /healthz and /readyz, this host only (a free port is taken if busy).")
	c.String(&f.LogLevel, "log-level", "warn", "Log level of the pipeline's logs on stderr: debug, info, warn or error.")
	return c
}

// demoMain is covacdc demo: embedded Kafka, the simulator and the pipeline,
// printing each committed event as a reader with read_committed sees it.
func demoMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var df demoFlags
	if err := parseFlags(demoCommand(&df), args, stdout); err != nil {
		return err
	}
	f, dataDir, pollInterval, metricsAddr, logLevel, trickleText := df.Sim, df.DataDir, df.PollInterval, df.MetricsAddr, df.LogLevel, df.Trickle
	if f.Customers < 0 {
		return usagef("--customers: must not be negative, got %d", f.Customers)
	}
	if f.Companies < 1 || f.Companies > 100 {
		return usagef("--companies: must be between 1 and 100, got %d", f.Companies)
	}
	rate, err := parseRate(trickleText)
	if err != nil {
		return err
	}
	if pollInterval < 100*time.Millisecond {
		return usagef("--poll-interval: must be at least 100ms, got %s", pollInterval)
	}
	if _, err := parseLevel(logLevel); err != nil {
		return err
	}
	if dataDir == "" {
		dataDir = defaultDemoDir()
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return usagef("--data-dir: %v", err)
	}
	// Two embedded Kafkas writing the same files would corrupt each other.
	unlock, err := lockDir(dataDir)
	if errors.Is(err, errDirLocked) {
		return fmt.Errorf("another covacdc demo is using the data directory %s; stop it or pass another --data-dir", dataDir)
	}
	if err != nil {
		return fmt.Errorf("locking the data directory %s: %w", dataDir, err)
	}
	defer unlock()
	resumed := false
	if entries, err := os.ReadDir(dataDir); err == nil {
		resumed = slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() != demoLockFile })
	}
	if metricsAddr != "" {
		if ln, err := net.Listen("tcp", metricsAddr); err != nil {
			metricsAddr = "127.0.0.1:0"
		} else {
			ln.Close()
		}
	}

	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dataDir), kfake.DefaultNumPartitions(3))
	if err != nil {
		return fmt.Errorf("embedded kafka in %s: %w", dataDir, err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	sim := covatest.NewServer(covatest.Config{Seed: f.Seed})
	defer sim.Close()
	ids := companyRange(f.Companies)
	for _, id := range ids {
		sim.Generate(id, f.Customers)
	}

	out := &lineWriter{w: bufio.NewWriter(stdout)}
	how := "first run: the initial load publishes every customer as SNAPSHOT, then changes follow"
	if resumed {
		how = "resuming from the state kept in Kafka: no new snapshot, only changes since the last run (the simulator starts afresh, so changes to versions already published count as stale)"
	}
	out.printf("covacdc demo: %s\n", how)
	out.printf("  kafka      embedded at %s, data in %s\n", strings.Join(brokers, ","), dataDir)
	out.printf("  cova       simulator at %s: %s x %d customers, %.3g changes/s\n", sim.URL, companiesText(ids), f.Customers, rate)

	pc, bc := demoConfig(sim, brokers)
	cfg := runConfig{
		CompanyIDs:   ids,
		Poller:       pc,
		Publisher:    bc,
		PollInterval: pollInterval,
		MetricsAddr:  metricsAddr,
		SignalTopic:  pipeline.DefaultSignalTopic,
		LogFormat:    "text",
		LogLevel:     logLevel,
	}
	log := newLogger(stderr, "text", logLevel)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	wg.Add(1)
	go func() {
		defer wg.Done()
		trickle(ctx, sim.Simulator, ids, rate)
	}()

	dec, err := schema.NewDecoder(nil)
	if err != nil {
		return err
	}
	hooks := &pipelineHooks{
		metricsAddr: func(addr string) {
			out.printf("  metrics    http://%s/metrics  (health: /healthz, /readyz)\n", addr)
		},
		started: func(_ *publisher.Publisher) {
			out.printf("  try        go run ./cmd/covacdc tail --kafka-brokers %s --follow   (while the demo runs)\n", strings.Join(brokers, ","))
			out.printf("Committed events (read back with read_committed); Ctrl-C stops.\n")
			out.flush()
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := readCommitted(ctx, cfg.Publisher.KafkaOpts, defaultTopic, readPos{end: true}, true, func(r *kgo.Record) error {
					out.printf("%s\n", eventLine(ctx, dec, r))
					return nil
				})
				if err != nil {
					log.Error("reading the events back", "err", err)
				}
			}()
		},
	}
	err = runPipeline(ctx, cfg, log, newRegistry(), hooks)
	cancel()
	wg.Wait()
	out.printf("covacdc demo stopped; run it again to resume, or delete %s to start over.\n", dataDir)
	out.flush()
	return err
}

// eventLine renders one event as a readable line:
//
//	12:00:01 SNAPSHOT company=1 customer=3f2a… v3 Jane Doe
func eventLine(ctx context.Context, dec *schema.Decoder, r *kgo.Record) string {
	var ev schema.CustomerChanged
	if err := dec.Decode(ctx, r.Value, &ev); err != nil {
		return fmt.Sprintf("%s undecodable event at partition %d offset %d: %v", r.Timestamp.Format("15:04:05"), r.Partition, r.Offset, err)
	}
	c := ev.Customer
	var name []string
	for _, p := range []*string{c.PrimaryName, c.FamilyName} {
		if p != nil && *p != "" {
			name = append(name, *p)
		}
	}
	line := fmt.Sprintf("%s %-8s company=%d customer=%s v%d %s", r.Timestamp.Format("15:04:05"), ev.ChangeType, ev.CompanyID, ev.CustomerID, ev.Version, strings.Join(name, " "))
	if c.Disabled != nil && *c.Disabled {
		line += " [disabled]"
	}
	if m := c.MergedIntoCustomerId; m != nil && *m != "" {
		line += " [merged into " + *m + "]"
	}
	if p := ev.PreviousVersion; p != nil && ev.ChangeType == schema.Snapshot {
		line += fmt.Sprintf(" [resync; v%d published before]", *p)
	}
	return line
}

// lineWriter serialises lines from the printer and the pipeline hooks.
type lineWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
	l.w.Flush()
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Flush()
}

// demoConfig is covacdc run's defaults, the packages' own, pointed at the
// simulator and the embedded Kafka, with the two settings a demo needs
// otherwise.
func demoConfig(sim *covatest.Server, brokers []string) (poller.Config, publisher.Config) {
	pc := poller.DefaultConfig()
	pc.BaseURL, pc.TokenURL = sim.BaseURL(), sim.TokenURL()
	pc.ClientID, pc.ClientSecret = covatest.DefaultClientID, covatest.DefaultClientSecret
	pc.Username, pc.Password = covatest.DefaultUsername, covatest.DefaultPassword
	// The simulator is local and allows far more than Cova: the initial load
	// takes seconds, not minutes.
	pc.RequestsPerMinute = 6000
	bc := publisher.DefaultConfig()
	bc.KafkaOpts = []kgo.Opt{kgo.SeedBrokers(brokers...)}
	// An id of its own: a demo never fences a covacdc run sharing its Kafka.
	bc.TransactionalID = "covacdc-demo"
	return pc, bc
}
