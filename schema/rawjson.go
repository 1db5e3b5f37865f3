package schema

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// The collections whose element schema Cova never published (RelatedCustomers,
// MemberOf, Documents, MergedCustomers) hold JSON values of any kind. Go keeps
// each element as JSON; the event carries it as text. rawElement goes one way,
// rawJSONOf the other, and rawElement(rawJSONOf(s)) == s for every valid UTF-8 s,
// so an event decoded and encoded again is the same event.

// rawElement is how an element is carried: a JSON string as its value, anything
// else as its JSON text without surrounding space. Avro strings are UTF-8, so
// invalid bytes (never produced by a JSON decoder) become U+FFFD.
func rawElement(r json.RawMessage) string {
	b := trimSpace(r)
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		inner := b[1 : len(b)-1]
		if !hasEscapeOrControl(inner) && utf8.Valid(inner) {
			return string(inner)
		}
		var s string
		if err := json.Unmarshal(b, &s); err == nil {
			return s
		}
	}
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(b)
}

// rawJSONOf is the JSON an element's text stands for: the text itself when it is
// the JSON of something other than a string (an object, array, number, true,
// false or null) with no surrounding space, since rawElement writes such an
// element so; otherwise a JSON string of the text. The text alone cannot tell
// the string "42" from the number 42: either gives the same text back.
func rawJSONOf(s string) json.RawMessage {
	if s != "" && s[0] != '"' && len(trimSpace([]byte(s))) == len(s) && json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

func hasEscapeOrControl(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c < 0x20 {
			return true
		}
	}
	return false
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isJSONSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isJSONSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
