package covatest

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The fields Cova's help page documents, in its order. Records may carry fields
// added since between or after them (a field added to covacdc's schema is taught
// to record.go alone).
var (
	customerKeys = strings.Fields(`Addresses ContactMethods CustomerExtensions RelatedCustomers MemberOf Documents
		MergedCustomers PrimaryName Title AlternateName MiddleName FamilyName ReferralSource Notes UniqueIdentifier Id
		CustomerTypeId CustomerType DateOfBirth PricingGroupId Disabled DoNotContact Version MergedIntoCustomerId
		LastModifiedDateUtc`)
	addressKeys = strings.Fields(`AddressLine1 AddressLine2 City StateName CountryName Zip Id CustomerId AddressTypeId
		AddressType Default DoNotContact CountryCode Country Locality StateCode State PostalCode PostOfficeBoxNumber
		StreetAddress1 Notes StreetAddress2 Version AttentionTo Phone Email`)
	contactKeys = strings.Fields(`Value Id CustomerId ContactMethodCategoryId ContactMethodCategory ContactMethodTypeId
		ContactMethodType DoNotContact Default Notes Version`)
	extensionKeys = strings.Fields(`Value Id CustomerId ExtensionTypeId ExtensionType ExtensionTypeFeature Version`)

	lowerGUID = regexp.MustCompile(`^"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"$`)
	netTime   = regexp.MustCompile(`^"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,6}[1-9])?"$`)
)

// object reads a JSON object keeping its key order.
func object(t *testing.T, raw []byte) ([]string, map[string]json.RawMessage) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %.80s", raw)
	}
	var keys []string
	vals := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		vals[tok.(string)] = v
	}
	return keys, vals
}

func elements(t *testing.T, raw []byte) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("not an array: %.80s: %v", raw, err)
	}
	return out
}

func kind(raw json.RawMessage) string {
	switch {
	case string(raw) == "null":
		return "null"
	case string(raw) == `""`:
		return "empty"
	case string(raw) == "{}":
		return "{}"
	case raw[0] == '"':
		return "string"
	case raw[0] == '[' || raw[0] == '{':
		return "composite"
	case raw[0] == 't' || raw[0] == 'f':
		return "bool"
	}
	return "number"
}

// inOrder reports whether keys holds every one of want, in want's order, and
// each key once.
func inOrder(want, keys []string) bool {
	i := 0
	for j, k := range keys {
		if slices.Contains(keys[:j], k) {
			return false
		}
		if i < len(want) && want[i] == k {
			i++
		}
	}
	return i == len(want)
}

