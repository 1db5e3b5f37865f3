package poller

import (
	"context"
	"testing"
	"time"

	"github.com/covacdc/covacdc/poller/covatest"
)

// BenchmarkScan pages through 20,000 simulated customers over loopback HTTP and
// reports customers per second (simulator and client share the machine).
func BenchmarkScan(b *testing.B) {
	for _, ahead := range []int{1, 4} {
		b.Run("fetch-ahead="+string(rune('0'+ahead)), func(b *testing.B) {
			sim := covatest.NewServer(covatest.Config{Seed: 3, NoServedLog: true})
			defer sim.Close()
			sim.Generate(1, 20000)
			cfg := DefaultConfig()
			cfg.BaseURL, cfg.TokenURL = sim.BaseURL(), sim.TokenURL()
			cfg.ClientID, cfg.ClientSecret = covatest.DefaultClientID, covatest.DefaultClientSecret
			cfg.Username, cfg.Password = covatest.DefaultUsername, covatest.DefaultPassword
			cfg.RequestsPerMinute, cfg.FetchAhead = 1<<30, ahead
			c, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			total := 0
			start := time.Now()
			for b.Loop() {
				res, err := c.Scan(context.Background(), 1, time.Time{}, func(context.Context, Batch) error { return nil })
				if err != nil || res.Customers != 20000 {
					b.Fatalf("%d customers, %v", res.Customers, err)
				}
				total += res.Customers
			}
			b.ReportMetric(float64(total)/time.Since(start).Seconds(), "customers/s")
		})
	}
}
