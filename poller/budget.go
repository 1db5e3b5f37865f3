package poller

import (
	"context"
	"time"
)

// The request budget is process-wide: every company's scans draw on the same
// rate limiter, the same in-flight slots and the same 429 pause.

// acquire waits for the 429 pause to end, a token of the per-minute budget and an
// in-flight slot, in that order. The caller must call release once the response
// body is closed.
func (c *Client) acquire(ctx context.Context) error {
	for {
		c.pauseMu.Lock()
		until := c.pausedUntil
		c.pauseMu.Unlock()
		d := time.Until(until)
		if d <= 0 {
			break
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	if err := c.limiter.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	select {
	case c.inflight <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) release() { <-c.inflight }

// pause stops every request of the client until the given instant: Cova's limit
// is per client, so when it answers 429 all companies must slow down.
func (c *Client) pause(until time.Time) {
	c.pauseMu.Lock()
	defer c.pauseMu.Unlock()
	if until.After(c.pausedUntil) {
		c.pausedUntil = until
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
