package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/poller"
)

// goavroBody is the reference encoding: goavro's BinaryFromNative of the native form.
func goavroBody(t testing.TB, ev *Event) []byte {
	t.Helper()
	rs, err := writer()
	if err != nil {
		t.Fatal(err)
	}
	b, err := rs.codec.BinaryFromNative(nil, nativeEvent(ev))
	if err != nil {
		t.Fatalf("goavro cannot encode the event: %v", err)
	}
	return b
}

func TestDirectEncoderMatchesGoavro(t *testing.T) {
	prev := int64(14)
	cases := map[string]*Event{
		"full":    eventOf(fullCustomer(), Updated, &prev),
		"null":    eventOf(nullCustomer(), Snapshot, nil),
		"quirks":  eventOf(quirksCustomer(), Created, nil),
		"typical": eventOf(typicalCustomer(), Updated, &prev),
		"edge":    edgeEvent(),
	}
	for name, ev := range cases {
		t.Run(name, func(t *testing.T) {
			want := goavroBody(t, ev)
			if got := appendEvent(nil, ev); !bytes.Equal(got, want) {
				t.Fatalf("direct encoding differs from goavro at byte %d\n got % x\nwant % x", firstDiff(got, want), got, want)
			}
		})
	}
	rng := rand.New(rand.NewPCG(2024, 11))
	for i := range 500 {
		ev := randomEvent(rng)
		want := goavroBody(t, ev)
		if got := appendEvent(nil, ev); !bytes.Equal(got, want) {
			c, _ := json.Marshal(ev)
			t.Fatalf("random event %d: direct encoding differs from goavro at byte %d\nevent %s", i, firstDiff(got, want), c)
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

var randomStrings = []string{"", "a", "Zoë", "日本語", "\"quoted\"\n", "🌿", strings.Repeat("y", 63), strings.Repeat("z", 64), strings.Repeat("x", 70), strings.Repeat("é", 200)}

func randomEvent(r *rand.Rand) *Event {
	str := func() *string {
		if r.IntN(3) == 0 {
			return nil
		}
		s := randomStrings[r.IntN(len(randomStrings))]
		return &s
	}
	long := func() *int64 {
		switch r.IntN(5) {
		case 0:
			return nil
		case 1:
			v := []int64{0, -1, 1, 63, 64, -64, -65, math.MaxInt64, math.MinInt64}[r.IntN(9)]
			return &v
		}
		v := r.Int64() >> r.IntN(63)
		if r.IntN(2) == 0 {
			v = -v
		}
		return &v
	}
	boolean := func() *bool {
		if r.IntN(3) == 0 {
			return nil
		}
		v := r.IntN(2) == 0
		return &v
	}
	raw := func() []json.RawMessage {
		if r.IntN(3) == 0 {
			return nil
		}
		elems := []string{`{}`, `"a"`, `"esc\"aped\u00e9"`, `12.5`, `null`, `[1, {"k": "v"}]`, ` "padded" `, `true`, "\"bad \xff utf8\""}
		out := make([]json.RawMessage, r.IntN(4))
		for i := range out {
			out[i] = json.RawMessage(elems[r.IntN(len(elems))])
		}
		return out
	}
	instant := func() time.Time {
		return time.Unix(r.Int64N(8e9)-4e9, r.Int64N(1e9)).UTC()
	}
	c := &poller.Customer{
		RelatedCustomers: raw(), MemberOf: raw(), Documents: raw(), MergedCustomers: raw(),
		PrimaryName: str(), Title: str(), AlternateName: str(), MiddleName: str(), FamilyName: str(),
		ReferralSource: str(), Notes: str(), UniqueIdentifier: str(),
		Id: fmt.Sprintf("%08X-0000-4000-8000-%012x", r.Uint32(), r.Uint64()>>16), CustomerTypeId: long(),
		CustomerType: str(), PricingGroupId: long(), Disabled: boolean(), DoNotContact: boolean(),
		Version: r.Int64(), MergedIntoCustomerId: str(),
		LastModifiedDateUtc: poller.Timestamp{Raw: "2019-01-01T00:00:00.1234567", Time: instant()},
		UnknownFields:       r.IntN(3) * r.IntN(1000),
	}
	if r.IntN(2) == 0 {
		c.DateOfBirth = &poller.Timestamp{Raw: *ptrOr(str(), "1990-01-01T00:00:00"), Time: instant()}
	}
	if r.IntN(4) != 0 {
		c.Addresses = make([]poller.Address, r.IntN(3))
		for i := range c.Addresses {
			c.Addresses[i] = poller.Address{
				AddressLine1: str(), AddressLine2: str(), City: str(), StateName: str(), CountryName: str(),
				Zip: str(), Id: str(), CustomerId: str(), AddressTypeId: long(), AddressType: str(),
				Default: boolean(), DoNotContact: boolean(), CountryCode: str(), Country: str(), Locality: str(),
				StateCode: str(), State: str(), PostalCode: str(), PostOfficeBoxNumber: str(),
				StreetAddress1: str(), Notes: str(), StreetAddress2: str(), Version: long(), AttentionTo: str(),
				Phone: str(), Email: str(),
			}
		}
	}
	if r.IntN(4) != 0 {
		c.ContactMethods = make([]poller.ContactMethod, r.IntN(3))
		for i := range c.ContactMethods {
			c.ContactMethods[i] = poller.ContactMethod{
				Value: str(), Id: str(), CustomerId: str(), ContactMethodCategoryId: long(),
				ContactMethodCategory: str(), ContactMethodTypeId: long(), ContactMethodType: str(),
				DoNotContact: boolean(), Default: boolean(), Notes: str(), Version: long(),
			}
		}
	}
	if r.IntN(4) != 0 {
		c.CustomerExtensions = make([]poller.CustomerExtension, r.IntN(3))
		for i := range c.CustomerExtensions {
			c.CustomerExtensions[i] = poller.CustomerExtension{
				Value: str(), Id: str(), CustomerId: str(), ExtensionTypeId: long(), ExtensionType: str(),
				ExtensionTypeFeature: str(), Version: long(),
			}
		}
	}
	return &Event{
		ChangeType: ChangeType(r.IntN(3)), CompanyID: r.Int64() >> r.IntN(63), PreviousVersion: long(),
		CapturedAt: instant(),
		Source:     Source{System: "cova", Endpoint: *ptrOr(str(), ""), ScanID: *ptrOr(str(), "s")},
		Customer:   c,
	}
}

func ptrOr(p *string, def string) *string {
	if p == nil {
		return &def
	}
	return p
}

func TestAppendRejectsBadEvents(t *testing.T) {
	enc, err := NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	for name, ev := range map[string]*Event{
		"nil event":      nil,
		"no customer":    {ChangeType: Created},
		"bad changeType": {ChangeType: 3, Customer: nullCustomer()},
	} {
		t.Run(name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := enc.Append(dst, ev)
			if err == nil {
				t.Fatal("no error")
			}
			if string(out) != "keep" {
				t.Errorf("dst changed to %q", out)
			}
		})
	}
}

// Times are truncated to the tick, never rounded into the next one, before 1970 too.
func TestTimestampsTruncate(t *testing.T) {
	c := nullCustomer()
	c.LastModifiedDateUtc = ts("1969-12-31T23:59:59.9999999Z")
	ev := eventOf(c, Snapshot, nil)
	ev.CapturedAt = time.Date(2024, 1, 1, 0, 0, 0, 999999999, time.UTC)
	b, err := mustEncoder(t).Append(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	js := decodeToMap(t, b)
	if got := js["lastModifiedDateUtc"]; got != "1969-12-31T23:59:59.999999Z" {
		t.Errorf("lastModifiedDateUtc %v", got)
	}
	if got := js["capturedAt"]; got != "2024-01-01T00:00:00.999Z" {
		t.Errorf("capturedAt %v", got)
	}
	if got := js["customer"].(map[string]any)["LastModifiedDateUtc"]; got != "1969-12-31T23:59:59.9999999Z" {
		t.Errorf("customer.LastModifiedDateUtc %v, want Cova's exact text", got)
	}
}

func mustEncoder(t testing.TB) *Encoder {
	t.Helper()
	enc, err := NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func decodeToMap(t testing.TB, b []byte) map[string]any {
	t.Helper()
	d, err := NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	js, err := d.JSON(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatalf("Decoder.JSON gave invalid JSON %s: %v", js, err)
	}
	return m
}
