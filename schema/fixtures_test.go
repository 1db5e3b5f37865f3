package schema

import (
	"encoding/json"
	"math"
	"strings"
	"time"
)

func ptr[T any](v T) *T { return &v }

func ts(raw string) Timestamp {
	t, err := parseCovaTime(raw)
	if err != nil {
		panic(err)
	}
	return Timestamp{Raw: raw, Time: t}
}

// parseCovaTime reads Cova's date-times the way the poller documents them: 0 to 7
// fraction digits, an optional zone, no zone meaning UTC.
func parseCovaTime(raw string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, raw); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Parse(time.RFC3339Nano, raw) // for its error
}

func raws(elems ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(elems))
	for i, e := range elems {
		out[i] = json.RawMessage(e)
	}
	return out
}

// fullCustomer has every field set, with text that exercises escaping and UTF-8.
func fullCustomer() *Customer {
	return &Customer{
		Addresses: []Address{{
			AddressLine1: ptr("1200 Granville St"), AddressLine2: ptr("Suite 4"), City: ptr("Vancouver"),
			StateName: ptr("British Columbia"), CountryName: ptr("Canada"), Zip: ptr("V6Z 1M6"),
			Id: ptr("6AACF4A6-0FA1-4C22-ACCC-DF9D991DD4A6"), CustomerId: ptr("45b95f03-9774-4302-9212-018ff0fd33b5"),
			AddressTypeId: ptr(int64(8)), AddressType: ptr("Home"), Default: ptr(true), DoNotContact: ptr(false),
			CountryCode: ptr("CA"), Country: ptr("Canada"), Locality: ptr("Vancouver"), StateCode: ptr("BC"),
			State: ptr("British Columbia"), PostalCode: ptr("V6Z 1M6"), PostOfficeBoxNumber: ptr("PO 77"),
			StreetAddress1: ptr("1200 Granville St"), Notes: ptr("Ring twice \"loudly\"\nthen wait"),
			StreetAddress2: ptr(""), Version: ptr(int64(22)), AttentionTo: ptr("Zoë Ångström"),
			Phone: ptr("+1 604 555 0100"), Email: ptr("zoe@example.com"),
		}, {
			AddressLine1: ptr("PO Box 9"), AddressLine2: ptr(""), City: ptr("Denver"), StateName: ptr("Colorado"),
			CountryName: ptr("United States"), Zip: ptr("80202"), Id: ptr("0d6f4b0e-5c1a-4d8e-9a53-2f1e6c7b8a90"),
			CustomerId: ptr("45b95f03-9774-4302-9212-018ff0fd33b5"), AddressTypeId: ptr(int64(2)),
			AddressType: ptr("Mailing"), Default: ptr(false), DoNotContact: ptr(true), CountryCode: ptr("US"),
			Country: ptr("United States"), Locality: ptr("Denver"), StateCode: ptr("CO"), State: ptr("Colorado"),
			PostalCode: ptr("80202"), PostOfficeBoxNumber: ptr("9"), StreetAddress1: ptr("PO Box 9"),
			Notes: ptr("<b>&</b>"), StreetAddress2: ptr("-"), Version: ptr(int64(3)), AttentionTo: ptr("Accounts"),
			Phone: ptr("+1 303 555 0199"), Email: ptr("billing@example.com"),
		}},
		ContactMethods: []ContactMethod{{
			Value: ptr("+1 604 555 0100"), Id: ptr("56eec8ae-c2ce-412b-86b2-94dfc227f605"),
			CustomerId: ptr("45b95f03-9774-4302-9212-018ff0fd33b5"), ContactMethodCategoryId: ptr(int64(1)),
			ContactMethodCategory: ptr("Phone"), ContactMethodTypeId: ptr(int64(6)), ContactMethodType: ptr("Mobile"),
			DoNotContact: ptr(false), Default: ptr(true), Notes: ptr("texts only"), Version: ptr(int64(11)),
		}, {
			Value: ptr("zoe@example.com"), Id: ptr("8b96ee6c-72fd-49c4-9395-3c08d9f9f559"),
			CustomerId: ptr("45b95f03-9774-4302-9212-018ff0fd33b5"), ContactMethodCategoryId: ptr(int64(2)),
			ContactMethodCategory: ptr("Email"), ContactMethodTypeId: ptr(int64(9)), ContactMethodType: ptr("Personal"),
			DoNotContact: ptr(true), Default: ptr(false), Notes: ptr(""), Version: ptr(int64(-1)),
		}},
		CustomerExtensions: []CustomerExtension{{
			Value: ptr("1900041159009839"), Id: ptr("f2872cb8-3a60-4416-8259-37ade312de76"),
			CustomerId: ptr("45b95f03-9774-4302-9212-018ff0fd33b5"), ExtensionTypeId: ptr(int64(7)),
			ExtensionType: ptr("CardNumber"), ExtensionTypeFeature: ptr("Dispensary"), Version: ptr(int64(1)),
		}, {
			Value: ptr("2031-12-31"), Id: ptr("b56047fe-e95a-47d4-a525-f61b941e1642"),
			CustomerId: ptr("45b95f03-9774-4302-9212-018ff0fd33b5"), ExtensionTypeId: ptr(int64(12)),
			ExtensionType: ptr("MedicalCardExpiry"), ExtensionTypeFeature: ptr("Dispensary"), Version: ptr(int64(4)),
		}},
		RelatedCustomers: raws(`"0a5e1c44-1b7e-4a39-9f7e-4c6d2f3b1a00"`, `{"Id": "x", "Relation": "Spouse"}`),
		MemberOf:         raws(`"VIP \u00e9\"quoted\""`, `42`, `null`),
		Documents:        raws(),
		MergedCustomers:  raws(`"7e0c2d3f-8a41-4b6e-b2c9-d5f0e1a2b3c4"`),
		PrimaryName:      ptr("Zoë"), Title: ptr("Dr"), AlternateName: ptr("Z"), MiddleName: ptr("Q."),
		FamilyName: ptr("Ångström-日本"), ReferralSource: ptr("Walk-in"), Notes: ptr("tab\there, emoji 🌿"),
		UniqueIdentifier: ptr("D26152DA42"),
		Id:               "45B95F03-9774-4302-9212-018FF0FD33B5",
		CustomerTypeId:   ptr(int64(10)), CustomerType: ptr("Medical"),
		DateOfBirth:    ptr(ts("1955-01-20T00:01:00")),
		PricingGroupId: ptr(int64(3)), Disabled: ptr(false), DoNotContact: ptr(true),
		Version:              15,
		MergedIntoCustomerId: ptr("c1d2e3f4-0000-4000-8000-000000000001"),
		LastModifiedDateUtc:  ts("2024-11-07T08:46:32.0718006+00:00"),
		UnknownFields:        2,
	}
}

