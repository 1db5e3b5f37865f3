package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/publisher"
	"github.com/covacdc/covacdc/schema"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
)

// shutdownTimeout bounds ending the open transaction and flushing after a
// signal, so that covacdc exits well within the 10 s a supervisor waits.
const shutdownTimeout = 7 * time.Second

// runMain is covacdc run.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f runFlags
	c := runCommand(&f)
	if err := parseFlags(c, args, stdout); err != nil {
		return err
	}
	cfg, err := f.validate()
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	return runPipeline(ctx, cfg, log, newRegistry(), nil)
}

// pipelineHooks lets the demo watch the pipeline; nil fields are ignored.
type pipelineHooks struct {
	// metricsAddr is called with the address the metrics server listens on.
	metricsAddr func(addr string)
	// started is called once the state is restored and polling begins.
	started func(pub *publisher.Publisher)
}

// runPipeline polls every company and publishes until ctx is cancelled (then it
// returns nil after a clean shutdown), a fatal error occurs, or, with --once,
// every company has been scanned once. It owns every goroutine it starts.
func runPipeline(ctx context.Context, cfg runConfig, log *slog.Logger, reg *prometheus.Registry, hooks *pipelineHooks) error {
	if hooks == nil {
		hooks = &pipelineHooks{}
	}
	m := newCmdMetrics(reg, cfg.CompanyIDs)
	m.up.Set(1)
	defer m.up.Set(0)
	h := newHealth(cfg.PollInterval, cfg.CompanyIDs)

	client, err := poller.New(cfg.Poller, poller.WithLogger(log), poller.WithRegisterer(reg), poller.WithCompanies(cfg.CompanyIDs...))
	if err != nil {
		return usagef("%v", err)
	}

	kopts := cfg.Publisher.KafkaOpts
	pcfg := cfg.Publisher
	pcfg.KafkaOpts = append(append([]kgo.Opt{}, kopts...),
		kgo.WithHooks(newKafkaMetrics(reg)))

	// Scrapes wait for the publisher's families, registered early in
	// publisher.New (or for New to give up).
	registered := make(chan struct{})
	var registeredOnce sync.Once
	markRegistered := func() { registeredOnce.Do(func() { close(registered) }) }
	popts := []publisher.Option{publisher.WithLogger(log), publisher.WithRegisterer(reg), publisher.WithCompanies(cfg.CompanyIDs...),
		publisher.WithMetricsRegistered(markRegistered)}
	if cfg.RegistryURL != "" {
		enc, err := registryEncoder(ctx, cfg.RegistryURL, pcfg.Topic+"-value")
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("schema registry %s: %w", redactURL(cfg.RegistryURL), err)
		}
		popts = append(popts, publisher.WithEncoder(enc))
	}

	// The server starts right before the publisher, which registers its
	// families (every company's series among them) before it asks Kafka
	// anything: the first scrape, held until then, sees every family, and
	// /healthz answers during a long restore.
	var srv *metricsServer
	if cfg.MetricsAddr != "" {
		var err error
		if srv, err = startMetricsServer(cfg.MetricsAddr, reg, registered, h, m, log); err != nil {
			return usagef("%v", err)
		}
		log.Info("serving metrics", "addr", srv.addr, "paths", "/metrics /healthz /readyz /status")
		if hooks.metricsAddr != nil {
			hooks.metricsAddr(srv.addr)
		}
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.shutdown(sctx)
	}()

	log.Info("starting covacdc", append([]any{"version", buildVersion()}, cfg.describe()...)...)
	pub, err := publisher.New(ctx, pcfg, popts...)
	markRegistered()
	if err != nil {
		if ctx.Err() != nil {
			log.Info("stopped before the state was restored")
			return nil
		}
		if fe := asFatal(err, pcfg.TransactionalID); fe != nil {
			return fe
		}
		if errors.Is(err, publisher.ErrMixedEncodings) {
			return usagef("%v", err) // the flags disagree with the topic
		}
		return err // it names the topic or the transactional id it was about
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := pub.Close(cctx); err != nil {
			log.Warn("closing the publisher", "err", err)
		}
	}()

	// A separate, hook-free client answers /readyz's "is Kafka reachable" so a
	// probe never queues behind a transaction.
	pinger, err := kgo.NewClient(kopts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer pinger.Close()
	last := map[int64]time.Time{}
	for _, cs := range pub.Companies() {
		if cs.HasCursor && !cs.Cursor.ScanFinished.IsZero() {
			last[cs.CompanyID] = cs.Cursor.ScanFinished
		}
	}
	h.setRestored(pinger.Ping, pub.Companies, last)
	if hooks.started != nil {
		hooks.started(pub)
	}

	p := &pipeline{cfg: cfg, log: log, client: client, pub: pub, m: m, health: h, endpointBase: endpointBase(cfg.Poller.BaseURL)}
	return p.run(ctx)
}

// pipeline polls every company with one shared client and publisher.
type pipeline struct {
	cfg          runConfig
	log          *slog.Logger
	client       *poller.Client
	pub          *publisher.Publisher
	m            *cmdMetrics
	health       *health
	endpointBase string
}

