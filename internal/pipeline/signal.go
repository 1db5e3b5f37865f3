package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
)

// DefaultSignalTopic is where `covacdc resync` asks a running covacdc for a
// resync (--signal-topic).
const DefaultSignalTopic = "covacdc.signals"

// SignalGroup is the consumer group a running covacdc joins to read the
// signal topic. Its members tell `covacdc resync` that a deployment runs, so
// that it asks instead of doing the work itself (which would fence it).
func SignalGroup(transactionalID string) string { return transactionalID + ".signals" }

// ResyncSignal is a signal record's value: a request to publish a company's
// customers again. Its JSON keys are documented in README.md (Replay and
// resync); a record's key is the transactional id of the deployment it is
// for, so that deployments can share a signal topic.
type ResyncSignal struct {
	Type        string    `json:"type"` // "resync"
	ID          string    `json:"id"`
	CompanyID   int64     `json:"companyId"`
	CustomerIDs []string  `json:"customerIds,omitempty"` // empty: every customer
	RequestedAt time.Time `json:"requestedAt"`
	RequestedBy string    `json:"requestedBy,omitempty"`
}

// signalTypeResync is the only signal type this covacdc knows.
const signalTypeResync = "resync"

// NewResyncSignal returns a request, with a fresh id, to resync the company:
// the customers given (GUIDs), or every one when none is.
func NewResyncSignal(companyID int64, customerIDs []string, requestedBy string, now time.Time) ResyncSignal {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return ResyncSignal{Type: signalTypeResync, ID: "resync-" + hex.EncodeToString(b[:]), CompanyID: companyID,
		CustomerIDs: customerIDs, RequestedAt: now.UTC(), RequestedBy: requestedBy}
}

// Value is the signal record's value.
func (s ResyncSignal) Value() []byte {
	b, err := json.Marshal(s)
	if err != nil { // only a time out of JSON's range gets here
		panic(fmt.Sprintf("pipeline: encoding a signal: %v", err))
	}
	return b
}

// errBadSignal is a signal that cannot be accepted, whatever retries.
var errBadSignal = errors.New("bad signal")

// parseResyncSignal reads a signal record's value as the resync it asks for.
func parseResyncSignal(value []byte) (ResyncSignal, state.Resync, error) {
	var s ResyncSignal
	if err := json.Unmarshal(value, &s); err != nil {
		return s, state.Resync{}, fmt.Errorf("%w: not JSON: %w", errBadSignal, err)
	}
	if s.Type != signalTypeResync {
		return s, state.Resync{}, fmt.Errorf("%w: type %q (this covacdc knows %q)", errBadSignal, s.Type, signalTypeResync)
	}
	if err := CheckResyncRequest(s.CompanyID, s.CustomerIDs); err != nil {
		return s, state.Resync{}, fmt.Errorf("%w: %w", errBadSignal, err)
	}
	r := state.Resync{ID: s.ID, RequestedAt: s.RequestedAt}
	for _, c := range s.CustomerIDs {
		id, _ := schema.ParseGUID(c) // checked
		r.Customers = append(r.Customers, id)
	}
	return s, r, nil
}

// maxResyncCustomers bounds a resync's customer list, which lives in the
// company's cursor record.
const maxResyncCustomers = 1000

// CheckResyncRequest checks a resync request's company and customers, as
// `covacdc resync` does before it asks and a running covacdc does when it
// reads the request; its errors name the flags of `covacdc resync`.
func CheckResyncRequest(companyID int64, customerIDs []string) error {
	if companyID <= 0 {
		return fmt.Errorf("--company-id: want a Cova company id (a positive integer), got %d", companyID)
	}
	if len(customerIDs) > maxResyncCustomers {
		return fmt.Errorf("--customer-id: at most %d customers, got %d: resync the whole company instead", maxResyncCustomers, len(customerIDs))
	}
	var bad []string
	for _, c := range customerIDs {
		if _, ok := schema.ParseGUID(c); !ok {
			bad = append(bad, fmt.Sprintf("%q", c))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("--customer-id: not a customer GUID: %s", strings.Join(bad, ", "))
	}
	return nil
}