// nullCustomer has every nullable field null: only Id, Version and
// LastModifiedDateUtc, which Cova always sends.
func nullCustomer() *Customer {
	return &Customer{
		Id:                  "0b7c6a5e-4d3c-4b2a-9189-7f6e5d4c3b2a",
		Version:             1,
		LastModifiedDateUtc: ts("2018-06-05T02:41:56.61"),
	}
}

// quirksCustomer is the first record of Cova's help page sample as the poller reads
// it: "PricingGroupId": {} and "MergedIntoCustomerId": {} read as nil, the Object
// collections keep their {} elements, and the numeric "Zip": 1 reads as "1".
func quirksCustomer() *Customer {
	addr := Address{
		AddressLine1: ptr("sample string 1"), AddressLine2: ptr("sample string 2"), City: ptr("sample string 3"),
		StateName: ptr("sample string 4"), CountryName: ptr("sample string 5"), Zip: ptr("1"),
		Id: ptr("6aacf4a6-0fa1-4c22-accc-df9d991dd4a6"), CustomerId: ptr("d227e2f4-097e-4e08-8be9-aa95a848d05c"),
		AddressTypeId: ptr(int64(8)), AddressType: ptr("sample string 9"), Default: ptr(true), DoNotContact: ptr(true),
		CountryCode: ptr("sample string 12"), Country: ptr("sample string 13"), Locality: ptr("sample string 14"),
		StateCode: ptr("sample string 15"), State: ptr("sample string 16"), PostalCode: ptr("sample string 17"),
		PostOfficeBoxNumber: ptr("sample string 18"), StreetAddress1: ptr("sample string 19"),
		Notes: ptr("sample string 20"), StreetAddress2: ptr("sample string 21"), Version: ptr(int64(22)),
		AttentionTo: ptr("sample string 23"), Phone: ptr("sample string 24"), Email: ptr("sample string 25"),
	}
	cm := ContactMethod{
		Value: ptr("sample string 1"), Id: ptr("56eec8ae-c2ce-412b-86b2-94dfc227f605"),
		CustomerId: ptr("8b96ee6c-72fd-49c4-9395-3c08d9f9f559"), ContactMethodCategoryId: ptr(int64(4)),
		ContactMethodCategory: ptr("sample string 5"), ContactMethodTypeId: ptr(int64(6)),
		ContactMethodType: ptr("sample string 7"), DoNotContact: ptr(true), Default: ptr(true),
		Notes: ptr("sample string 10"), Version: ptr(int64(11)),
	}
	ext := CustomerExtension{
		Value: ptr("sample string 1"), Id: ptr("f2872cb8-3a60-4416-8259-37ade312de76"),
		CustomerId: ptr("b56047fe-e95a-47d4-a525-f61b941e1642"), ExtensionTypeId: ptr(int64(4)),
		ExtensionType: ptr("sample string 5"), ExtensionTypeFeature: ptr("sample string 6"), Version: ptr(int64(7)),
	}
	return &Customer{
		Addresses: []Address{addr, addr}, ContactMethods: []ContactMethod{cm, cm},
		CustomerExtensions: []CustomerExtension{ext, ext},
		RelatedCustomers:   raws(`{}`, `{}`), MemberOf: raws(`{}`, `{}`), Documents: raws(`{}`, `{}`),
		MergedCustomers: raws(`{}`, `{}`),
		PrimaryName:     ptr("sample string 1"), Title: ptr("sample string 2"), AlternateName: ptr("sample string 3"),
		MiddleName: ptr("sample string 4"), FamilyName: ptr("sample string 5"), ReferralSource: ptr("sample string 6"),
		Notes: ptr("sample string 7"), UniqueIdentifier: ptr("sample string 8"),
		Id:             "45b95f03-9774-4302-9212-018ff0fd33b5",
		CustomerTypeId: ptr(int64(10)), CustomerType: ptr("sample string 11"),
		DateOfBirth:    ptr(ts("2024-11-07T08:46:32.0718006+00:00")),
		PricingGroupId: nil, Disabled: ptr(true), DoNotContact: ptr(true), Version: 15,
		MergedIntoCustomerId: nil,
		LastModifiedDateUtc:  ts("2024-11-07T08:46:32.0718006+00:00"),
	}
}

