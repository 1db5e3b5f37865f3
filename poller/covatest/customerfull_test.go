package covatest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestFilterLiterals(t *testing.T) {
	s := newTestServer(t, Config{Order: OrderModified})
	t0 := time.Date(2024, 3, 1, 12, 0, 0, 123456700, time.UTC)
	before := s.Burst(1, 1, t0.Add(-100*time.Nanosecond))[0]
	at := s.Burst(1, 1, t0)[0]
	after := s.Burst(1, 1, t0.Add(100*time.Nanosecond))[0]
	tok := token(t, s)
	for _, tc := range []struct {
		literal string
		want    []string
	}{
		{"2024-03-01T12:00:00", []string{before, at, after}},
		{"2024-03-01T12:00:00.1", []string{before, at, after}},
		{"2024-03-01T12:00:00.12", []string{before, at, after}},
		{"2024-03-01T12:00:00.123", []string{before, at, after}},
		{"2024-03-01T12:00:00.1234", []string{before, at, after}},
		{"2024-03-01T12:00:00.12345", []string{before, at, after}},
		{"2024-03-01T12:00:00.123456", []string{before, at, after}},
		{"2024-03-01T12:00:00.1234566", []string{before, at, after}},
		{"2024-03-01T12:00:00.1234567", []string{at, after}}, // >= : the row at the literal matches
		{"2024-03-01T12:00:00.1234568Z", []string{after}},
		{"2024-03-01T12:00:00.1234569z", nil},
		{"2024-03-01T12:00:00.2", nil},
		{"2024-03-01T14:00:00.1234567+02:00", []string{at, after}},
		{"2024-03-01T07:00:00.1234568-05:00", []string{after}},
		{"2024-03-01T12:00:00.1234567+00:00", []string{at, after}},
		{"2024-03-01T12:00:00.1234567-00:01", nil},
		{"0001-01-01T00:00:00", []string{before, at, after}},
	} {
		t.Run(tc.literal, func(t *testing.T) {
			got := ids(fetchPage(t, s, tok, 1, query(tc.literal, -1, -1)))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterMalformed(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Generate(1, 5)
	tok := token(t, s)
	enc := func(f string) string { return "$filter=" + url.QueryEscape(f) }
	for _, q := range []string{
		"",                               // no $filter at all
		"LastModifiedDateUtc=2024-01-01", // the help page's URI template, which is not a filter
		enc("LastModifiedDateUtc gt datetime'2024-01-01T00:00:00'"),
		enc("LastModifiedDateUtc ge '2024-01-01T00:00:00'"),
		enc("LastModifiedDateUtc ge datetime'2024-01-01T00:00:00"),
		enc("LastModifiedDateUtc ge datetime'2024-01-01T00:00:00' and Version ge 1"),
		enc("LastModifiedDateUtc ge datetime''"),
		enc("LastModifiedDateUtc ge datetime'2024-01-01 00:00:00'"),
		enc("LastModifiedDateUtc ge datetime'2024-01-01T00:00'"),
		enc("LastModifiedDateUtc ge datetime'2024-01-01T00:00:00.'"),
		enc("LastModifiedDateUtc ge datetime'2024-01-01T00:00:00.12345678'"),
		enc("LastModifiedDateUtc ge datetime'2024-13-01T00:00:00'"),
		enc("LastModifiedDateUtc ge datetime'2023-02-29T00:00:00'"),
		enc("LastModifiedDateUtc ge datetime'2024-01-01T24:00:00'"),
		enc("LastModifiedDateUtc ge datetime'2024-01-01T00:00:00+0200'"),
		enc("LastModifiedDateUtc ge datetime'2024-01-01T00:00:00+02'"),
		enc("LastModifiedDateUtc ge datetime'2024-01-01T00:00:00ZZ'"),
		enc("LastModifiedDateUtc ge datetime'2024-01-01T00:00:00 UTC'"),
		// An offset whose + was not URL-encoded arrives as a space.
		"$filter=LastModifiedDateUtc%20ge%20datetime'2024-01-01T00:00:00+02:00'",
		"$filter=%zz",
		query(epoch, -1, -1) + "&$filter=" + url.QueryEscape("LastModifiedDateUtc ge datetime'"+epoch+"'"),
		query(epoch, -1, -1) + "&$top=ten",
		query(epoch, -1, -1) + "&$skip=-1",
		query(epoch, -1, -1) + "&$skip=1.5",
	} {
		t.Run(q, func(t *testing.T) {
			resp, body := get(t, s, tok, 1, q)
			var msg struct{ Message string }
			if resp.StatusCode != http.StatusBadRequest || json.Unmarshal(body, &msg) != nil || msg.Message == "" {
				t.Fatalf("HTTP %d %s, want 400 with a Message", resp.StatusCode, body)
			}
		})
	}
	if got := s.Stats().ByStatus[http.StatusBadRequest]; got == 0 {
		t.Error("Stats did not count the 400s")
	}
}

func TestNotFound(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Generate(1, 1)
	tok := token(t, s)
	resp, body := get(t, s, tok, 2, query(epoch, -1, -1))
	if resp.StatusCode != http.StatusNotFound || string(body) != `{"Message":"Resource cannot be found"}` {
		t.Fatalf("unknown company: HTTP %d %s", resp.StatusCode, body)
	}
	r, err := http.Get(s.URL + "/crm/v1/Companies(1)/Customers")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown resource: HTTP %d", r.StatusCode)
	}
}

func TestTopAndSkip(t *testing.T) {
	s := newTestServer(t, Config{})
	all := s.Generate(1, 250)
	tok := token(t, s)
	for _, tc := range []struct {
		name      string
		skip, top int
		want      int
	}{
		{"defaults", -1, -1, 50},
		{"top 0", -1, 0, 0},
		{"top 1", -1, 1, 1},
		{"top 100", -1, 100, 100},
		{"top 101 becomes 100", -1, 101, 100},
		{"top 5000 becomes 100", -1, 5000, 100},
		{"top -1 becomes 100", -1, -1 << 20, 100},
		{"skip near the end", 240, 100, 10},
		{"skip past the end", 300, 100, 0},
		{"skip with the default top", 10, -1, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := tc.top
			q := query(epoch, tc.skip, -1)
			if top != -1 {
				q += "&$top=" + strconv.Itoa(top)
			}
			got := fetchPage(t, s, tok, 1, q)
			if len(got) != tc.want {
				t.Fatalf("%d rows, want %d", len(got), tc.want)
			}
		})
	}
	resp, body := get(t, s, tok, 1, query(epoch, 300, 100))
	if string(body) != "[]" || resp.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("empty page: %q %q, want [] as application/json", body, resp.Header.Get("Content-Type"))
	}
	var scanned []string
	for skip := 0; ; skip += 100 {
		p := fetchPage(t, s, tok, 1, query(epoch, skip, 100))
		scanned = append(scanned, ids(p)...)
		if len(p) < 100 {
			break
		}
	}
	slices.Sort(scanned)
	slices.Sort(all)
	if !slices.Equal(scanned, all) {
		t.Fatalf("paging through a quiet company returned %d ids, want the %d generated once each", len(scanned), len(all))
	}
}

// sqlLess is SQL Server's uniqueidentifier order, written here from its
// definition (bytes 10-15, 8-9, 6-7, 4-5, 0-3 of Guid.ToByteArray, whose first
// three groups are little-endian) independently of the simulator's sort key.
func sqlLess(a, b string) bool {
	bytesOf := func(s string) []byte {
		var out []byte
		h := strings.ReplaceAll(s, "-", "")
		for i := 0; i < 32; i += 2 {
			var v byte
			for _, c := range h[i : i+2] {
				v <<= 4
				switch {
				case c >= '0' && c <= '9':
					v |= byte(c - '0')
				default:
					v |= byte(c-'a') + 10
				}
			}
			out = append(out, v)
		}
		// ToByteArray: reverse the first three groups.
		slices.Reverse(out[0:4])
		slices.Reverse(out[4:6])
		slices.Reverse(out[6:8])
		return out
	}
	x, y := bytesOf(a), bytesOf(b)
	for _, i := range []int{10, 11, 12, 13, 14, 15, 8, 9, 6, 7, 4, 5, 0, 1, 2, 3} {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

func TestOrderGUID(t *testing.T) {
	s := newTestServer(t, Config{Order: OrderGUID})
	// SQL Server's order: the last group counts most, then the fourth (both read
	// left to right), then the first three groups, each compared byte-reversed.
	want := []string{
		"01000000-0000-0000-0000-000000000000",
		"00000001-0000-0000-0000-000000000000",
		"00000000-0100-0000-0000-000000000000",
		"00000000-0001-0000-0000-000000000000",
		"00000000-0000-0100-0000-000000000000",
		"00000000-0000-0001-0000-000000000000",
		"00000000-0000-0000-0001-000000000000",
		"00000000-0000-0000-0100-000000000000",
		"00000000-0000-0000-0000-000000000001",
		"00000000-0000-0000-0000-010000000000",
	}
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, i := range []int{5, 2, 9, 0, 7, 1, 8, 3, 6, 4} {
		s.AddRaw(1, want[i], at, `{"Id":"`+want[i]+`","Version":1}`)
	}
	tok := token(t, s)
	if got := ids(fetchPage(t, s, tok, 1, query(epoch, -1, 100))); !slices.Equal(got, want) {
		t.Fatalf("order\n got %v\nwant %v", got, want)
	}

	s2 := newTestServer(t, Config{Order: OrderGUID})
	s2.Generate(1, 300)
	s2.Modify(1, 50) // modifications do not move rows in Id order
	tok2 := token(t, s2)
	var got []string
	for skip := 0; skip < 300; skip += 100 {
		got = append(got, ids(fetchPage(t, s2, tok2, 1, query(epoch, skip, 100)))...)
	}
	if len(got) != 300 || !slices.IsSortedFunc(got, func(a, b string) int {
		if sqlLess(a, b) {
			return -1
		}
		return 1
	}) {
		t.Fatalf("%d generated rows not in SQL Server uniqueidentifier order", len(got))
	}
}

func TestOrderModified(t *testing.T) {
	clock := newFakeClock(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	s := newTestServer(t, Config{Order: OrderModified, Now: clock.Now})
	s.Generate(1, 200)
	s.Burst(1, 20, clock.Now().Add(-time.Hour)) // ties are broken by Id
	tok := token(t, s)
	rows := fetchPage(t, s, tok, 1, query(epoch, -1, 100))
	rows = append(rows, fetchPage(t, s, tok, 1, query(epoch, 100, 100))...)
	rows = append(rows, fetchPage(t, s, tok, 1, query(epoch, 200, 100))...)
	if len(rows) != 220 {
		t.Fatalf("%d rows, want 220", len(rows))
	}
	for i := 1; i < len(rows); i++ {
		a, b := parseNetTime(t, rows[i-1].LastModifiedDateUtc), parseNetTime(t, rows[i].LastModifiedDateUtc)
		if a.After(b) || a.Equal(b) && !sqlLess(rows[i-1].ID, rows[i].ID) {
			t.Fatalf("rows %d and %d out of (LastModifiedDateUtc, Id) order", i-1, i)
		}
	}
	moved := rows[0].ID
	clock.Advance(time.Minute)
	s.ModifyID(1, moved)
	rows = fetchPage(t, s, tok, 1, query(epoch, 200, 100))
	if last := rows[len(rows)-1]; last.ID != moved || last.Version != 2 {
		t.Fatalf("a modified row did not move to the end: last is %+v", last)
	}
}

func TestOrderRandom(t *testing.T) {
	s := newTestServer(t, Config{Order: OrderRandom, Seed: 7})
	s.Generate(1, 100)
	tok := token(t, s)
	first := fetchPage(t, s, tok, 1, query(epoch, -1, 100))
	s.Modify(1, 30)
	second := fetchPage(t, s, tok, 1, query(epoch, -1, 100))
	if !slices.Equal(ids(first), ids(second)) {
		t.Fatal("the random order is not stable across requests and modifications")
	}
	byGUID := slices.IsSortedFunc(ids(first), func(a, b string) int {
		if sqlLess(a, b) {
			return -1
		}
		return 1
	})
	byTime := slices.IsSortedFunc(first, func(a, b rec) int { return strings.Compare(a.LastModifiedDateUtc, b.LastModifiedDateUtc) })
	if byGUID || byTime {
		t.Fatalf("random order is sorted (by Id %v, by time %v)", byGUID, byTime)
	}
}

// TestPagingHazardIsReal shows what the client must survive: with rows moving
// between pages, plain $skip paging misses rows that matched the whole time.
func TestPagingHazardIsReal(t *testing.T) {
	clock := newFakeClock(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	s := newTestServer(t, Config{Order: OrderModified, Now: clock.Now})
	before := s.Generate(1, 100)
	s.SetHazards(Hazards{ModifyPerPage: 5})
	tok := token(t, s)
	seen := map[string]bool{}
	for skip := 0; ; skip += 10 {
		p := fetchPage(t, s, tok, 1, query(epoch, skip, 10))
		for _, r := range p {
			seen[r.ID] = true
		}
		if len(p) < 10 {
			break
		}
	}
	missed := 0
	for _, id := range before {
		if !seen[id] {
			missed++
		}
	}
	if missed == 0 {
		t.Fatal("naive $skip paging saw every row although rows moved between pages")
	}
}

// TestFilteredPagesFollowChanges checks that a filtered scan reflects rows
// modified and inserted between its pages exactly as a fresh evaluation of the
// filter would.
func TestFilteredPagesFollowChanges(t *testing.T) {
	for _, order := range []Order{OrderGUID, OrderRandom, OrderModified} {
		t.Run(strconv.Itoa(int(order)), func(t *testing.T) {
			clock := newFakeClock(time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
			s := newTestServer(t, Config{Now: clock.Now, Order: order})
			s.Generate(1, 400)
			since := "2024-03-01T00:00:00"
			tok := token(t, s)
			s.SetHazards(Hazards{ModifyPerPage: 3, InsertPerPage: 2, LateVisiblePerPage: 1, LateBy: 200 * 24 * time.Hour})
			for skip := 0; skip < 300; skip += 50 {
				fetchPage(t, s, tok, 1, query(since, skip, 50))
				clock.Advance(time.Second)
			}
			s.SetHazards(Hazards{})
			var got []string
			for skip := 0; ; skip += 100 {
				p := fetchPage(t, s, tok, 1, query(since, skip, 100))
				got = append(got, ids(p)...)
				if len(p) < 100 {
					break
				}
			}
			// The expected result, from the records themselves.
			cut := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
			var want []string
			for id := range s.Truth(1) {
				raw, _ := s.Record(1, id)
				var r rec
				_ = json.Unmarshal([]byte(raw), &r)
				if !parseNetTime(t, r.LastModifiedDateUtc).Before(cut) {
					want = append(want, id)
				}
			}
			slices.Sort(want)
			sorted := slices.Sorted(slices.Values(got))
			if !slices.Equal(sorted, want) {
				t.Fatalf("filtered scan returned %d rows, the filter matches %d", len(got), len(want))
			}
			if order == OrderGUID && !slices.IsSortedFunc(got, func(a, b string) int {
				if sqlLess(a, b) {
					return -1
				}
				return 1
			}) {
				t.Fatal("rows out of uniqueidentifier order after changes")
			}
		})
	}
}
