package state

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// FormatVersion is the format byte (or "format" field) of every state value this
// build writes, but the version records of a resync (FormatResyncVersion). A
// value with a higher format was written by a newer covacdc and is refused
// rather than misread.
const FormatVersion = 1

// Key prefixes of the state topic. Keys are text so operators can read them with
// any console consumer; values of version records are binary because a restore
// reads millions of them.
const (
	versionPrefix    = "v/" // v/<companyId>/<32 hex of the customer GUID> -> [1][varint Version], or of a resync [2][varint Version][uvarint Seq]
	cursorPrefix     = "c/" // c/<companyId> -> JSON cursor with a "format" field
	deadLetterPrefix = "d/" // d/<companyId>/<32 hex of a hash of the raw record> -> [format]
	markerPrefix     = "m/" // m/<partition> -> [format][nonce]: written at startup to find the end of a restore
)

// The signal topic's position (s/<partition>) is in signal.go.

// ErrBadRecord means a record of the state topic could not be read. A restore
// stops on it: running on state it does not understand could publish twice.
var ErrBadRecord = errors.New("unreadable state record")

// AppendVersionKey appends the key of a customer's version record.
func AppendVersionKey(dst []byte, companyID int64, id [16]byte) []byte {
	dst = append(dst, versionPrefix...)
	dst = strconv.AppendInt(dst, companyID, 10)
	dst = append(dst, '/')
	return hex.AppendEncode(dst, id[:])
}

// AppendVersionValue appends the value of a version record: the format byte and
// the Version as a signed varint.
func AppendVersionValue(dst []byte, version int64) []byte {
	dst = append(dst, FormatVersion)
	return binary.AppendVarint(dst, version)
}

// CursorKey returns the key of a company's cursor record.
func CursorKey(companyID int64) []byte {
	return strconv.AppendInt([]byte(cursorPrefix), companyID, 10)
}

type cursorJSON struct {
	Format              int       `json:"format"`
	Since               time.Time `json:"since"`
	ScanStarted         time.Time `json:"scanStarted"`
	ScanFinished        time.Time `json:"scanFinished"`
	InitialLoadComplete bool      `json:"initialLoadComplete"`
	Scans               int64     `json:"scans"`
	// Omitted when nil: a cursor without a resync reads as an earlier build
	// wrote it, byte for byte.
	Resync     *resyncJSON     `json:"resync,omitempty"`
	LastResync *lastResyncJSON `json:"lastResync,omitempty"`
}

// CursorValue returns the value of a cursor record (JSON, readable by operators).
func CursorValue(c Cursor) []byte {
	b, err := json.Marshal(cursorJSON{
		Format:              FormatVersion,
		Since:               c.Since.UTC(),
		ScanStarted:         c.ScanStarted.UTC(),
		ScanFinished:        c.ScanFinished.UTC(),
		InitialLoadComplete: c.InitialLoadComplete,
		Scans:               c.Scans,
		Resync:              toResyncJSON(c.Resync),
		LastResync:          toLastResyncJSON(c.LastResync),
	})
	if err != nil { // only time.Time values out of JSON's range get here
		panic(fmt.Sprintf("state: encoding cursor: %v", err))
	}
	return b
}

// AppendDeadLetterKey appends the key of the record that remembers a dead letter
// already published for a company; hash identifies the raw record (see
// DeadLetterHash).
func AppendDeadLetterKey(dst []byte, companyID int64, hash [16]byte) []byte {
	dst = append(dst, deadLetterPrefix...)
	dst = strconv.AppendInt(dst, companyID, 10)
	dst = append(dst, '/')
	return hex.AppendEncode(dst, hash[:])
}

// DeadLetterValue returns the value of a dead-letter record.
func DeadLetterValue() []byte { return []byte{FormatVersion} }

// MarkerKey returns the key of the startup marker of a partition.
func MarkerKey(partition int32) []byte {
	return strconv.AppendInt([]byte(markerPrefix), int64(partition), 10)
}

// MarkerValue returns the value of a startup marker carrying nonce.
func MarkerValue(nonce []byte) []byte {
	return append([]byte{FormatVersion}, nonce...)
}

