package poller

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/schema"
)

func typicalRecord(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/customer.json")
	if err != nil {
		tb.Fatal(err)
	}
	return []byte(strings.TrimSpace(string(b)))
}

func TestDecodeCustomerTypical(t *testing.T) {
	c, err := DecodeCustomer(typicalRecord(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.Id != "45b95f03-9774-4302-9212-018ff0fd33b5" || c.IdBytes[0] != 0x45 || c.IdBytes[15] != 0xb5 {
		t.Errorf("Id %q IdBytes %x", c.Id, c.IdBytes)
	}
	if c.Version != 15 {
		t.Errorf("Version %d", c.Version)
	}
	want := time.Date(2018, 6, 5, 2, 41, 56, 610_000_000, time.UTC)
	if !c.LastModifiedDateUtc.Time.Equal(want) || c.LastModifiedDateUtc.Raw != "2018-06-05T02:41:56.61" {
		t.Errorf("LastModifiedDateUtc %+v", c.LastModifiedDateUtc)
	}
	if c.DateOfBirth == nil || c.DateOfBirth.Time != time.Date(1955, 1, 20, 0, 1, 0, 0, time.UTC) {
		t.Errorf("DateOfBirth %+v", c.DateOfBirth)
	}
	if len(c.Addresses) != 2 || *c.Addresses[0].Zip != "90210" || *c.Addresses[1].Zip != "T2P 1J9" {
		t.Errorf("Zip: %+v", c.Addresses)
	}
	if c.Addresses[0].AddressLine2 != nil || c.Addresses[0].PostOfficeBoxNumber == nil || *c.Addresses[0].PostOfficeBoxNumber != "" {
		t.Error("null must read as nil and \"\" as an empty string")
	}
	if len(c.ContactMethods) != 2 || *c.ContactMethods[1].ContactMethodTypeId != 2 || !*c.ContactMethods[1].DoNotContact {
		t.Errorf("ContactMethods %+v", c.ContactMethods)
	}
	if len(c.CustomerExtensions) != 2 || c.CustomerExtensions[1].ExtensionTypeFeature != nil || *c.CustomerExtensions[0].Value != "1900041159009839" {
		t.Errorf("CustomerExtensions %+v", c.CustomerExtensions)
	}
	if c.RelatedCustomers == nil || len(c.RelatedCustomers) != 0 {
		t.Errorf("[] must read as an empty non-nil slice, got %#v", c.RelatedCustomers)
	}
	if *c.Notes != `likes "indica"` || c.AlternateName != nil || *c.Title != "" {
		t.Errorf("strings: %q %v %q", *c.Notes, c.AlternateName, *c.Title)
	}
	if c.PricingGroupId != nil || c.MergedIntoCustomerId != nil || *c.Disabled || *c.CustomerTypeId != 1 {
		t.Error("scalars wrong")
	}
	if c.UnknownFields != 0 {
		t.Errorf("UnknownFields %d", c.UnknownFields)
	}
}

func TestDecodeCustomerHelpPageSample(t *testing.T) {
	// The generated sample of Cova's help page: "{}" for PricingGroupId and
	// MergedIntoCustomerId, "{}" elements in the untyped collections, offsets.
	raw := `{"RelatedCustomers":[{},{}],"MemberOf":[{},{}],"Documents":[{},{}],"MergedCustomers":[{},{}],
	"Id":"45b95f03-9774-4302-9212-018ff0fd33b5","DateOfBirth":"2024-11-07T08:46:32.0718006+00:00",
	"PricingGroupId":{},"Version":15,"MergedIntoCustomerId":{},"LastModifiedDateUtc":"2024-11-07T08:46:32.0718006+02:00"}`
	c, err := DecodeCustomer([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if c.PricingGroupId != nil || c.MergedIntoCustomerId != nil {
		t.Error("{} must read as nil")
	}
	if len(c.MergedCustomers) != 2 || string(c.MergedCustomers[0]) != "{}" {
		t.Errorf("MergedCustomers %q", c.MergedCustomers)
	}
	if got := c.LastModifiedDateUtc.Time; got != time.Date(2024, 11, 7, 6, 46, 32, 71800600, time.UTC) {
		t.Errorf("offset not applied: %v", got)
	}
}

func TestDecodeCustomerTolerance(t *testing.T) {
	base := `"Id":"45B95F03-9774-4302-9212-018FF0FD33B5","Version":2,"LastModifiedDateUtc":"2020-01-02T03:04:05Z"`
	tests := []struct {
		name    string
		fields  string
		check   func(schema.Customer) bool
		unknown int
	}{
		{"pricing group integer", `"PricingGroupId":7`, func(c schema.Customer) bool { return *c.PricingGroupId == 7 }, 0},
		{"merged into guid", `"MergedIntoCustomerId":"11111111-2222-3333-4444-555555555555"`, func(c schema.Customer) bool {
			return *c.MergedIntoCustomerId == "11111111-2222-3333-4444-555555555555"
		}, 0},
		{"unknown fields counted at any depth", `"Loyalty":{"a":[1,2]},"Addresses":[{"Geo":"x","City":"A"}]`, func(c schema.Customer) bool {
			return *c.Addresses[0].City == "A"
		}, 2},
		{"links ignored, not counted", `"_links":{"self":"x"},"_embedded":[]`, func(schema.Customer) bool { return true }, 0},
		{"nulls everywhere", `"Addresses":null,"ContactMethods":null,"Documents":null,"DateOfBirth":null,"Disabled":null`, func(c schema.Customer) bool {
			return c.Addresses == nil && c.Documents == nil && c.DateOfBirth == nil && c.Disabled == nil
		}, 0},
		{"escaped and unicode strings", `"FamilyName":"O\u0027Brien \u00e9","PrimaryName":"Zoë"`, func(c schema.Customer) bool {
			return *c.FamilyName == "O'Brien é" && *c.PrimaryName == "Zoë"
		}, 0},
		{"negative zip number", `"Addresses":[{"Zip":-1.5e3}]`, func(c schema.Customer) bool { return *c.Addresses[0].Zip == "-1.5e3" }, 0},
		{"raw elements kept", `"Documents":[{"Url":"u"}, 3, "x"]`, func(c schema.Customer) bool {
			return len(c.Documents) == 3 && string(c.Documents[0]) == `{"Url":"u"}` && string(c.Documents[2]) == `"x"`
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DecodeCustomer([]byte("{" + tc.fields + "," + base + "}"))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("unexpected %+v", c)
			}
			if c.UnknownFields != tc.unknown {
				t.Errorf("UnknownFields = %d, want %d", c.UnknownFields, tc.unknown)
			}
			if c.Id != "45B95F03-9774-4302-9212-018FF0FD33B5" || c.IdBytes[0] != 0x45 {
				t.Errorf("Id must be kept as sent: %q", c.Id)
			}
		})
	}
}

func TestDecodeCustomerRecordErrors(t *testing.T) {
	tests := []struct{ name, raw, reason string }{
		{"no id", `{"Version":1,"LastModifiedDateUtc":"2020-01-01T00:00:00"}`, "missing_id"},
		{"null id", `{"Id":null,"Version":1,"LastModifiedDateUtc":"2020-01-01T00:00:00"}`, "missing_id"},
		{"id not a guid", `{"Id":"12345","Version":1,"LastModifiedDateUtc":"2020-01-01T00:00:00"}`, "bad_id"},
		{"no version", `{"Id":"45b95f03-9774-4302-9212-018ff0fd33b5","LastModifiedDateUtc":"2020-01-01T00:00:00"}`, "missing_version"},
		{"version string", `{"Id":"45b95f03-9774-4302-9212-018ff0fd33b5","Version":"1","LastModifiedDateUtc":"2020-01-01T00:00:00"}`, "bad_type"},
		{"no last modified", `{"Id":"45b95f03-9774-4302-9212-018ff0fd33b5","Version":1}`, "missing_last_modified"},
		{"bad timestamp", `{"Id":"45b95f03-9774-4302-9212-018ff0fd33b5","Version":1,"LastModifiedDateUtc":"yesterday"}`, "bad_timestamp"},
		{"disabled as string", `{"Id":"45b95f03-9774-4302-9212-018ff0fd33b5","Version":1,"LastModifiedDateUtc":"2020-01-01T00:00:00","Disabled":"no"}`, "bad_type"},
		{"not an object", `[1,2]`, "not_object"},
		{"broken json", `{"Id":"45b95f03-9774-4302-9212-018ff0fd33b5",`, "bad_json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeCustomer([]byte(tc.raw))
			var re *RecordError
			if !errors.As(err, &re) {
				t.Fatalf("want *RecordError, got %v", err)
			}
			if re.Reason != tc.reason || string(re.Raw) != tc.raw || re.Error() == "" {
				t.Errorf("reason %q (want %q), raw %q, err %v", re.Reason, tc.reason, re.Raw, re.Err)
			}
		})
	}
}

// TestDecodeCustomerMatchesStdlib cross-checks the hand-written decoder against
// encoding/json on the fields both read the same way.
func TestDecodeCustomerMatchesStdlib(t *testing.T) {
	raw := typicalRecord(t)
	c, err := DecodeCustomer(raw)
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Addresses []struct {
			City, PostalCode string
			Version          int64
		}
		ContactMethods []struct{ Value string }
		FamilyName     string
		Version        int64
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	for i, a := range ref.Addresses {
		if *c.Addresses[i].City != a.City || *c.Addresses[i].PostalCode != a.PostalCode || *c.Addresses[i].Version != a.Version {
			t.Errorf("address %d differs", i)
		}
	}
	if *c.ContactMethods[0].Value != ref.ContactMethods[0].Value || *c.FamilyName != ref.FamilyName || c.Version != ref.Version {
		t.Error("differs from encoding/json")
	}
}

func BenchmarkDecodeCustomer(b *testing.B) {
	raw := typicalRecord(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeCustomer(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// typicalPage is a response page of 100 typical records.
func typicalPage(tb testing.TB) []byte {
	raw := typicalRecord(tb)
	page := append([]byte("["), raw...)
	for range 99 {
		page = append(append(page, ','), raw...)
	}
	return append(page, ']')
}

// benchPage times reading a page of 100 typical records with read, which
// consumes one element or returns io.EOF after the last.
func benchPage(b *testing.B, read func(*elemReader) error) {
	page := typicalPage(b)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		er := newElemReader(bytes.NewReader(page), -1)
		n := 0
		for {
			err := read(er)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 100 {
			b.Fatalf("%d elements, want 100", n)
		}
	}
}

// BenchmarkDecodePage decodes a streamed page of 100 typical records the way a
// scan does (nextElem: in place, one pass).
func BenchmarkDecodePage(b *testing.B) {
	benchPage(b, func(er *elemReader) error {
		var c schema.Customer
		in, err := er.nextElem(&c)
		if err == nil && in.rerr != nil {
			return in.rerr
		}
		return err
	})
}

// BenchmarkElemReader splits a streamed page of typical records into elements
// (what a scan does only for records that fail to decode in place).
func BenchmarkElemReader(b *testing.B) {
	benchPage(b, func(er *elemReader) error {
		_, err := er.next()
		return err
	})
}
