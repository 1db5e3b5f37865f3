package publisher

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/schema"
	"github.com/prometheus/client_golang/prometheus"
)

// TestReadsWhileScansPublish reads the committed state (Cursor, Companies, a
// metrics scrape) from other goroutines while scans of two companies publish
// and complete: the race detector proves the reads need no transaction.
func TestReadsWhileScansPublish(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	p := e.open(nil)
	g := newGauges(p)
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for r := range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				p.Cursor(e.company + int64(r))
				p.Companies()
				ch := make(chan prometheus.Metric, 64)
				go func() { g.Collect(ch); close(ch) }()
				for range ch {
				}
			}
		})
	}
	var scans sync.WaitGroup
	for c := range 2 {
		company := e.company + int64(c)
		scans.Go(func() {
			for n := range 3 {
				id := fmt.Sprintf("scan-%d-%d", company, n)
				s := p.BeginScan(company, id, schema.Source{ScanID: id})
				var cs []schema.Customer
				for i := range 20 {
					cs = append(cs, customer(i, int64(n+1)))
				}
				if err := s.Publish(ctx, poller.Batch{CompanyID: company, ScanID: id, Customers: cs}); err != nil {
					t.Error(err)
					s.Abandon()
					return
				}
				if err := s.Complete(ctx, time.Time{}, time.Time{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	scans.Wait()
	close(stop)
	readers.Wait()
	for c := range 2 {
		if cur := p.Cursor(e.company + int64(c)); cur.Scans != 3 {
			t.Errorf("company %d: cursor after 3 scans: %+v", e.company+int64(c), cur)
		}
	}
}
