package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/covacdc/covacdc/internal/companymetrics"
	"github.com/covacdc/covacdc/internal/pipeline"
	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/publisher"
	"github.com/covacdc/covacdc/schema"
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

// runPipeline sets up the pipeline's parts (the Cova client, the metrics
// server, the publisher and its restored state) and runs it: until ctx is
// cancelled (then it returns nil after a clean shutdown), a fatal error
// occurs, or, with --once, every company has been scanned once. It owns every
// goroutine it starts.
func runPipeline(ctx context.Context, cfg runConfig, log *slog.Logger, reg *companymetrics.Registry, hooks *pipelineHooks) error {
	if hooks == nil {
		hooks = &pipelineHooks{}
	}
	up := registerUp(reg)
	up.Set(1)
	defer up.Set(0)
	h := pipeline.NewHealth(cfg.PollInterval, cfg.CompanyIDs, reg)

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
		if srv, err = startMetricsServer(cfg.MetricsAddr, reg, registered, h, log); err != nil {
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
		if fe := pipeline.Fatal(err, pcfg.TransactionalID); fe != nil {
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
	h.SetRestored(pinger.Ping, pub.Companies)
	if hooks.started != nil {
		hooks.started(pub)
	}

	var signals *pipeline.SignalConfig
	if cfg.SignalTopic != "" {
		signals = &pipeline.SignalConfig{Topic: cfg.SignalTopic, KafkaOpts: kopts, Required: cfg.requireSignals, AnyCompany: cfg.requireSignals}
	}
	return pipeline.New(pipeline.Config{
		CompanyIDs:      cfg.CompanyIDs,
		PollInterval:    cfg.PollInterval,
		Once:            cfg.Once,
		EndpointBase:    endpointBase(cfg.Poller.BaseURL),
		TransactionalID: pcfg.TransactionalID,
		Signals:         signals,
	}, client, pub, h, log).Run(ctx)
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
