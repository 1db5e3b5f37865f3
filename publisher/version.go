package publisher

import (
	"context"
	"fmt"
	"time"

	"github.com/covacdc/covacdc/schema"
)

// maxPlausibleVersion is the largest Version covacdc publishes, 2^53. Cova's
// Version counts a customer's revisions from 1; no such counter gets near 2^53
// (a million revisions a second for 285 years). A larger one, such as int64's
// maximum, is a broken row: published, it would make every real later Version
// of the customer stale for good.
const maxPlausibleVersion = 1 << 53

// plausibleVersion reports whether v can be a Version Cova gave a customer.
func plausibleVersion(v int64) bool { return v >= 1 && v <= maxPlausibleVersion }

// badVersion dead-letters a customer whose Version is not plausible.
func (s *Scan) badVersion(ctx context.Context, c *schema.Customer) error {
	raw := covaJSON(c)
	cause := fmt.Errorf("customer %s: Version %d is not a plausible revision number (1 to %d)", c.Id, c.Version, int64(maxPlausibleVersion))
	return s.deadLetter(ctx, []byte(c.Id), raw, raw, ReasonVersion, cause)
}

// staleLogEvery is the least time between two warnings about one company's
// stale reads: Cova serving an old row again can mean a replica lagging, and a
// line per customer would flood the log.
const staleLogEvery = 10 * time.Second

// staleLog is the rate limit of one company's stale-read warnings.
type staleLog struct {
	next       time.Time // no warning before this
	suppressed int       // stale reads not logged since the last warning
}

// staleRead logs, at most once per staleLogEvery and company, that Cova served
// a Version of a customer older than the published one, and how many such
// reads went unlogged before. The published Version's LastModifiedDateUtc is not
// in the state, so only the read one is logged. Called with txnMu.
func (p *Publisher) staleRead(company int64, c *schema.Customer, published int64) {
	if p.staleLogs == nil {
		p.staleLogs = make(map[int64]*staleLog)
	}
	l := p.staleLogs[company]
	if l == nil {
		l = &staleLog{}
		p.staleLogs[company] = l
	}
	now := p.now()
	if now.Before(l.next) {
		l.suppressed++
		return
	}
	msg := "stale read: Cova served a customer with an older Version than the one published; not published"
	if !plausibleVersion(published) {
		msg = "stale read below an implausible published Version: no later Version of this customer is published " +
			"until the company is published again (README: Replay and resync)"
	}
	p.log.Warn(msg, "company_id", company, "customer_id", c.Id, "version", c.Version,
		"last_modified", c.LastModifiedDateUtc.Raw, "published_version", published,
		"suppressed", l.suppressed)
	l.next, l.suppressed = now.Add(staleLogEvery), 0
}
