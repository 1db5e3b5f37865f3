package schema

import (
	"encoding/hex"
	"fmt"
)

// ParseGUID reads a GUID in its canonical 8-4-4-4-12 hex form (any case),
// optionally in braces, into its 16 bytes in text order: the bytes
// Customer.IdBytes holds. ok is false for anything else.
func ParseGUID(s string) (b [16]byte, ok bool) {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return b, false
	}
	j := 0
	for i := 0; i < 36; {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
			continue
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return b, false
		}
		b[j] = hi<<4 | lo
		j++
		i += 2
	}
	return b, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// UUID is an RFC 9562 UUID, its 16 bytes: what Go holds of an event's eventId.
// Its text form, the one events carry, is lowercase 8-4-4-4-12 hex. A UUID is
// comparable, so it can key a map of events already seen.
type UUID [16]byte

// String returns the lowercase text form, e.g. "85564125-acc1-51f5-8842-0564520ae168".
func (u UUID) String() string { return string(u.appendText(make([]byte, 0, 36))) }

// AppendText appends the text form of u to b; it never fails.
func (u UUID) AppendText(b []byte) ([]byte, error) { return u.appendText(b), nil }

// MarshalText returns the text form, so that encoding/json writes a UUID as its
// text.
func (u UUID) MarshalText() ([]byte, error) { return u.appendText(nil), nil }

// appendText appends the 36 characters of the text form, writing them in
// place.
func (u UUID) appendText(b []byte) []byte {
	n := len(b)
	b = append(b, make([]byte, 36)...)
	s := b[n:]
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return b
}

// UnmarshalText reads the 8-4-4-4-12 text form, in any case.
func (u *UUID) UnmarshalText(b []byte) error {
	v, err := ParseUUID(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// ParseUUID reads the 36-character 8-4-4-4-12 text form of a UUID, in any case.
func ParseUUID(s string) (UUID, error) {
	if len(s) != 36 {
		return UUID{}, fmt.Errorf("schema: %q is not a UUID", s)
	}
	b, ok := ParseGUID(s)
	if !ok {
		return UUID{}, fmt.Errorf("schema: %q is not a UUID", s)
	}
	return UUID(b), nil
}