// TestRecordShape checks the generated customers against the documented shape
// and the variety real data shows.
func TestRecordShape(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Generate(1, 1000)
	s.SetHazards(Hazards{IgnorePaging: true})
	resp, body := get(t, s, token(t, s), 1, query(epoch, -1, -1))
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	seen := map[string]map[string]bool{} // field -> kinds seen
	note := func(field string, raw json.RawMessage) {
		if seen[field] == nil {
			seen[field] = map[string]bool{}
		}
		seen[field][kind(raw)] = true
	}
	var several, fracLens = 0, map[int]bool{}
	sizes := map[int]bool{}
	for _, el := range elements(t, body) {
		keys, v := object(t, el)
		if !inOrder(customerKeys, keys) {
			t.Fatalf("customer fields\n got %v\nwant %v", keys, customerKeys)
		}
		for _, k := range customerKeys {
			note(k, v[k])
		}
		if !lowerGUID.Match(v["Id"]) || string(v["Version"]) != "1" || !netTime.Match(v["LastModifiedDateUtc"]) {
			t.Fatalf("Id %s Version %s LastModifiedDateUtc %s", v["Id"], v["Version"], v["LastModifiedDateUtc"])
		}
		lm := strings.Trim(string(v["LastModifiedDateUtc"]), `"`)
		if _, frac, ok := strings.Cut(lm, "."); ok {
			fracLens[len(frac)] = true
		} else {
			fracLens[0] = true
		}
		if k := kind(v["DateOfBirth"]); k != "null" && !netTime.Match(v["DateOfBirth"]) {
			t.Fatalf("DateOfBirth %s", v["DateOfBirth"])
		}
		if k := kind(v["MergedIntoCustomerId"]); k == "string" && !lowerGUID.Match(v["MergedIntoCustomerId"]) {
			t.Fatalf("MergedIntoCustomerId %s", v["MergedIntoCustomerId"])
		}
		for _, coll := range []string{"RelatedCustomers", "MemberOf", "Documents", "MergedCustomers"} {
			if len(elements(t, v[coll])) > 0 {
				note(coll+"[]", v[coll])
			}
		}
		n := 0
		for _, sub := range []struct {
			field string
			keys  []string
		}{{"Addresses", addressKeys}, {"ContactMethods", contactKeys}, {"CustomerExtensions", extensionKeys}} {
			items := elements(t, v[sub.field])
			sizes[len(items)] = true
			if len(items) > 3 {
				t.Fatalf("%d %s", len(items), sub.field)
			}
			if len(items) >= 2 {
				n++
			}
			for _, it := range items {
				keys, iv := object(t, it)
				if !inOrder(sub.keys, keys) {
					t.Fatalf("%s fields\n got %v\nwant %v", sub.field, keys, sub.keys)
				}
				if string(iv["CustomerId"]) != string(v["Id"]) || !lowerGUID.Match(iv["Id"]) {
					t.Fatalf("%s Id %s CustomerId %s of customer %s", sub.field, iv["Id"], iv["CustomerId"], v["Id"])
				}
				for _, k := range sub.keys {
					note(sub.field+"."+k, iv[k])
				}
			}
		}
		if n > 0 {
			several++
		}
	}
	if several < 500 {
		t.Errorf("only %d of 1000 customers have several addresses, contact methods or extensions", several)
	}
	if !sizes[0] || !sizes[1] || !sizes[2] || !sizes[3] {
		t.Errorf("collection sizes seen %v, want 0 to 3", sizes)
	}
	for i := range 8 {
		if !fracLens[i] {
			t.Errorf("no LastModifiedDateUtc with %d fraction digits", i)
		}
	}
	want := map[string][]string{
		"PrimaryName":                             {"string", "null", "empty"},
		"Notes":                                   {"string", "null", "empty"},
		"DateOfBirth":                             {"string", "null"},
		"PricingGroupId":                          {"null", "number", "{}"},
		"MergedIntoCustomerId":                    {"null", "string", "{}"},
		"Addresses.Zip":                           {"number", "null"},
		"Addresses.StreetAddress2":                {"string", "null", "empty"},
		"CustomerExtensions.Value":                {"string"},
		"RelatedCustomers[]":                      {"composite"},
		"MergedCustomers[]":                       {"composite"},
		"ContactMethods.Value":                    {"string", "empty"},
		"Disabled":                                {"bool"},
		"ContactMethods.Default":                  {"bool"},
		"Addresses.AddressTypeId":                 {"number"},
		"CustomerExtensions.ExtensionTypeFeature": {"string", "null"},
	}
	for field, kinds := range want {
		for _, k := range kinds {
			if !seen[field][k] {
				t.Errorf("%s: never %s (saw %v)", field, k, slices.Sorted(maps.Keys(seen[field])))
			}
		}
		if field == "Addresses.Zip" || field == "CustomerExtensions.Value" || field == "Disabled" {
			if len(seen[field]) != len(kinds) {
				t.Errorf("%s: kinds %v, want only %v", field, slices.Sorted(maps.Keys(seen[field])), kinds)
			}
		}
	}
}

