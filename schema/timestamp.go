package schema

import (
	"encoding/json"
	"errors"
	"time"
)

// Timestamp is a Cova date-time: the exact text Cova sent and the instant it names.
// Cova sends 0 to 7 fraction digits and a "Z", an offset or no zone at all; no zone
// means UTC. An event carries the text; Time is what Go makes of it.
type Timestamp struct {
	Raw  string
	Time time.Time // always in UTC; zero when Raw is not a Cova date-time
}

var errTimestamp = errors.New("not a Cova date-time")

// ParseTimestamp reads a Cova date-time: "2006-01-02T15:04:05", then an optional
// fraction of 1 to 9 digits (Cova sends up to 7), then "Z", an offset (+hh:mm,
// +hhmm, +hh) or nothing, which means UTC. Time is always in UTC; Raw is s.
func ParseTimestamp(s string) (Timestamp, error) {
	t, err := parseTime(s)
	if err != nil {
		return Timestamp{}, err
	}
	return Timestamp{Raw: s, Time: t}, nil
}

// MarshalJSON writes Raw as a JSON string: a Customer marshals to JSON in the
// shape Cova sends.
func (t Timestamp) MarshalJSON() ([]byte, error) { return json.Marshal(t.Raw) }

// UnmarshalJSON reads a JSON string with ParseTimestamp; null leaves t unchanged.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return errTimestamp
	}
	ts, err := ParseTimestamp(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	*t = ts
	return nil
}

func digits(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for k := i; k < i+n; k++ {
		c := s[k]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func parseTime(s string) (time.Time, error) {
	// 2006-01-02T15:04:05 is 19 bytes.
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, errTimestamp
	}
	year, ok1 := digits(s, 0, 4)
	month, ok2 := digits(s, 5, 2)
	day, ok3 := digits(s, 8, 2)
	hour, ok4 := digits(s, 11, 2)
	minute, ok5 := digits(s, 14, 2)
	sec, ok6 := digits(s, 17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, errTimestamp
	}
	i := 19
	nsec := 0
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		scale := 100000000
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if i-start >= 9 {
				return time.Time{}, errTimestamp
			}
			nsec += int(s[i]-'0') * scale
			scale /= 10
			i++
		}
		if i == start {
			return time.Time{}, errTimestamp
		}
	}
	offset := 0
	if i < len(s) {
		switch s[i] {
		case 'Z', 'z':
			i++
		case '+', '-':
			sign := 1
			if s[i] == '-' {
				sign = -1
			}
			i++
			oh, ok := digits(s, i, 2)
			if !ok || oh > 23 {
				return time.Time{}, errTimestamp
			}
			i += 2
			om := 0
			if i < len(s) {
				if s[i] == ':' {
					i++
				}
				var ok bool
				om, ok = digits(s, i, 2)
				if !ok || om > 59 {
					return time.Time{}, errTimestamp
				}
				i += 2
			}
			offset = sign * (oh*3600 + om*60)
		default:
			return time.Time{}, errTimestamp
		}
	}
	if i != len(s) {
		return time.Time{}, errTimestamp
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 31 February and friends
		return time.Time{}, errTimestamp
	}
	return t.Add(-time.Duration(offset) * time.Second), nil
}
