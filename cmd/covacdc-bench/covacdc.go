package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// covacdc is a running `covacdc run`.
type covacdc struct {
	*child
	MetricsAddr string
}

// startCovacdc starts `covacdc run` (always transactional: exactly once) against
// the simulator and Kafka, polling companies 1..companies, and waits for its
// metrics server.
func (b *bench) startCovacdc(ctx context.Context, k *kafka, n names, sim *simulator, companies int, args ...string) (*covacdc, error) {
	ids := make([]string, companies)
	for i := range ids {
		ids[i] = strconv.Itoa(i + 1)
	}
	all := []string{"run", "--kafka-brokers", strings.Join(k.brokers, ","),
		"--company-id", strings.Join(ids, ","),
		"--topic", n.Events, "--state-topic", n.State, "--dlq-topic", n.DLQ, "--transactional-id", n.TxnID,
		"--metrics-addr", "127.0.0.1:0", "--log-format", "json"}
	all = append(all, sim.runArgs()...)
	all = append(all, args...)
	all = append(all, b.cfg.RunArgs...)
	c, err := startChild("covacdc run", b.bin, all, nil)
	if err != nil {
		return nil, err
	}
	l, err := c.waitLog(ctx, time.Minute, "metrics server", func(l logLine) bool { return l.str("msg") == "serving metrics" })
	if err != nil {
		c.kill()
		return nil, err
	}
	return &covacdc{child: c, MetricsAddr: l.str("addr")}, nil
}

// restored waits for the log line that says the state is restored: from there
// the first scan may start.
func (c *covacdc) restored(ctx context.Context, timeout time.Duration) (logLine, error) {
	return c.waitLog(ctx, timeout, "state restored", func(l logLine) bool { return l.str("msg") == "state restored" })
}

// scanCommitted matches the command's per-scan line (the publisher logs a line
// with the same message; only the command's carries the request count).
func scanCommitted(l logLine) bool {
	_, ok := l.Fields["requests"]
	return l.str("msg") == "scan committed" && ok
}

// errorLines are the ERROR lines so far (a benchmark run should have none).
func (c *covacdc) errorLines() []string {
	var out []string
	for _, l := range c.logs(func(l logLine) bool { return l.str("level") == "ERROR" }) {
		out = append(out, l.Raw)
	}
	return out
}

// watch scrapes /metrics every interval until every company has published want
// events (counted at commit), the process exits, or timeout. It returns the
// time the last company got there and every scrape, for the per-minute request
// figures.
type scrapePoint struct {
	At       time.Time
	Events   float64
	Requests float64
	CPU      time.Duration
	RSS      int64
	Heap     float64 // go_memstats_heap_inuse_bytes
	Sys      float64 // go_memstats_sys_bytes
}

func (c *covacdc) waitPublished(ctx context.Context, want float64, every, timeout time.Duration) (time.Time, []scrapePoint, metrics, error) {
	deadline := time.Now().Add(timeout)
	var points []scrapePoint
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		m, err := scrape(ctx, c.MetricsAddr)
		now := time.Now()
		if err == nil {
			cpu, _ := c.cpu()
			p := scrapePoint{At: now, Events: m.sum("covacdc_events_published_total"), Requests: m.sum("covacdc_cova_requests_total"), CPU: cpu, RSS: c.rss(),
				Heap: m.sum("go_memstats_heap_inuse_bytes"), Sys: m.sum("go_memstats_sys_bytes")}
			points = append(points, p)
			if p.Events >= want {
				return now, points, m, nil
			}
		}
		if c.exited() {
			return now, points, nil, fmt.Errorf("covacdc run exited (%s) before publishing %.0f events:\n%s", exitStatus(c.exitErr()), want, c.tailText())
		}
		if now.After(deadline) {
			return now, points, nil, fmt.Errorf("covacdc run: %.0f events not published within %s (last scrape error: %s):\n%s", want, timeout, orNone(err), c.tailText())
		}
		select {
		case <-ctx.Done():
			return now, points, nil, ctx.Err()
		case <-t.C:
		}
	}
}

// maxPerMinute is the most requests covacdc counted in any 60 s window of the
// scrapes (a lower bound of the true maximum, at the scrapes' resolution).
func maxPerMinute(points []scrapePoint) float64 {
	best := 0.0
	j := 0
	for i := range points {
		for points[i].At.Sub(points[j].At) > time.Minute {
			j++
		}
		best = max(best, points[i].Requests-points[j].Requests)
	}
	return best
}

// memoryTrace summarises the scrapes' resident set and Go heap over the run.
func memoryTrace(points []scrapePoint, n int) string {
	var b strings.Builder
	step := max((len(points)+n-1)/n, 1)
	for i := 0; i < len(points); i += step {
		p := points[i]
		fmt.Fprintf(&b, " %.0fev:rss=%.0fMB,heap=%.0fMB,sys=%.0fMB", p.Events, float64(p.RSS)/1e6, p.Heap/1e6, p.Sys/1e6)
	}
	return b.String()
}
