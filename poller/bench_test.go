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
			c, err := New(Config{
				BaseURL: sim.BaseURL(), TokenURL: sim.TokenURL(),
				ClientID: covatest.DefaultClientID, ClientSecret: covatest.DefaultClientSecret,
				Username: covatest.DefaultUsername, Password: covatest.DefaultPassword,
				RequestsPerMinute: 1 << 30, FetchAhead: ahead,
			})
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
