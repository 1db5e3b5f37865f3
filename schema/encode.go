package schema

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/covacdc/covacdc/poller"
)

// Encoder turns events into bytes. It is safe for concurrent use.
type Encoder struct {
	header []byte // prepended to every body; never modified after construction
	ref    string
}

// NewEncoder returns an encoder producing Avro single-object encoding
// (C3 01, 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's
// Parsing Canonical Form, binary body).
func NewEncoder() (*Encoder, error) {
	rs, err := writer()
	if err != nil {
		return nil, err
	}
	return &Encoder{header: soeHeader(rs.fp), ref: fmt.Sprintf("fp:%016x", rs.fp)}, nil
}

// Append encodes ev and appends it to dst. It fails only for an event it cannot
// encode (nil, no customer, unknown change type); dst is then returned unchanged.
//
// The body is written by a hand-written encoder of this one schema, which the tests
// prove byte-identical to goavro's BinaryFromNative; it costs a fraction of goavro's
// generic encoding, which wraps every non-null union value in a map.
func (e *Encoder) Append(dst []byte, ev *Event) ([]byte, error) {
	if err := checkEvent(ev); err != nil {
		return dst, err
	}
	dst = append(dst, e.header...)
	return appendEvent(dst, ev), nil
}

// SchemaRef is what the encoder's header names: "fp:<16 hex digits>" for
// single-object encoding, "sr:<id>" for the registry format.
func (e *Encoder) SchemaRef() string { return e.ref }

func checkEvent(ev *Event) error {
	switch {
	case ev == nil:
		return errors.New("schema: nil event")
	case ev.Customer == nil:
		return errors.New("schema: event without a customer")
	case ev.ChangeType < 0 || int(ev.ChangeType) >= len(changeTypeSymbols):
		return fmt.Errorf("schema: customer %s: unknown change type %d", ev.Customer.Id, int(ev.ChangeType))
	}
	return nil
}

// appendEvent appends the Avro binary body of ev, field by field in schema order.
// Keep it in step with customer_changed.avsc: TestDirectEncoderMatchesGoavro fails
// on any divergence.
func appendEvent(b []byte, ev *Event) []byte {
	c := ev.Customer
	b = appendLong(b, 36)
	b = appendEventID(b, ev.CompanyID, c.Id, c.Version)
	b = appendLong(b, int64(ev.ChangeType))
	b = appendLong(b, ev.CompanyID)
	b = appendString(b, c.Id)
	b = appendLong(b, c.Version)
	b = appendOptLong(b, ev.PreviousVersion)
	b = appendLong(b, unixMicro(c.LastModifiedDateUtc.Time))
	b = appendLong(b, unixMilli(ev.CapturedAt))
	b = appendString(b, ev.Source.System)
	b = appendString(b, ev.Source.Endpoint)
	b = appendString(b, ev.Source.ScanID)
	b = appendLong(b, int64(clampInt32(c.UnknownFields)))
	return appendCustomer(b, c)
}

func appendCustomer(b []byte, c *poller.Customer) []byte {
	if c.Addresses == nil {
		b = append(b, 0)
	} else {
		b = append(b, 2)
		b = appendCount(b, len(c.Addresses))
		for i := range c.Addresses {
			b = appendAddress(b, &c.Addresses[i])
		}
		b = endArray(b, len(c.Addresses))
	}
	if c.ContactMethods == nil {
		b = append(b, 0)
	} else {
		b = append(b, 2)
		b = appendCount(b, len(c.ContactMethods))
		for i := range c.ContactMethods {
			b = appendContactMethod(b, &c.ContactMethods[i])
		}
		b = endArray(b, len(c.ContactMethods))
	}
	if c.CustomerExtensions == nil {
		b = append(b, 0)
	} else {
		b = append(b, 2)
		b = appendCount(b, len(c.CustomerExtensions))
		for i := range c.CustomerExtensions {
			b = appendExtension(b, &c.CustomerExtensions[i])
		}
		b = endArray(b, len(c.CustomerExtensions))
	}
	b = appendRawArray(b, c.RelatedCustomers)
	b = appendRawArray(b, c.MemberOf)
	b = appendRawArray(b, c.Documents)
	b = appendRawArray(b, c.MergedCustomers)
	b = appendOptString(b, c.PrimaryName)
	b = appendOptString(b, c.Title)
	b = appendOptString(b, c.AlternateName)
	b = appendOptString(b, c.MiddleName)
	b = appendOptString(b, c.FamilyName)
	b = appendOptString(b, c.ReferralSource)
	b = appendOptString(b, c.Notes)
	b = appendOptString(b, c.UniqueIdentifier)
	b = appendString(b, c.Id)
	b = appendOptLong(b, c.CustomerTypeId)
	b = appendOptString(b, c.CustomerType)
	if c.DateOfBirth == nil {
		b = append(b, 0)
	} else {
		b = append(b, 2)
		b = appendString(b, c.DateOfBirth.Raw)
	}
	b = appendOptLong(b, c.PricingGroupId)
	b = appendOptBool(b, c.Disabled)
	b = appendOptBool(b, c.DoNotContact)
	b = appendLong(b, c.Version)
	b = appendOptString(b, c.MergedIntoCustomerId)
	return appendString(b, c.LastModifiedDateUtc.Raw)
}

