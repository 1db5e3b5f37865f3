// Package covatest is a simulator of the Cova CRM API for tests, benchmarks and the
// demo: the OAuth2 token endpoint and CustomerFull, with realistic generated
// customers and a knob for every hazard the client must survive. It keeps the ground
// truth: every customer's current record and every (Id, Version) it ever served.
//
// It shares no code or types with package poller on purpose: a simulator that
// reads the API the way the client does would let a shared mistake pass every test.
package covatest

import "time"

// Order is the row order CustomerFull serves in. Cova documents none.
type Order int

const (
	// OrderGUID serves in SQL Server uniqueidentifier order of Id (what recorded traffic showed).
	OrderGUID Order = iota
	// OrderModified serves by LastModifiedDateUtc, then Id: a modified row moves to the end.
	OrderModified
	// OrderRandom serves in a stable pseudo-random order keyed by Id (and the seed).
	OrderRandom
)

// Default credentials the simulator accepts unless Config says otherwise.
const (
	DefaultClientID     = "covatest-client"
	DefaultClientSecret = "covatest-secret"
	DefaultUsername     = "covatest-user"
	DefaultPassword     = "covatest-password"
)

// Config sets up a Simulator. The zero value is usable: every field has a default.
type Config struct {
	Seed         int64         // Seed for generated data and random choices. Default 1.
	ClientID     string        // Default DefaultClientID.
	ClientSecret string        // Default DefaultClientSecret.
	Username     string        // Default DefaultUsername.
	Password     string        // Default DefaultPassword.
	TokenTTL     time.Duration // expires_in of issued tokens. Default 12h.
	Order        Order         // Default OrderGUID.
	// Now is the simulator's clock (Date header, LastModifiedDateUtc of changes).
	// Default time.Now.
	Now func() time.Time
	// Gzip compresses responses when the request accepts gzip. Default false.
	Gzip bool
	// NoServedLog stops recording Served (it grows by one entry per row served,
	// which a benchmark paging through millions of rows does not need). Default false.
	NoServedLog bool
}

// Hazards are the hostile behaviours, all off in the zero value. They can be
// changed at any time with SetHazards; counters ("the next N requests") count down
// as they are used, and Simulator.Hazards shows how far.
//
// A CustomerFull request first waits Latency (plus jitter) and Slow, then is
// answered by the first of these that applies: RateLimitPerMinute (429), a
// missing or dead token (401), the next step of Script, Reject401Next,
// Status429, Status5xx, HTMLNext, an unknown company (404), a malformed query
// (400). Otherwise, if $skip > 0, the between-pages changes happen, and the page
// is served (spoilt by a Script step, reset after its headers by ResetNext, cut
// by TruncateNext).
type Hazards struct {
	IgnorePaging bool // serve the whole result whatever $top/$skip say

	// Between two pages of one scan (a request with $skip > 0), before serving it:
	ModifyPerPage      int           // modify this many random existing customers (Version+1, LastModifiedDateUtc=now)
	InsertPerPage      int           // insert this many new customers (LastModifiedDateUtc=now)
	LateVisiblePerPage int           // insert this many customers whose LastModifiedDateUtc lies LateBy before now (rows that become visible late)
	LateBy             time.Duration // default 30s

	Status429      int           // answer the next N CustomerFull requests 429
	RetryAfter     string        // Retry-After header on those 429s ("" = header absent); e.g. "2" or an HTTP date
	RateLimitReset string        // X-RateLimit-ResetSeconds header on those 429s ("" = absent)
	Status5xx      int           // answer the next N CustomerFull requests with Code5xx
	Code5xx        int           // 500, 502 or 503; default 503
	Slow           time.Duration // delay every CustomerFull response by this much
	TruncateNext   int           // cut the body of the next N responses in the middle of the JSON array
	HTMLNext       int           // answer the next N requests 200 with an HTML error page
	Reject401Next  int           // answer the next N CustomerFull requests 401 even with a valid token (forces a renewal)
	ResetNext      int           // send the headers of the next N 200 responses, then reset the connection (TCP RST)

	// Script answers the next CustomerFull requests one step each, in order,
	// whatever page they ask for: the first request that gets past the token
	// check takes the first step, and so on (a request answered 401 for its
	// token takes none). Steps are used up like the counters above.
	Script []Fault
	// TokenLifetime makes every access token die this long after it was issued
	// (0: only at its expires_in), so that tokens die long before the expires_in
	// they were issued with. It applies to tokens issued before it was set too.
	TokenLifetime time.Duration

	// Latency delays every CustomerFull request by Latency plus a uniform random
	// duration in [0, LatencyJitter), like the few hundred milliseconds a real page takes.
	Latency       time.Duration
	LatencyJitter time.Duration
	// RateLimitPerMinute is the server-side limit (0 = none): beyond this many
	// accepted CustomerFull requests in any 60 s window of the simulator's clock, a
	// request is answered 429 with Retry-After = the seconds until a slot frees and
	// the Azure API Management body {"statusCode":429,"message":"Rate limit is
	// exceeded. Try again in N seconds."}. Rejected requests do not use up slots.
	// Every answer, 200 or 429, says where the window stands in the headers of
	// RateLimitHeaders, as Cova does.
	RateLimitPerMinute int
	// RateLimitWindow is the length of RateLimitPerMinute's window. Default a
	// minute, Cova's; tests that must see the window move on shorten it.
	RateLimitWindow time.Duration
	// RateLimitHeaders is the family of rate-limit headers sent while
	// RateLimitPerMinute is set. Default RateLimitXRateLimit.
	RateLimitHeaders RateLimitHeaders
}

// RateLimitHeaders names a family of rate-limit headers. Each says the limit
// (requests per window), the requests the window has left after this one, and
// when the window frees its next request: the oldest request it holds leaves.
type RateLimitHeaders int

const (
	// RateLimitXRateLimit sends X-RateLimit-Limit, X-RateLimit-Remaining,
	// X-RateLimit-Reset (a Unix time, in whole seconds, rounded up) and
	// X-RateLimit-ResetSeconds (whole seconds from now, rounded up), as
	// iQmetrix's older docs describe.
	RateLimitXRateLimit RateLimitHeaders = iota
	// RateLimitCovaAPIM sends COVA-APIM-RateLimit-Limit,
	// COVA-APIM-RateLimit-Remaining and COVA-APIM-RateLimit-Reset (whole
	// seconds from now, rounded up), as Cova's current docs name them.
	RateLimitCovaAPIM
	// RateLimitNoHeaders sends none: the limit shows only in 429s.
	RateLimitNoHeaders
)

// Served identifies one version of one customer as it was served.
type Served struct {
	CompanyID int64
	ID        string // the customer's Id as served
	Version   int64
}

// Stats counts what the simulator answered.
type Stats struct {
	TokenRequests        int
	CustomerFullRequests int
	ByStatus             map[int]int // CustomerFull responses by HTTP status
	RowsServed           int
	// MaxInFlight is the most CustomerFull requests the simulator was answering
	// at once, counted from the request's arrival (its latency included) to the
	// end of its answer.
	MaxInFlight int
	// Abandoned counts the CustomerFull requests whose client went away during
	// their latency: they are in no other count, but a gateway in front of
	// Cova would have counted them against the limit.
	Abandoned int
}
