package poller

import "time"

// ScanResult says what a completed scan saw.
type ScanResult struct {
	CompanyID int64
	ScanID    string
	Since     time.Time // the filter the scan used
	// ServerStart is the server's clock (Date header) when the scan began: the
	// earliest Date header of the scan's responses, or the local clock at its start
	// when the server sent none.
	ServerStart time.Time
	// Next is where the next scan must start: ServerStart minus Lookback, but
	// never earlier than Since (a cursor never moves backwards).
	Next      time.Time
	Customers int // customers handed on
	Invalid   int // undecodable records handed on
	Requests  int // CustomerFull requests made, retries included
	Rereads   int // pages read again because a shift was detected
}