// run scans every company, as the scheduler says, and waits for the scans
// under way to return. A fatal error in any company stops the others.
func (p *pipeline) run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	go p.watchReady(ctx)

	var (
		mu     sync.Mutex
		failed []string
	)
	sched := &scheduler{
		interval: p.cfg.PollInterval,
		once:     p.cfg.Once,
		ids:      p.cfg.CompanyIDs,
		// Twice the requests the poller keeps under way, and two more: scans
		// that are committing or between pages still leave it enough to do.
		maxScans: func() int { return 2*p.client.Concurrency() + 2 },
		budget:   p.client.RequestsPerMinute,
		scan: func(ctx context.Context, id int64) (bool, error) {
			changed, err := p.scan(ctx, id)
			if err == nil || ctx.Err() != nil {
				return changed, nil
			}
			if fe := asFatal(err, p.cfg.Publisher.TransactionalID); fe != nil {
				return changed, fe
			}
			if p.cfg.Once {
				mu.Lock()
				failed = append(failed, fmt.Sprintf("company %d: %v", id, err))
				mu.Unlock()
			}
			return changed, nil
		},
		effective: func(d time.Duration) {
			p.m.effectiveInterval.Set(d.Seconds())
			p.health.setInterval(d)
		},
		log: p.log,
	}
	if err := sched.run(ctx); err != nil {
		cancel(err)
	}

	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		p.log.Error("stopping", "err", cause)
		return cause
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		return fmt.Errorf("%d of %d companies failed their scan: %s", len(failed), len(p.cfg.CompanyIDs), strings.Join(failed, "; "))
	}
	if ctx.Err() != nil {
		p.log.Info("stopped on signal; open transaction aborted, committed work kept")
	}
	return nil
}

// scan runs one scan of a company and commits it with its new cursor. On any
// error the scan is abandoned: the cursor stays, and the next scan repeats it.
// changed says whether the scan found customers modified since the previous
// scan began (not only the lookback's re-reads).
func (p *pipeline) scan(ctx context.Context, id int64) (changed bool, _ error) {
	start := time.Now()
	cur := p.pub.Cursor(id)
	p.health.scanStarted(id, !cur.InitialLoadComplete)
	log := p.log.With("company_id", id)

	src := schema.Source{System: "cova", Endpoint: fmt.Sprintf("%s/v1/Companies(%d)/CustomerFull", p.endpointBase, id)}
	var sc *publisher.Scan
	// The scan is opened on its first batch so that the events carry the
	// poller's scan id, which is also in the poller's logs.
	open := func(scanID string) {
		if sc == nil {
			src.ScanID = scanID
			sc = p.pub.BeginScan(id, scanID, src)
		}
	}
	var opts []poller.ScanOption
	if !cur.InitialLoadComplete {
		opts = append(opts, poller.ExpectManyPages())
	}
	res, err := p.client.Scan(ctx, id, cur.Since, func(ctx context.Context, b poller.Batch) error {
		open(b.ScanID)
		for i := range b.Customers {
			if !changed && b.Customers[i].LastModifiedDateUtc.Time.After(cur.ScanStarted) {
				changed = true
			}
		}
		if err := sc.Publish(ctx, b); err != nil {
			return err
		}
		p.health.scanPage(id, b.ScanID, len(b.Customers))
		return nil
	}, opts...)
	if err == nil {
		open(res.ScanID)
		err = sc.Complete(ctx, res.Next, res.ServerStart)
		if err != nil {
			err = fmt.Errorf("commit: %w", err)
		}
	}
	if err != nil && sc != nil {
		sc.Abandon()
	}
	elapsed := time.Since(start)
	if err != nil && ctx.Err() != nil {
		// Stopped by a signal or by another company's fatal error: not a failed scan.
		p.health.scanEnded(id, nil, true)
		log.Info("scan interrupted", append(scanAttr(src.ScanID), "duration", elapsed.Round(time.Millisecond).String())...)
		return false, ctx.Err()
	}
	p.health.scanEnded(id, err, false)
	if err != nil {
		p.m.scanDuration.WithLabelValues(companyLabel(id), "error").Observe(elapsed.Seconds())
		log.Error("scan failed; the cursor stays and the next scan repeats it",
			append(scanAttr(src.ScanID), "since", cur.Since, "duration", elapsed.Round(time.Millisecond).String(), "err", err)...)
		return false, err
	}
	p.m.scanDuration.WithLabelValues(companyLabel(id), "ok").Observe(elapsed.Seconds())
	log.Info("scan committed",
		"scan", res.ScanID, "since", res.Since, "next", res.Next, "customers", res.Customers,
		"invalid", res.Invalid, "requests", res.Requests, "rereads", res.Rereads,
		"initial_load", !cur.InitialLoadComplete, "duration", elapsed.Round(time.Millisecond).String())
	return changed, nil
}

// scanAttr is the scan field of a log line, left out while the scan has no id
// (it failed before Cova answered its first page).
func scanAttr(id string) []any {
	if id == "" {
		return nil
	}
	return []any{"scan", id}
}

// watchReady keeps covacdc_ready current between /readyz probes.
func (p *pipeline) watchReady(ctx context.Context) {
	every := min(p.cfg.PollInterval, 5*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ok, _ := p.health.check(ctx)
		setReady(p.m, ok)
		select {
		case <-ctx.Done():
			setReady(p.m, false)
			return
		case <-t.C:
		}
	}
}

// endpointBase is the path of the Cova base URL ("/crm" for the default), which
// prefixes the CustomerFull path recorded in each event's source.
func endpointBase(baseURL string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		return ""
	}
	return strings.TrimRight(u.Path, "/")
}

// registryEncoder registers the writer schema with a Schema Registry.
func registryEncoder(ctx context.Context, rawURL, subject string) (*schema.Encoder, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	opts := []sr.ClientOpt{}
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, sr.BasicAuth(u.User.Username(), pass))
		u.User = nil
	}
	opts = append(opts, sr.URLs(u.String()))
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return schema.NewRegistryEncoder(rctx, cl, subject)
}
