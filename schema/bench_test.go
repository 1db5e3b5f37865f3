package schema

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/covacdc/covacdc/poller"
)

// stdCustomer is poller.Customer with Cova's date-times as plain strings, so that
// encoding/json can decode CustomerFull JSON into it: the baseline cost of decoding
// a customer with the standard library.
type stdCustomer struct {
	Addresses            []poller.Address
	ContactMethods       []poller.ContactMethod
	CustomerExtensions   []poller.CustomerExtension
	RelatedCustomers     []json.RawMessage
	MemberOf             []json.RawMessage
	Documents            []json.RawMessage
	MergedCustomers      []json.RawMessage
	PrimaryName          *string
	Title                *string
	AlternateName        *string
	MiddleName           *string
	FamilyName           *string
	ReferralSource       *string
	Notes                *string
	UniqueIdentifier     *string
	Id                   string
	CustomerTypeId       *int64
	CustomerType         *string
	DateOfBirth          *string
	PricingGroupId       *int64
	Disabled             *bool
	DoNotContact         *bool
	Version              int64
	MergedIntoCustomerId *string
	LastModifiedDateUtc  string
}

// covaJSON renders c as CustomerFull serves it.
func covaJSON(t testing.TB, c *poller.Customer) []byte {
	t.Helper()
	s := stdCustomer{
		Addresses: c.Addresses, ContactMethods: c.ContactMethods, CustomerExtensions: c.CustomerExtensions,
		RelatedCustomers: c.RelatedCustomers, MemberOf: c.MemberOf, Documents: c.Documents,
		MergedCustomers: c.MergedCustomers, PrimaryName: c.PrimaryName, Title: c.Title,
		AlternateName: c.AlternateName, MiddleName: c.MiddleName, FamilyName: c.FamilyName,
		ReferralSource: c.ReferralSource, Notes: c.Notes, UniqueIdentifier: c.UniqueIdentifier, Id: c.Id,
		CustomerTypeId: c.CustomerTypeId, CustomerType: c.CustomerType, PricingGroupId: c.PricingGroupId,
		Disabled: c.Disabled, DoNotContact: c.DoNotContact, Version: c.Version,
		MergedIntoCustomerId: c.MergedIntoCustomerId, LastModifiedDateUtc: c.LastModifiedDateUtc.Raw,
	}
	if c.DateOfBirth != nil {
		s.DateOfBirth = &c.DateOfBirth.Raw
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The benchmarks compare like with like: the JSON decoded is the customer encoded.
func TestTypicalJSONIsTheEncodedCustomer(t *testing.T) {
	raw := covaJSON(t, typicalCustomer())
	c, err := poller.DecodeCustomer(raw)
	if err != nil {
		t.Fatal(err)
	}
	ev, want := eventOf(&c, Updated, nil), eventOf(typicalCustomer(), Updated, nil)
	if !bytes.Equal(appendEvent(nil, ev), appendEvent(nil, want)) {
		t.Error("poller.DecodeCustomer of the benchmark JSON is not the benchmark's customer")
	}
}

// BenchmarkEncode encodes a typical customer (2 addresses, 2 contact methods,
// 2 extensions) into a reused buffer, as a publisher does record after record.
func BenchmarkEncode(b *testing.B) {
	enc := mustEncoder(b)
	ev := eventOf(typicalCustomer(), Updated, ptr(int64(6)))
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = enc.Append(buf[:0], ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeGoavro is the same event through goavro's native form and
// BinaryFromNative: the reference encoder the direct one replaces.
func BenchmarkEncodeGoavro(b *testing.B) {
	rs, err := writer()
	if err != nil {
		b.Fatal(err)
	}
	ev := eventOf(typicalCustomer(), Updated, ptr(int64(6)))
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = rs.codec.BinaryFromNative(buf[:0], nativeEvent(ev)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJSON decodes the same customer's CustomerFull JSON with
// poller.DecodeCustomer, what the poller pays per customer.
func BenchmarkDecodeJSON(b *testing.B) {
	raw := covaJSON(b, typicalCustomer())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := poller.DecodeCustomer(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeJSONStdlib decodes the same JSON with encoding/json.Unmarshal into
// stdCustomer (poller.Customer with date-times as strings): a reference that does
// not depend on the poller's decoder.
func BenchmarkDecodeJSONStdlib(b *testing.B) {
	raw := covaJSON(b, typicalCustomer())
	b.ReportAllocs()
	for b.Loop() {
		var c stdCustomer
		if err := json.Unmarshal(raw, &c); err != nil {
			b.Fatal(err)
		}
	}
}