// IsMarker reports whether key is a startup marker's key.
func IsMarker(key []byte) bool {
	return len(key) >= len(markerPrefix) && string(key[:len(markerPrefix)]) == markerPrefix
}

// badRecord is an ErrBadRecord naming the record's key (its first 80 bytes)
// and why it cannot be read.
func badRecord(key []byte, why string) error {
	return fmt.Errorf("%w: key %q: %s", ErrBadRecord, shortKey(key), why)
}

// badRecordCause is badRecord for an error that says why: it wraps it too.
func badRecordCause(key []byte, why string, cause error) error {
	return fmt.Errorf("%w: key %q: %s: %w", ErrBadRecord, shortKey(key), why, cause)
}

func shortKey(key []byte) []byte {
	if len(key) > 80 {
		return key[:80]
	}
	return key
}

// parseCompanyAndHex parses "<companyId>/<32 hex>" (the key after its prefix).
func parseCompanyAndHex(key, rest []byte) (int64, [16]byte, error) {
	var id [16]byte
	company, rest, err := parseCompany(key, rest)
	if err != nil {
		return 0, id, err
	}
	if len(rest) != 33 || rest[0] != '/' {
		return 0, id, badRecord(key, "want /<32 hex digits> after the company id")
	}
	if _, err := hex.Decode(id[:], rest[1:]); err != nil {
		return 0, id, badRecord(key, "bad hex")
	}
	return company, id, nil
}

// parseCompany parses the leading decimal company id of rest, by hand: a restore
// parses a million keys and strconv would need a string.
func parseCompany(key, rest []byte) (int64, []byte, error) {
	neg := false
	if len(rest) > 0 && rest[0] == '-' {
		neg, rest = true, rest[1:]
	}
	var n int64
	i := 0
	for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
		if i >= 18 {
			return 0, nil, badRecord(key, "company id too long")
		}
		n = n*10 + int64(rest[i]-'0')
	}
	if i == 0 {
		return 0, nil, badRecord(key, "no company id")
	}
	if neg {
		n = -n
	}
	return n, rest[i:], nil
}

// parseVersionValue returns the Version of a version record and, of a record
// a resync wrote (format 2), the resync's Seq; 0 for format 1.
func parseVersionValue(key, value []byte) (version, seq int64, err error) {
	if len(value) < 2 {
		return 0, 0, badRecord(key, "short version value")
	}
	if value[0] != FormatVersion && value[0] != FormatResyncVersion {
		return 0, 0, badRecord(key, fmt.Sprintf("version value format %d (this covacdc reads %d and %d)", value[0], FormatVersion, FormatResyncVersion))
	}
	v, n := binary.Varint(value[1:])
	if n <= 0 || value[0] == FormatVersion && n != len(value)-1 {
		return 0, 0, badRecord(key, "bad varint")
	}
	if value[0] == FormatVersion {
		return v, 0, nil
	}
	s, m := binary.Uvarint(value[1+n:])
	if m <= 0 || 1+n+m != len(value) || s == 0 || s > 1<<62 {
		return 0, 0, badRecord(key, "bad resync seq")
	}
	return v, int64(s), nil
}

func parseCursorValue(key, value []byte) (Cursor, error) {
	var j cursorJSON
	if err := json.Unmarshal(value, &j); err != nil {
		return Cursor{}, badRecordCause(key, "cursor is not JSON", err)
	}
	if j.Format != FormatVersion {
		return Cursor{}, badRecord(key, fmt.Sprintf("cursor format %d (this covacdc reads %d)", j.Format, FormatVersion))
	}
	r, err := fromResyncJSON(key, j.Resync)
	if err != nil {
		return Cursor{}, err
	}
	return Cursor{
		Since:               j.Since,
		ScanStarted:         j.ScanStarted,
		ScanFinished:        j.ScanFinished,
		InitialLoadComplete: j.InitialLoadComplete,
		Scans:               j.Scans,
		Resync:              r,
		LastResync:          fromLastResyncJSON(j.LastResync),
	}, nil
}
