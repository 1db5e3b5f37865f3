package schema

import (
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2018-04-01T00:00:00", time.Date(2018, 4, 1, 0, 0, 0, 0, time.UTC)},
		{"2018-06-05T02:41:56.6", time.Date(2018, 6, 5, 2, 41, 56, 600_000_000, time.UTC)},
		{"2018-10-02T01:21:35.2186943Z", time.Date(2018, 10, 2, 1, 21, 35, 218_694_300, time.UTC)},
		{"2018-10-02T01:21:35.2186943+00:00", time.Date(2018, 10, 2, 1, 21, 35, 218_694_300, time.UTC)},
		{"2018-10-02T01:21:35-07:00", time.Date(2018, 10, 2, 8, 21, 35, 0, time.UTC)},
		{"2019-01-01T00:00:00z", time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		ts, err := ParseTimestamp(tc.in)
		if err != nil || !ts.Time.Equal(tc.want) || ts.Time.Location() != time.UTC || ts.Raw != tc.in {
			t.Errorf("ParseTimestamp(%q) = %v, %v; want %v", tc.in, ts.Time, err, tc.want)
		}
	}
	for _, bad := range []string{"", "2018-02-30T00:00:00", "2018-13-01T00:00:00", "2018-01-01", "2018-01-01T00:00:00.", "2018-01-01T00:00:00+5", "2018-01-01T24:00:00", "2018-01-01T00:00:00.1234567890"} {
		if _, err := ParseTimestamp(bad); err == nil {
			t.Errorf("ParseTimestamp(%q) accepted", bad)
		}
	}
}

// FuzzParseTimestamp checks the date-time parser against time.Parse where both apply.
func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{"2018-06-05T02:41:56.61", "2018-10-02T01:21:35.2186943Z", "2024-11-07T08:46:32.0718006+00:00", "2019-01-01T00:00:00z", "2018-02-29T00:00:00", "2018-10-02T01:21:35-0700"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTimestamp(s)
		if err != nil {
			return
		}
		if ts.Time.Location() != time.UTC || ts.Raw != s {
			t.Fatalf("%q: %+v", s, ts)
		}
		if ref, err := time.Parse(time.RFC3339Nano, s); err == nil && !ref.Equal(ts.Time) {
			t.Fatalf("%q: %v, time.Parse says %v", s, ts.Time, ref)
		}
		if ref, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil && !ref.Equal(ts.Time) {
			t.Fatalf("%q: %v, time.Parse says %v", s, ts.Time, ref)
		}
	})
}
