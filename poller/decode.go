package poller

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/covacdc/covacdc/schema"
)

// DecodeCustomer decodes one element of a CustomerFull response with the same
// tolerant rules Scan uses. A record that cannot be decoded returns a *RecordError
// (with Raw set to raw) explaining why. The Customer shares no memory with raw.
//
// The decoder is written out rather than reflective: decoding is most of the CPU
// a scan costs. Which JSON key fills which field, and how it is read, is
// generated from the schema (decode_gen.go); the reading of each kind of value
// is here.
func DecodeCustomer(raw []byte) (schema.Customer, error) {
	d := decoder{s: string(raw)}
	var c schema.Customer
	if err := d.customer(&c); err != nil {
		return schema.Customer{}, recordError(d.s, err)
	}
	return c, nil
}

// recordError is the RecordError of an element that failed to decode, with a
// copy of the element.
func recordError(raw string, err error) *RecordError {
	var de *decodeError
	reason := "bad_json"
	if errors.As(err, &de) {
		reason = de.reason
	}
	return &RecordError{Raw: json.RawMessage(raw), Reason: reason, Err: err}
}

// decodeError carries the short label a RecordError reports as Reason.
type decodeError struct {
	reason string
	msg    string
}

func (e *decodeError) Error() string { return "customer record: " + e.msg }

func fail(reason, format string, args ...any) error {
	return &decodeError{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// decoder walks one JSON element. Strings without escapes are substrings of s,
// and scalar pointers point into per-record slabs, so that a customer costs a
// handful of allocations rather than one per field.
type decoder struct {
	s string
	i int

	strs    []string
	ints    []int64
	bools   []bool
	unknown int
}

func (d *decoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.i >= len(d.s) {
		return 0
	}
	return d.s[d.i]
}

func (d *decoder) syntax(what string) error {
	return fail("bad_json", "invalid JSON at offset %d: %s", d.i, what)
}

// literal consumes null, true or false.
func (d *decoder) literal(lit string) bool {
	if len(d.s)-d.i >= len(lit) && d.s[d.i:d.i+len(lit)] == lit {
		d.i += len(lit)
		return true
	}
	return false
}

// str reads a JSON string at d.i (which must be '"').
func (d *decoder) str() (string, error) {
	start := d.i
	d.i++
	escaped := false
	for d.i < len(d.s) {
		c := d.s[d.i]
		switch {
		case c == '"':
			d.i++
			v := d.s[start+1 : d.i-1]
			if !escaped && utf8.ValidString(v) {
				return v, nil
			}
			// Rare: escapes or invalid UTF-8; the standard library knows the rules.
			var out string
			if err := json.Unmarshal([]byte(d.s[start:d.i]), &out); err != nil {
				return "", fail("bad_json", "invalid string at offset %d", start)
			}
			return out, nil
		case c == '\\':
			escaped = true
			d.i += 2
		case c < 0x20:
			return "", d.syntax("control character in string")
		default:
			d.i++
		}
	}
	return "", d.syntax("unterminated string")
}

// number reads a JSON number and returns its text.
func (d *decoder) number() (string, error) {
	start := d.i
	if d.i < len(d.s) && d.s[d.i] == '-' {
		d.i++
	}
	intStart := d.i
	for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
		d.i++
	}
	if d.i == intStart || (d.s[intStart] == '0' && d.i-intStart > 1) {
		return "", d.syntax("bad number")
	}
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		fs := d.i
		for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
			d.i++
		}
		if d.i == fs {
			return "", d.syntax("bad number")
		}
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		es := d.i
		for d.i < len(d.s) && d.s[d.i] >= '0' && d.s[d.i] <= '9' {
			d.i++
		}
		if d.i == es {
			return "", d.syntax("bad number")
		}
	}
	return d.s[start:d.i], nil
}

