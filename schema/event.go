package schema

import "math"

// NewCustomerChanged returns the event that publishes customer c of company
// companyID, with the envelope fields that repeat the customer derived from it:
// EventID (EventID of the company, c.Id and c.Version), CustomerID (c.Id),
// Version, LastModifiedDateUtc (c.LastModifiedDateUtc.Time) and
// UnknownFieldCount (c.UnknownFields, capped to Avro's int). The caller sets
// ChangeType, PreviousVersion, CapturedAt and Source. The event refers to c,
// which must not change while the event is in use. It does not allocate for an
// ASCII Id.
func NewCustomerChanged(companyID int64, c *Customer) CustomerChanged {
	return CustomerChanged{
		EventID:             EventID(companyID, c.Id, c.Version),
		CompanyID:           companyID,
		CustomerID:          c.Id,
		Version:             c.Version,
		LastModifiedDateUtc: c.LastModifiedDateUtc.Time,
		UnknownFieldCount:   clampInt32(c.UnknownFields),
		Customer:            c,
	}
}

// clampInt32 keeps a count inside Avro's int.
func clampInt32(n int) int32 {
	switch {
	case n > math.MaxInt32:
		return math.MaxInt32
	case n < 0:
		return 0
	}
	return int32(n)
}
