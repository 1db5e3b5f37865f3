package schema

import (
	"crypto/sha1"
	"strconv"
	"strings"
)

// eventIDNamespace is the UUIDv5 namespace of event ids, fixed forever:
// the UUIDv5 of "https://github.com/covacdc/covacdc#CustomerChanged.eventId" in the
// RFC 9562 URL namespace. Changing it would change every event id.
var eventIDNamespace = [16]byte{
	0x85, 0x56, 0x41, 0x25, 0xac, 0xc1, 0x51, 0xf5,
	0x88, 0x42, 0x05, 0x64, 0x52, 0x0a, 0xe1, 0x68,
}

// EventID is the deterministic event id of (company, customer, version): the same
// triple always gives the same id, across any replay. It does not allocate for an
// ASCII customer id.
//
// It is the RFC 9562 UUIDv5 of the name "<companyID>/<lowercased
// customerID>/<version>" (numbers in decimal) in the namespace
// 85564125-acc1-51f5-8842-0564520ae168; events carry its lowercase text form
// (UUID.String). The customer id is lowercased because Cova's GUIDs are
// case-insensitive.
func EventID(companyID int64, customerID string, version int64) UUID {
	var buf [16 + 96]byte
	n := append(buf[:0], eventIDNamespace[:]...)
	n = strconv.AppendInt(n, companyID, 10)
	n = append(n, '/')
	n = appendLower(n, customerID)
	n = append(n, '/')
	n = strconv.AppendInt(n, version, 10)
	return uuid5(n)
}

// appendLower appends s lowercased; ASCII (a GUID) takes the fast path.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return append(b, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// uuid5 is the RFC 9562 UUIDv5 of nsAndName (the 16 namespace bytes followed by
// the name): SHA-1, version 5, variant 10.
func uuid5(nsAndName []byte) UUID {
	sum := sha1.Sum(nsAndName)
	var u UUID
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return u
}