// skip consumes any JSON value, validating it; depth bounds nesting.
func (d *decoder) skip(depth int) error {
	if depth > 64 {
		return d.syntax("nested too deep")
	}
	switch d.peek() {
	case '"':
		_, err := d.str()
		return err
	case '{':
		return d.object(func(string) error { return d.skip(depth + 1) })
	case '[':
		return d.array(func() error { return d.skip(depth + 1) })
	case 't':
		if d.literal("true") {
			return nil
		}
	case 'f':
		if d.literal("false") {
			return nil
		}
	case 'n':
		if d.literal("null") {
			return nil
		}
	default:
		if c := d.peek(); c == '-' || (c >= '0' && c <= '9') {
			_, err := d.number()
			return err
		}
	}
	return d.syntax("unexpected character")
}

// object iterates the members of an object at d.i, calling field with each key
// and d.i at its value; field must consume the value.
func (d *decoder) object(field func(key string) error) error {
	if d.peek() != '{' {
		return d.syntax("want object")
	}
	d.i++
	if d.peek() == '}' {
		d.i++
		return nil
	}
	for {
		if d.peek() != '"' {
			return d.syntax("want object key")
		}
		key, err := d.str()
		if err != nil {
			return err
		}
		if d.peek() != ':' {
			return d.syntax("want ':'")
		}
		d.i++
		d.ws()
		if err := field(key); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return d.syntax("want ',' or '}'")
		}
	}
}

// array iterates the elements of an array at d.i; elem must consume each.
func (d *decoder) array(elem func() error) error {
	if d.peek() != '[' {
		return d.syntax("want array")
	}
	d.i++
	if d.peek() == ']' {
		d.i++
		return nil
	}
	for {
		d.ws()
		if err := elem(); err != nil {
			return err
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return d.syntax("want ',' or ']'")
		}
	}
}

