package covatest

import (
	"errors"
	"strings"
	"time"
)

// Timestamps are kept as .NET ticks (100 ns) since the Unix epoch, the precision
// SQL Server's datetime2 and the OData filter compare at.
const ticksPerSecond = 10_000_000

func toTicks(t time.Time) int64 {
	return t.Unix()*ticksPerSecond + int64(t.Nanosecond()/100)
}

func fromTicks(ticks int64) time.Time {
	sec, frac := ticks/ticksPerSecond, ticks%ticksPerSecond
	if frac < 0 {
		sec, frac = sec-1, frac+ticksPerSecond
	}
	return time.Unix(sec, frac*100).UTC()
}

// appendNetTime appends a timestamp the way the CRM serializes its UTC columns: no
// zone, and the fraction with trailing zeros trimmed ("2018-06-05T02:41:56.61",
// "2018-04-01T00:00:00").
func appendNetTime(b []byte, ticks int64) []byte {
	t := fromTicks(ticks)
	b = t.AppendFormat(b, "2006-01-02T15:04:05")
	frac := ticks % ticksPerSecond
	if frac < 0 {
		frac += ticksPerSecond
	}
	if frac == 0 {
		return b
	}
	var d [7]byte
	for i := 6; i >= 0; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := 7
	for d[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, d[:n]...)
}

var errFilter = errors.New("malformed filter")

// filterPrefix and filterSuffix enclose the one filter CustomerFull understands.
const (
	filterPrefix = "LastModifiedDateUtc ge datetime'"
	filterSuffix = "'"
)

// parseFilter parses `LastModifiedDateUtc ge datetime'<literal>'` strictly.
func parseFilter(f string) (int64, error) {
	if !strings.HasPrefix(f, filterPrefix) || !strings.HasSuffix(f, filterSuffix) || len(f) < len(filterPrefix)+len(filterSuffix) {
		return 0, errFilter
	}
	return parseDateTimeLiteral(f[len(filterPrefix) : len(f)-len(filterSuffix)])
}

// parseDateTimeLiteral parses YYYY-MM-DDTHH:MM:SS[.f{1,7}][Z|z|±hh:mm] into ticks
// (UTC; no zone means UTC).
func parseDateTimeLiteral(s string) (int64, error) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, errFilter
	}
	num := func(from, to int) (int, bool) {
		n := 0
		for i := from; i < to; i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
		}
		return n, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 7)
	day, ok3 := num(8, 10)
	hour, ok4 := num(11, 13)
	minute, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || year < 1 || month < 1 || month > 12 || day < 1 ||
		hour > 23 || minute > 59 || sec > 59 {
		return 0, errFilter
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day { // 31 February and the like
		return 0, errFilter
	}
	rest := s[19:]
	var frac int64
	if strings.HasPrefix(rest, ".") {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		digits := rest[1:i]
		if len(digits) < 1 || len(digits) > 7 {
			return 0, errFilter
		}
		for k := 0; k < 7; k++ {
			frac *= 10
			if k < len(digits) {
				frac += int64(digits[k] - '0')
			}
		}
		rest = rest[i:]
	}
	var offset int64 // seconds east of UTC
	switch {
	case rest == "" || rest == "Z" || rest == "z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := num(len(s)-5, len(s)-3)
		om, okm := num(len(s)-2, len(s))
		if !okh || !okm || oh > 14 || om > 59 {
			return 0, errFilter
		}
		offset = int64(oh*3600 + om*60)
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return 0, errFilter
	}
	return (t.Unix()-offset)*ticksPerSecond + frac, nil
}
