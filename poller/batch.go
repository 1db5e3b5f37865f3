package poller

import (
	"encoding/json"

	"github.com/covacdc/covacdc/schema"
)

// RecordError is one element of a CustomerFull response that could not be decoded
// into a schema.Customer (no Id, no Version, a wrong type, ...). Nothing is
// dropped: the raw JSON goes on to the dead-letter topic.
type RecordError struct {
	CompanyID int64
	Raw       json.RawMessage // the element exactly as served
	Reason    string          // short, bounded label for metrics: "missing_id", "missing_version", "bad_type", "bad_timestamp", ...
	Err       error
}

func (e *RecordError) Error() string { return e.Err.Error() }
func (e *RecordError) Unwrap() error { return e.Err }

// Batch is a run of consecutive decoded elements of one scan, handed on in the order
// served. A customer seen twice within a scan (page overlap, a re-read) is handed on
// once per distinct Version at most. Customers is valid until the function given
// the batch returns (see Client.Scan).
type Batch struct {
	CompanyID int64
	ScanID    string
	Customers []schema.Customer
	Invalid   []RecordError
}