// kind names the JSON type at d.i, for error messages.
func (d *decoder) kind() string {
	switch d.peek() {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func (d *decoder) badType(field, want string) error {
	return fail("bad_type", "field %q: want %s, got %s", field, want, d.kind())
}

// null consumes a null if there is one.
func (d *decoder) null() bool {
	return d.peek() == 'n' && d.literal("null")
}

// emptyObject consumes "{}" (the help page sample's rendering of an unknown
// object type) if there is one.
func (d *decoder) emptyObject() bool {
	if d.peek() != '{' {
		return false
	}
	save := d.i
	d.i++
	if d.peek() == '}' {
		d.i++
		return true
	}
	d.i = save
	return false
}

func (d *decoder) newStr(v string) *string {
	if len(d.strs) == cap(d.strs) {
		d.strs = make([]string, 0, 32)
	}
	d.strs = append(d.strs, v)
	return &d.strs[len(d.strs)-1]
}

func (d *decoder) newInt(v int64) *int64 {
	if len(d.ints) == cap(d.ints) {
		d.ints = make([]int64, 0, 16)
	}
	d.ints = append(d.ints, v)
	return &d.ints[len(d.ints)-1]
}

func (d *decoder) newBool(v bool) *bool {
	if len(d.bools) == cap(d.bools) {
		d.bools = make([]bool, 0, 16)
	}
	d.bools = append(d.bools, v)
	return &d.bools[len(d.bools)-1]
}

// optStr reads a string or null; with allowEmpty, "{}" reads as null too.
func (d *decoder) optStr(field string, dst **string, allowEmpty bool) error {
	if d.null() || (allowEmpty && d.emptyObject()) {
		*dst = nil
		return nil
	}
	if d.peek() != '"' {
		return d.badType(field, "string")
	}
	v, err := d.str()
	if err != nil {
		return err
	}
	*dst = d.newStr(v)
	return nil
}

// integer reads a JSON integer (an integral number such as 3.0 is accepted).
func (d *decoder) integer(field string) (int64, error) {
	if c := d.peek(); c != '-' && (c < '0' || c > '9') {
		return 0, d.badType(field, "integer")
	}
	txt, err := d.number()
	if err != nil {
		return 0, err
	}
	if v, err := strconv.ParseInt(txt, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(txt, 64)
	if err != nil || f != float64(int64(f)) || f > 9.2e18 || f < -9.2e18 {
		return 0, fail("bad_type", "field %q: want integer, got %s", field, txt)
	}
	return int64(f), nil
}

// optInt reads an integer or null; with allowEmpty, "{}" reads as null too.
func (d *decoder) optInt(field string, dst **int64, allowEmpty bool) error {
	if d.null() || (allowEmpty && d.emptyObject()) {
		*dst = nil
		return nil
	}
	v, err := d.integer(field)
	if err != nil {
		return err
	}
	*dst = d.newInt(v)
	return nil
}

// optStrOrNumber reads a string, null, or a number kept as its JSON text.
func (d *decoder) optStrOrNumber(field string, dst **string) error {
	if c := d.peek(); c == '-' || (c >= '0' && c <= '9') {
		txt, err := d.number()
		if err != nil {
			return err
		}
		*dst = d.newStr(txt)
		return nil
	}
	if c := d.peek(); c != '"' && c != 'n' {
		return d.badType(field, "number or string")
	}
	return d.optStr(field, dst, false)
}

// The req readers read a required field, setting *have once they have read it.
// A null reads as the field's absence: the caller fails the record for it.

// absent consumes a null, the absence of a required field.
func (d *decoder) absent(have *bool) bool {
	if d.null() {
		*have = false
		return true
	}
	return false
}

// reqInt reads a required integer.
func (d *decoder) reqInt(field string, dst *int64, have *bool) (err error) {
	if !d.absent(have) {
		*dst, err = d.integer(field)
		*have = err == nil
	}
	return err
}

func (d *decoder) optBool(field string, dst **bool) error {
	if d.null() {
		*dst = nil
		return nil
	}
	switch {
	case d.peek() == 't' && d.literal("true"):
		*dst = d.newBool(true)
	case d.peek() == 'f' && d.literal("false"):
		*dst = d.newBool(false)
	default:
		return d.badType(field, "boolean")
	}
	return nil
}

func (d *decoder) timestamp(field string) (schema.Timestamp, error) {
	if d.peek() != '"' {
		return schema.Timestamp{}, d.badType(field, "date-time string")
	}
	v, err := d.str()
	if err != nil {
		return schema.Timestamp{}, err
	}
	t, err := schema.ParseTimestamp(v)
	if err != nil {
		return schema.Timestamp{}, fail("bad_timestamp", "field %q: %q is not a date-time", field, v)
	}
	return t, nil
}

// optTimestamp reads a date-time or null.
func (d *decoder) optTimestamp(field string, dst **schema.Timestamp) error {
	if d.null() {
		*dst = nil
		return nil
	}
	t, err := d.timestamp(field)
	if err != nil {
		return err
	}
	*dst = &t
	return nil
}

// reqTimestamp reads a required date-time.
func (d *decoder) reqTimestamp(field string, dst *schema.Timestamp, have *bool) (err error) {
	if !d.absent(have) {
		*dst, err = d.timestamp(field)
		*have = err == nil
	}
	return err
}

// rawElems keeps each element of an array as the raw JSON sent.
func (d *decoder) rawElems(field string, dst *[]json.RawMessage) error {
	if d.null() {
		*dst = nil
		return nil
	}
	if d.peek() != '[' {
		return d.badType(field, "array")
	}
	out := []json.RawMessage{}
	err := d.array(func() error {
		start := d.i
		if err := d.skip(1); err != nil {
			return err
		}
		out = append(out, json.RawMessage(d.s[start:d.i]))
		return nil
	})
	*dst = out
	return err
}

// ignored are fields that carry no customer data (hypermedia links).
func ignored(key string) bool { return key == "_links" || key == "_embedded" }

// unknownField skips a value of a field this version does not know, counting it.
func (d *decoder) unknownField(key string) error {
	if !ignored(key) {
		d.unknown++
	}
	return d.skip(1)
}

// list decodes an array of objects; null elements carry nothing and are dropped.
func list[T any](d *decoder, field string, dst *[]T, elem func(*T) error) error {
	if d.null() {
		*dst = nil
		return nil
	}
	if d.peek() != '[' {
		return d.badType(field, "array")
	}
	out := make([]T, 0, 2)
	err := d.array(func() error {
		if d.null() {
			return nil
		}
		if d.peek() != '{' {
			return d.badType(field, "array of objects")
		}
		out = append(out, *new(T))
		return elem(&out[len(out)-1])
	})
	*dst = out
	return err
}

// guid reads a customer's Id: a GUID string, kept as sent and parsed.
func (d *decoder) guid(key string) (string, [16]byte, error) {
	if d.peek() != '"' {
		return "", [16]byte{}, d.badType(key, "GUID string")
	}
	v, err := d.str()
	if err != nil {
		return "", [16]byte{}, err
	}
	b, ok := schema.ParseGUID(v)
	if !ok {
		return "", b, fail("bad_id", "field %q: %q is not a GUID", key, truncate(v, 64))
	}
	return v, b, nil
}

// reqGUID reads a required GUID, kept as sent and parsed.
func (d *decoder) reqGUID(field string, dst *string, dstBytes *[16]byte, have *bool) (err error) {
	if !d.absent(have) {
		*dst, *dstBytes, err = d.guid(field)
		*have = err == nil
	}
	return err
}

// identity reads only the Id and Version of the customer object at d.i,
// leaving d.i just after the object. The other values are skipped, not
// validated: a row read this way is decoded in full (customer) before anything
// but its identity is used. It fails where customer would fail on Id or Version.
func (d *decoder) identity() (id string, idBytes [16]byte, version int64, err error) {
	var haveID, haveVersion bool
	err = d.object(func(key string) error {
		switch key {
		case "Id":
			var err error
			id, idBytes, err = d.guid(key)
			haveID = err == nil
			return err
		case "Version":
			v, err := d.integer(key)
			if err != nil {
				return err
			}
			version, haveVersion = v, true
			return nil
		}
		return d.skipUnchecked()
	})
	if err == nil && (!haveID || !haveVersion) {
		err = fail("missing_id", "no Id or no Version")
	}
	return id, idBytes, version, err
}

// skipUnchecked consumes one value, tracking only strings and nesting (as the
// element splitter does), without validating it.
func (d *decoder) skipUnchecked() error {
	depth := 0
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case '"':
			j := d.i + 1
			for {
				k := strings.IndexByte(d.s[j:], '"')
				if k < 0 {
					return d.syntax("unterminated string")
				}
				j += k
				n := 0
				for b := j - 1; d.s[b] == '\\'; b-- {
					n++
				}
				if n%2 == 0 {
					break
				}
				j++
			}
			d.i = j + 1
			if depth == 0 {
				return nil
			}
		case '{', '[':
			depth++
			d.i++
		case '}', ']':
			if depth == 0 {
				return nil // the end of the enclosing object: a scalar ended
			}
			depth--
			d.i++
			if depth == 0 {
				return nil
			}
		case ',':
			if depth == 0 {
				return nil
			}
			d.i++
		default:
			d.i++
		}
	}
	return d.syntax("unterminated value")
}

// customer decodes the element that is the whole of d.s into *c, which must
// be zero. On error *c is zero again.
func (d *decoder) customer(c *schema.Customer) error {
	if err := d.record(c); err != nil {
		return err
	}
	if d.peek() != 0 {
		*c = schema.Customer{}
		return d.syntax("data after the record")
	}
	return nil
}

// record decodes the customer object at d.i into *c, which must be zero,
// leaving d.i just after it. On error *c is zero again.
func (d *decoder) record(c *schema.Customer) error {
	if d.peek() != '{' {
		if d.i < len(d.s) && (d.s[d.i] == '[' || d.s[d.i] == '"' || d.s[d.i] == 'n' || d.s[d.i] == 't' || d.s[d.i] == 'f' || d.s[d.i] == '-' || (d.s[d.i] >= '0' && d.s[d.i] <= '9')) {
			return fail("not_object", "want a JSON object, got %s", d.kind())
		}
		return d.syntax("want object")
	}
	if err := d.fillCustomer(c); err != nil {
		*c = schema.Customer{}
		return err
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
