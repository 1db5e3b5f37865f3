package covatest

import (
	"encoding/binary"
	"hash/fnv"
	"math/rand/v2"
)

const hexDigits = "0123456789abcdef"

// newGUID returns a random (version 4) GUID in the lowercase form Cova serves.
func newGUID(r *rand.Rand) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], r.Uint64())
	binary.BigEndian.PutUint64(b[8:], r.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	j := 0
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j] = hexDigits[v>>4]
		s[j+1] = hexDigits[v&0x0f]
		j += 2
	}
	return string(s[:])
}

// parseGUID reads the 36-character form into its 16 bytes in display order.
func parseGUID(s string) ([16]byte, bool) {
	var b [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return b, false
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
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
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// guidKey returns a key whose unsigned big-endian order (k1, then k2) is SQL
// Server's uniqueidentifier order, the order recorded Cova traffic came back in.
// SQL Server (and .NET's SqlGuid) compares the bytes of Guid.ToByteArray() in the
// order 10-15, 8-9, 6-7, 4-5, 0-3; ToByteArray stores the first three groups of
// the display form little-endian, so in display bytes d that is
// d10..d15, d8, d9, d7, d6, d5, d4, d3, d2, d1, d0.
// An Id that is not a GUID (a malformed raw record) gets a key from its hash.
func guidKey(id string) (k1, k2 uint64) {
	d, ok := parseGUID(id)
	if !ok {
		h := fnv.New128a()
		h.Write([]byte(id))
		sum := h.Sum(nil)
		return binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:])
	}
	k := [16]byte{d[10], d[11], d[12], d[13], d[14], d[15], d[8], d[9], d[7], d[6], d[5], d[4], d[3], d[2], d[1], d[0]}
	return binary.BigEndian.Uint64(k[:8]), binary.BigEndian.Uint64(k[8:])
}

// randomKey is the stable pseudo-random position of an Id for OrderRandom.
func randomKey(id string, seed int64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return splitmix(h.Sum64() ^ uint64(seed)*0x9e3779b97f4a7c15)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