// edgeCustomer exercises the corners of the encoding that the other fixtures
// miss: strings of 63, 64 and 200 bytes (a length of one byte or two), the
// extreme longs and the zig-zag boundaries around 64, empty collections next to
// null ones, array elements with every field null, raw elements that need
// unescaping, trimming or U+FFFD, a GUID in braces, date-times before 1970, and
// an unknown-field count beyond Avro's int.
func edgeCustomer() *Customer {
	s63, s64, s200 := strings.Repeat("a", 63), strings.Repeat("b", 64), strings.Repeat("é", 100)
	return &Customer{
		Addresses: []Address{{}, {
			AddressLine1: ptr(s63), AddressLine2: ptr(s64), City: ptr(s200), StateName: ptr(""),
			Zip: ptr("-0.5e3"), AddressTypeId: ptr(int64(math.MinInt64)), Default: ptr(false),
			DoNotContact: ptr(true), Version: ptr(int64(math.MaxInt64)), Email: ptr("\u00e9 is not unescaped"),
		}},
		ContactMethods: []ContactMethod{},
		CustomerExtensions: []CustomerExtension{{}, {
			Value: ptr("\x00\t\"\u2028"), ExtensionTypeId: ptr(int64(-64)), Version: ptr(int64(-65)),
		}},
		RelatedCustomers: raws(` "padded" `, "[1, {\"k\": \"v\"}]", "\"bad \xff utf8\"", `"esc\"aped\u00e9"`, `true`, `-1.5e3`),
		MemberOf:         nil,
		Documents:        raws(),
		MergedCustomers:  raws("\t{ }\n", "not json \xfe"),
		PrimaryName:      ptr(""), Title: ptr(s200), AlternateName: ptr(s64), MiddleName: ptr(s63),
		FamilyName: ptr("🌿"), ReferralSource: nil, Notes: ptr(strings.Repeat("line\n", 40)), UniqueIdentifier: nil,
		Id:             "{7E0C2D3F-8A41-4B6E-B2C9-D5F0E1A2B3C4}",
		CustomerTypeId: ptr(int64(63)), CustomerType: ptr(""),
		DateOfBirth:    ptr(ts("1900-02-28T23:59:59.9999999-08:00")),
		PricingGroupId: ptr(int64(64)), Disabled: ptr(true), DoNotContact: nil,
		Version:              math.MaxInt64,
		MergedIntoCustomerId: ptr(""),
		LastModifiedDateUtc:  ts("1969-12-31T23:59:59.9999999Z"),
		UnknownFields:        math.MaxInt32 + 5,
	}
}

