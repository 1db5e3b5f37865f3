// Package pipeline is covacdc's change capture loop: it scans each company
// on the schedule the poll interval and the request budget allow, hands
// every page to the publisher, commits each scan with its cursor, and says
// how it goes through Health. It owns every goroutine it starts: Run returns
// only once they have all returned.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/publisher"
	"github.com/covacdc/covacdc/schema"
)

// Config is what the pipeline needs to know beyond its parts.
type Config struct {
	CompanyIDs   []int64
	PollInterval time.Duration
	// Once: scan every company once, then return; a failed scan then fails
	// Run (otherwise the next scan repeats it).
	Once bool
	// EndpointBase is the path of the Cova base URL ("/crm" by default),
	// which prefixes the CustomerFull path in each event's source.
	EndpointBase string
	// TransactionalID is named in the error a fenced pipeline stops with,
	// and keys the resync requests for this deployment.
	TransactionalID string
	// Signals is where resync requests are read; nil: none are.
	Signals *SignalConfig
}

// Pipeline polls every company with one shared client and publisher.
type Pipeline struct {
	cfg    Config
	log    *slog.Logger
	client *poller.Client
	pub    *publisher.Publisher
	health *Health
}

// New returns a pipeline of the client and the publisher, whose state is
// restored, reporting through health.
func New(cfg Config, client *poller.Client, pub *publisher.Publisher, health *Health, log *slog.Logger) *Pipeline {
	return &Pipeline{cfg: cfg, log: log, client: client, pub: pub, health: health}
}

// FatalError is a scan's error that retrying will not fix: Run stops every
// company and returns it. Its message says what to change, in the words of
// the flags.
type FatalError struct {
	msg string
	err error
}

func (e *FatalError) Error() string { return e.msg }
func (e *FatalError) Unwrap() error { return e.err }

// Fatal returns err as a *FatalError when it must stop every company (Cova
// refused the credentials; another instance fenced this one, named by its
// transactionalID), and nil otherwise.
func Fatal(err error, transactionalID string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, poller.ErrCredentials):
		// The poller's error says what Cova answered and which flags to check.
		return &FatalError{err: err, msg: err.Error()}
	case errors.Is(err, publisher.ErrFenced):
		return &FatalError{err: err, msg: fmt.Sprintf("fenced: another covacdc instance started with --transactional-id %q and took over; this one stops (run one instance per transactional id)", transactionalID)}
	}
	return nil
}

// Run scans every company, as the scheduler says, until ctx is done (then it
// returns nil once the scans under way have returned), a scan fails fatally
// (it returns a *FatalError), or, with Once, every company has been scanned
// (it returns an error naming each company whose scan failed).
func (p *Pipeline) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel(nil) // before the wait: stops watchReady
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.health.watchReady(ctx, min(p.cfg.PollInterval, 5*time.Second))
	}()

	var wake chan int64
	if p.cfg.Signals != nil {
		w, err := p.startSignals(ctx)
		if err != nil {
			return err
		}
		if w != nil {
			wake = make(chan int64)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer w.close()
				if err := w.watch(ctx, wake); err != nil {
					cancel(Fatal(err, p.cfg.TransactionalID))
				}
			}()
		}
	}

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
			if fe := Fatal(err, p.cfg.TransactionalID); fe != nil {
				return changed, fe
			}
			if p.cfg.Once {
				mu.Lock()
				failed = append(failed, fmt.Sprintf("company %d: %v", id, err))
				mu.Unlock()
			}
			return changed, nil
		},
		effective: p.health.setInterval,
		wake:      wake,
		log:       p.log,
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

// startSignals opens the signal topic; with Once, it also accepts the
// requests already in it, so that the one scan of each company sees them (a
// pipeline that keeps running accepts them as they are read, and scans their
// companies then: its first scans do not wait for the signal group, which a
// killed predecessor may hold for a session timeout). When the topic cannot
// be read it says why and returns nil: the pipeline then captures changes
// without resyncs, unless they are Required.
func (p *Pipeline) startSignals(ctx context.Context) (*signalWatcher, error) {
	w, err := p.openSignals(ctx)
	if err == nil && p.cfg.Once {
		if err = w.catchUp(ctx); err != nil {
			w.close()
		}
	}
	switch {
	case err == nil:
		return w, nil
	case ctx.Err() != nil:
		return nil, nil
	case p.cfg.Signals.Required:
		return nil, err
	}
	p.warnNoSignals(err)
	return nil, nil
}

// warnNoSignals says that resync requests are not read, why, and what to
// grant.
func (p *Pipeline) warnNoSignals(err error) {
	p.log.Warn("resync requests are not read; changes are captured as usual", "err", err,
		"fix", fmt.Sprintf("let this covacdc read and create topic %q and join group %q", p.cfg.Signals.Topic, SignalGroup(p.cfg.TransactionalID)))
}

// scan runs one scan of a company and commits it with its new cursor. On any
// error the scan is abandoned: the cursor stays, and the next scan repeats it.
// changed says whether the scan found customers modified since the previous
// scan began (not only the lookback's re-reads).
func (p *Pipeline) scan(ctx context.Context, id int64) (changed bool, _ error) {
	start := time.Now()
	cur := p.pub.Cursor(id)
	p.health.scanStarted(id, !cur.InitialLoadComplete)
	log := p.log.With("company_id", id)

	src := schema.Source{System: "cova", Endpoint: fmt.Sprintf("%s/v1/Companies(%d)/CustomerFull", p.cfg.EndpointBase, id)}
	var sc *publisher.Scan
	// The scan is opened on its first batch so that the events carry the
	// poller's scan id, which is also in the poller's logs.
	open := func(scanID string) {
		if sc == nil {
			src.ScanID = scanID
			sc = p.pub.BeginScan(id, scanID, src, publisher.ReadFrom(cur))
		}
	}
	// A resync reads the company from the start (the cursor's Since says
	// so while one is active), as the initial load does.
	var resync []any
	if cur.Resync != nil {
		resync = []any{"resync", cur.Resync.ID}
	}
	var opts []poller.ScanOption
	if !cur.InitialLoadComplete || cur.Resync != nil {
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
		p.health.scanEnded(id, nil, true, elapsed)
		log.Info("scan interrupted", append(scanAttr(src.ScanID), "duration", elapsed.Round(time.Millisecond).String())...)
		return false, ctx.Err()
	}
	p.health.scanEnded(id, err, false, elapsed)
	if err != nil {
		log.Error("scan failed; the cursor stays and the next scan repeats it",
			append(append(scanAttr(src.ScanID), "since", cur.Since, "duration", elapsed.Round(time.Millisecond).String(), "err", err), resync...)...)
		return false, err
	}
	log.Info("scan committed", append([]any{
		"scan", res.ScanID, "since", res.Since, "next", res.Next, "customers", res.Customers,
		"invalid", res.Invalid, "requests", res.Requests, "rereads", res.Rereads,
		"initial_load", !cur.InitialLoadComplete, "duration", elapsed.Round(time.Millisecond).String()}, resync...)...)
	if cur.Resync != nil {
		if now := p.pub.Cursor(id); now.LastResync != nil && now.LastResync.Seq == cur.Resync.Seq {
			log.Info("resync completed", "resync", cur.Resync.ID, "seq", cur.Resync.Seq,
				"requested_at", cur.Resync.RequestedAt, "duration", time.Since(cur.Resync.AcceptedAt).Round(time.Millisecond).String())
		}
	}
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