func appendAddress(b []byte, a *poller.Address) []byte {
	b = appendOptString(b, a.AddressLine1)
	b = appendOptString(b, a.AddressLine2)
	b = appendOptString(b, a.City)
	b = appendOptString(b, a.StateName)
	b = appendOptString(b, a.CountryName)
	b = appendOptString(b, a.Zip)
	b = appendOptString(b, a.Id)
	b = appendOptString(b, a.CustomerId)
	b = appendOptLong(b, a.AddressTypeId)
	b = appendOptString(b, a.AddressType)
	b = appendOptBool(b, a.Default)
	b = appendOptBool(b, a.DoNotContact)
	b = appendOptString(b, a.CountryCode)
	b = appendOptString(b, a.Country)
	b = appendOptString(b, a.Locality)
	b = appendOptString(b, a.StateCode)
	b = appendOptString(b, a.State)
	b = appendOptString(b, a.PostalCode)
	b = appendOptString(b, a.PostOfficeBoxNumber)
	b = appendOptString(b, a.StreetAddress1)
	b = appendOptString(b, a.Notes)
	b = appendOptString(b, a.StreetAddress2)
	b = appendOptLong(b, a.Version)
	b = appendOptString(b, a.AttentionTo)
	b = appendOptString(b, a.Phone)
	return appendOptString(b, a.Email)
}

func appendContactMethod(b []byte, m *poller.ContactMethod) []byte {
	b = appendOptString(b, m.Value)
	b = appendOptString(b, m.Id)
	b = appendOptString(b, m.CustomerId)
	b = appendOptLong(b, m.ContactMethodCategoryId)
	b = appendOptString(b, m.ContactMethodCategory)
	b = appendOptLong(b, m.ContactMethodTypeId)
	b = appendOptString(b, m.ContactMethodType)
	b = appendOptBool(b, m.DoNotContact)
	b = appendOptBool(b, m.Default)
	b = appendOptString(b, m.Notes)
	return appendOptLong(b, m.Version)
}

func appendExtension(b []byte, e *poller.CustomerExtension) []byte {
	b = appendOptString(b, e.Value)
	b = appendOptString(b, e.Id)
	b = appendOptString(b, e.CustomerId)
	b = appendOptLong(b, e.ExtensionTypeId)
	b = appendOptString(b, e.ExtensionType)
	b = appendOptString(b, e.ExtensionTypeFeature)
	return appendOptLong(b, e.Version)
}

// appendRawArray writes a ["null", {"type":"array","items":"string"}] value.
func appendRawArray(b []byte, raw []json.RawMessage) []byte {
	if raw == nil {
		return append(b, 0)
	}
	b = append(b, 2)
	b = appendCount(b, len(raw))
	for _, r := range raw {
		b = appendString(b, rawElement(r))
	}
	return endArray(b, len(raw))
}

// appendCount starts an array: like goavro, a non-empty array is one block (its
// count, then the items) and endArray closes it with the empty block; an empty
// array is the empty block alone.
func appendCount(b []byte, n int) []byte { return appendLong(b, int64(n)) }

func endArray(b []byte, n int) []byte {
	if n == 0 {
		return b
	}
	return append(b, 0)
}

// Union branch indexes of ["null", T]: 0 is null, 1 (zig-zag 2) is the value.
func appendOptString(b []byte, p *string) []byte {
	if p == nil {
		return append(b, 0)
	}
	if s := *p; len(s) < 64 { // the branch and a length of one byte
		return append(append(b, 2, byte(len(s)<<1)), s...)
	}
	return appendString(append(b, 2), *p)
}

func appendOptLong(b []byte, p *int64) []byte {
	if p == nil {
		return append(b, 0)
	}
	return appendLong(append(b, 2), *p)
}

func appendOptBool(b []byte, p *bool) []byte {
	if p == nil {
		return append(b, 0)
	}
	if *p {
		return append(b, 2, 1)
	}
	return append(b, 2, 0)
}

// appendLong is Avro's int and long: zig-zag, then a base-128 varint.
func appendLong(b []byte, v int64) []byte {
	return binary.AppendUvarint(b, uint64(v<<1)^uint64(v>>63))
}

func appendString(b []byte, s string) []byte {
	if len(s) < 64 { // a length of one byte
		return append(append(b, byte(len(s)<<1)), s...)
	}
	return append(appendLong(b, int64(len(s))), s...)
}

// appendEventID appends EventID's 36 characters without allocating.
func appendEventID(b []byte, companyID int64, customerID string, version int64) []byte {
	var buf [16 + 96]byte
	n := append(buf[:0], eventIDNamespace[:]...)
	n = strconv.AppendInt(n, companyID, 10)
	n = append(n, '/')
	n = appendLower(n, customerID)
	n = append(n, '/')
	n = strconv.AppendInt(n, version, 10)
	return appendUUID5(b, n)
}

// unixMicro and unixMilli round towards negative infinity, as goavro does, so a
// time is never rounded into the next tick.
func unixMicro(t time.Time) int64 { return t.Unix()*1e6 + int64(t.Nanosecond()/1e3) }
func unixMilli(t time.Time) int64 { return t.Unix()*1e3 + int64(t.Nanosecond()/1e6) }