func TestGroundTruth(t *testing.T) {
	clock := newFakeClock(time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC))
	s := newTestServer(t, Config{Now: clock.Now})
	s.Generate(1, 300)
	s.Generate(2, 10)
	clock.Advance(time.Minute)
	modified := s.Modify(1, 40)
	if len(modified) != 40 || len(slices.Compact(slices.Sorted(slices.Values(modified)))) != 40 {
		t.Fatalf("Modify returned %d ids, want 40 distinct", len(modified))
	}
	s.ModifyID(1, modified[0])
	if s.ModifyID(1, "00000000-0000-0000-0000-000000000000") || s.ModifyID(3, modified[0]) || s.Modify(3, 1) != nil {
		t.Fatal("modified an unknown customer or company")
	}
	truth := s.Truth(1)
	if len(truth) != 300 || truth[modified[0]] != 3 || truth[modified[1]] != 2 {
		t.Fatalf("truth has %d customers, versions %d and %d; want 300, 3 and 2", len(truth), truth[modified[0]], truth[modified[1]])
	}
	tok := token(t, s)
	var served []Served
	for round := range 2 { // a second scan repeats every row in Served
		for skip := 0; skip < 300; skip += 100 {
			_, body := get(t, s, tok, 1, query(epoch, skip, 100))
			for _, el := range elements(t, body) {
				var r rec
				_ = json.Unmarshal(el, &r)
				if r.Version != truth[r.ID] {
					t.Fatalf("round %d: %s served at version %d, truth %d", round, r.ID, r.Version, truth[r.ID])
				}
				if rec, _ := s.Record(1, r.ID); rec != string(el) {
					t.Fatalf("Record(%s) differs from what was served", r.ID)
				}
				served = append(served, Served{CompanyID: 1, ID: r.ID, Version: r.Version})
			}
		}
	}
	if got := s.Served(1); !slices.Equal(got, served) {
		t.Fatalf("Served has %d entries, the client saw %d (or in another order)", len(got), len(served))
	}
	if len(s.Served(2)) != 0 {
		t.Fatal("company 2 was never asked for, yet Served lists rows")
	}
	if st := s.Stats(); st.RowsServed != 600 || st.CustomerFullRequests != 6 || st.ByStatus[200] != 6 {
		t.Fatalf("stats %+v", st)
	}

	// A modification changes a field besides Version and LastModifiedDateUtc.
	before, _ := s.Record(1, modified[2])
	clock.Advance(time.Second)
	s.ModifyID(1, modified[2])
	after, _ := s.Record(1, modified[2])
	_, b := object(t, []byte(before))
	_, a := object(t, []byte(after))
	if string(a["Version"]) != "3" || string(a["LastModifiedDateUtc"]) != `"2024-06-01T10:01:01"` {
		t.Fatalf("after ModifyID: Version %s LastModifiedDateUtc %s", a["Version"], a["LastModifiedDateUtc"])
	}
	delete(a, "Version")
	delete(a, "LastModifiedDateUtc")
	delete(b, "Version")
	delete(b, "LastModifiedDateUtc")
	if maps.EqualFunc(a, b, func(x, y json.RawMessage) bool { return bytes.Equal(x, y) }) {
		t.Fatal("a modification changed nothing but Version and LastModifiedDateUtc")
	}
}

func TestAddRaw(t *testing.T) {
	s := newTestServer(t, Config{Order: OrderModified})
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	first := s.Burst(1, 1, base)[0]
	last := s.Burst(1, 1, base.Add(2*time.Hour))[0]
	raw := `{"Id":"not-a-guid","Version":"seven"}`
	s.AddRaw(1, "not-a-guid", base.Add(time.Hour), raw)
	s.AddRaw(1, "", base.Add(3*time.Hour), `{"Version":1}`)
	tok := token(t, s)
	_, body := get(t, s, tok, 1, query(epoch, -1, -1))
	els := elements(t, body)
	if len(els) != 4 || string(els[1]) != raw || string(els[3]) != `{"Version":1}` {
		t.Fatalf("raw records not served in place: %d elements", len(els))
	}
	var r rec
	_ = json.Unmarshal(els[0], &r)
	if r.ID != first {
		t.Fatal("order broken around a raw record")
	}
	_ = json.Unmarshal(els[2], &r)
	if r.ID != last {
		t.Fatal("order broken around a raw record")
	}
	if truth := s.Truth(1); len(truth) != 2 {
		t.Fatalf("Truth holds %d customers, want the 2 real ones", len(truth))
	}
	if got := s.Served(1); len(got) != 4 || got[1] != (Served{CompanyID: 1, ID: "not-a-guid"}) {
		t.Fatalf("Served %v", got)
	}
	if got := fetchPage(t, s, tok, 1, query("2024-01-01T02:30:00", -1, -1)); len(got) != 1 {
		t.Fatalf("filter over raw records: %d rows, want 1", len(got))
	}
}