// typicalCustomer is what a benchmark encodes: 2 addresses, 2 contact methods and
// 2 extensions, plain values, the usual nulls and empty collections of real data.
func typicalCustomer() *Customer {
	id := "9d2f7c1e-3b4a-4f6d-8e2c-1a0b9c8d7e6f"
	addr := func(line, city, postal string, def bool) Address {
		return Address{
			AddressLine1: ptr(line), AddressLine2: ptr(""), City: ptr(city), StateName: ptr("Washington"),
			CountryName: ptr("United States"), Zip: ptr(postal), Id: ptr("2f4e6a8c-0b1d-4e3f-a5b7-c9d1e3f5a7b9"),
			CustomerId: ptr(id), AddressTypeId: ptr(int64(1)), AddressType: ptr("Home"), Default: ptr(def),
			DoNotContact: ptr(false), CountryCode: ptr("US"), Country: ptr("United States"), Locality: ptr(city),
			StateCode: ptr("WA"), State: ptr("Washington"), PostalCode: ptr(postal), PostOfficeBoxNumber: nil,
			StreetAddress1: ptr(line), Notes: nil, StreetAddress2: ptr(""), Version: ptr(int64(2)),
			AttentionTo: nil, Phone: ptr("+1 206 555 0142"), Email: ptr("jordan.lee@example.com"),
		}
	}
	cm := func(v, cat, typ string, catID, typID int64) ContactMethod {
		return ContactMethod{
			Value: ptr(v), Id: ptr("7c9e1a3b-5d7f-4b9d-8f1a-3c5e7a9b1d3f"), CustomerId: ptr(id),
			ContactMethodCategoryId: ptr(catID), ContactMethodCategory: ptr(cat), ContactMethodTypeId: ptr(typID),
			ContactMethodType: ptr(typ), DoNotContact: ptr(false), Default: ptr(true), Notes: nil, Version: ptr(int64(1)),
		}
	}
	ext := func(v, typ string, typID int64) CustomerExtension {
		return CustomerExtension{
			Value: ptr(v), Id: ptr("1b3d5f7a-9c1e-4a3c-b5d7-f9a1c3e5b7d9"), CustomerId: ptr(id),
			ExtensionTypeId: ptr(typID), ExtensionType: ptr(typ), ExtensionTypeFeature: ptr("Dispensary"),
			Version: ptr(int64(1)),
		}
	}
	return &Customer{
		Addresses: []Address{
			addr("415 Pine St", "Seattle", "98101", true),
			addr("22 Harbor Ave SW", "Seattle", "98126", false),
		},
		ContactMethods: []ContactMethod{
			cm("+1 206 555 0142", "Phone", "Mobile", 1, 3),
			cm("jordan.lee@example.com", "Email", "Personal", 2, 7),
		},
		CustomerExtensions: []CustomerExtension{
			ext("1900041159009839", "CardNumber", 7),
			ext("2027-03-31", "MedicalCardExpiry", 9),
		},
		RelatedCustomers: raws(), MemberOf: raws(), Documents: raws(), MergedCustomers: raws(),
		PrimaryName: ptr("Jordan"), Title: ptr(""), AlternateName: nil, MiddleName: ptr("A"),
		FamilyName: ptr("Lee"), ReferralSource: ptr("Google"), Notes: ptr("Prefers pickup"),
		UniqueIdentifier: ptr("A7F3C91E20"), Id: id, CustomerTypeId: ptr(int64(1)), CustomerType: ptr("Recreational"),
		DateOfBirth: ptr(ts("1988-04-12T00:00:00")), PricingGroupId: nil, Disabled: ptr(false),
		DoNotContact: ptr(false), Version: 7, MergedIntoCustomerId: nil,
		LastModifiedDateUtc: ts("2024-05-17T18:22:03.4471234"),
	}
}

func eventOf(c *Customer, ct ChangeType, prev *int64) *CustomerChanged {
	ev := NewCustomerChanged(118833, c)
	ev.ChangeType = ct
	ev.PreviousVersion = prev
	ev.CapturedAt = time.Date(2024, 11, 7, 8, 47, 1, 234567891, time.UTC)
	ev.Source = Source{System: "cova", Endpoint: "/crm/v1/Companies(118833)/CustomerFull", ScanID: "scan-0001"}
	return &ev
}