func TestDeterministic(t *testing.T) {
	at := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	build := func(seed int64) (*Simulator, []string) {
		s := New(Config{Seed: seed, Now: func() time.Time { return at }})
		ids := s.Generate(1, 50)
		s.Modify(1, 10)
		return s, append(ids, s.Insert(1, 5)...)
	}
	a, idsA := build(3)
	b, idsB := build(3)
	_, idsC := build(4)
	if !slices.Equal(idsA, idsB) || slices.Equal(idsA, idsC) {
		t.Fatal("Ids do not follow the seed")
	}
	if !maps.Equal(a.Truth(1), b.Truth(1)) {
		t.Fatal("same seed, different modifications")
	}
	for _, id := range idsA {
		ra, _ := a.Record(1, id)
		rb, _ := b.Record(1, id)
		if ra != rb {
			t.Fatalf("same seed, different record for %s", id)
		}
	}
}

func TestTrickle(t *testing.T) {
	s := New(Config{})
	s.Generate(1, 20)
	before := s.Truth(1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Trickle(ctx, 1, 400)
	}()
	time.Sleep(150 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Trickle did not return after its context ended")
	}
	after := s.Truth(1)
	changes := int64(len(after)-len(before)) + sumVersions(after) - int64(len(after)) - (sumVersions(before) - int64(len(before)))
	if changes == 0 || len(after) == len(before) || sumVersions(after)-int64(len(after)) == 0 {
		t.Fatalf("Trickle made %d changes (%d inserts), want both inserts and modifications", changes, len(after)-len(before))
	}
}

// TestRestoreBackup sets three customers back by two Versions (one of them to
// no less than 1), last modified now: Truth and a scan from now show the
// lower Versions, and a later Modify goes on from them.
func TestRestoreBackup(t *testing.T) {
	clock := newFakeClock(time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC))
	s := newTestServer(t, Config{Now: clock.Now})
	ids := s.Generate(1, 50)
	for range 3 {
		s.ModifyID(1, ids[0])
		s.ModifyID(1, ids[1])
	}
	clock.Advance(time.Minute)
	since := clock.Now().Format("2006-01-02T15:04:05")
	if got := s.RestoreBackup(1, 2, ids[0], ids[1], ids[2], "00000000-0000-0000-0000-000000000000"); !slices.Equal(got, ids[:3]) {
		t.Fatalf("RestoreBackup returned %v, want the 3 known ids", got)
	}
	truth := s.Truth(1)
	if truth[ids[0]] != 2 || truth[ids[1]] != 2 || truth[ids[2]] != 1 {
		t.Errorf("versions after the restore %d, %d, %d; want 2, 2, 1", truth[ids[0]], truth[ids[1]], truth[ids[2]])
	}
	_, body := get(t, s, token(t, s), 1, query(since, 0, 100))
	if n := len(elements(t, body)); n != 3 {
		t.Errorf("a scan from the restore's time serves %d customers, want the 3 restored", n)
	}
	s.ModifyID(1, ids[0])
	if v := s.Truth(1)[ids[0]]; v != 3 {
		t.Errorf("version after a Modify %d, want 3", v)
	}
}
