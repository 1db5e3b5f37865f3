package poller

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DecodeCustomer decodes one element of a CustomerFull response with the same
// tolerant rules Scan uses. A record that cannot be decoded returns a *RecordError
// (with Raw set to raw) explaining why. The Customer shares no memory with raw.
//
// The decoder is hand-written rather than reflective: decoding is most of the
// CPU a scan costs.
func DecodeCustomer(raw []byte) (Customer, error) {
	d := decoder{s: string(raw)}
	var c Customer
	if err := d.customer(&c); err != nil {
		return Customer{}, recordError(d.s, err)
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

// optStr reads a string or null.
func (d *decoder) optStr(field string, dst **string) error {
	if d.null() {
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

func (d *decoder) timestamp(field string) (Timestamp, error) {
	if d.peek() != '"' {
		return Timestamp{}, d.badType(field, "date-time string")
	}
	v, err := d.str()
	if err != nil {
		return Timestamp{}, err
	}
	t, err := parseTime(v)
	if err != nil {
		return Timestamp{}, fail("bad_timestamp", "field %q: %q is not a date-time", field, v)
	}
	return Timestamp{Raw: v, Time: t}, nil
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
	b, ok := parseGUID(v)
	if !ok {
		return "", b, fail("bad_id", "field %q: %q is not a GUID", key, truncate(v, 64))
	}
	return v, b, nil
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
func (d *decoder) customer(c *Customer) error {
	if err := d.record(c); err != nil {
		return err
	}
	if d.peek() != 0 {
		*c = Customer{}
		return d.syntax("data after the record")
	}
	return nil
}

// record decodes the customer object at d.i into *c, which must be zero,
// leaving d.i just after it. On error *c is zero again.
func (d *decoder) record(c *Customer) error {
	if err := d.fill(c); err != nil {
		*c = Customer{}
		return err
	}
	return nil
}

// fill decodes the customer object at d.i into *c, leaving d.i just after it.
func (d *decoder) fill(c *Customer) error {
	var haveID, haveVersion, haveLMD bool
	if d.peek() != '{' {
		if d.i < len(d.s) && (d.s[d.i] == '[' || d.s[d.i] == '"' || d.s[d.i] == 'n' || d.s[d.i] == 't' || d.s[d.i] == 'f' || d.s[d.i] == '-' || (d.s[d.i] >= '0' && d.s[d.i] <= '9')) {
			return fail("not_object", "want a JSON object, got %s", d.kind())
		}
		return d.syntax("want object")
	}
	err := d.object(func(key string) error {
		switch key {
		case "Addresses":
			return list(d, key, &c.Addresses, d.address)
		case "ContactMethods":
			return list(d, key, &c.ContactMethods, d.contactMethod)
		case "CustomerExtensions":
			return list(d, key, &c.CustomerExtensions, d.extension)
		case "RelatedCustomers":
			return d.rawElems(key, &c.RelatedCustomers)
		case "MemberOf":
			return d.rawElems(key, &c.MemberOf)
		case "Documents":
			return d.rawElems(key, &c.Documents)
		case "MergedCustomers":
			return d.rawElems(key, &c.MergedCustomers)
		case "PrimaryName":
			return d.optStr(key, &c.PrimaryName)
		case "Title":
			return d.optStr(key, &c.Title)
		case "AlternateName":
			return d.optStr(key, &c.AlternateName)
		case "MiddleName":
			return d.optStr(key, &c.MiddleName)
		case "FamilyName":
			return d.optStr(key, &c.FamilyName)
		case "ReferralSource":
			return d.optStr(key, &c.ReferralSource)
		case "Notes":
			return d.optStr(key, &c.Notes)
		case "UniqueIdentifier":
			return d.optStr(key, &c.UniqueIdentifier)
		case "Id":
			if d.null() {
				haveID = false
				return nil
			}
			v, b, err := d.guid(key)
			if err != nil {
				return err
			}
			c.Id, c.IdBytes, haveID = v, b, true
			return nil
		case "CustomerTypeId":
			return d.optInt(key, &c.CustomerTypeId, false)
		case "CustomerType":
			return d.optStr(key, &c.CustomerType)
		case "DateOfBirth":
			if d.null() {
				c.DateOfBirth = nil
				return nil
			}
			t, err := d.timestamp(key)
			if err != nil {
				return err
			}
			c.DateOfBirth = &t
			return nil
		case "PricingGroupId":
			return d.optInt(key, &c.PricingGroupId, true)
		case "Disabled":
			return d.optBool(key, &c.Disabled)
		case "DoNotContact":
			return d.optBool(key, &c.DoNotContact)
		case "Version":
			if d.null() {
				haveVersion = false
				return nil
			}
			v, err := d.integer(key)
			if err != nil {
				return err
			}
			c.Version, haveVersion = v, true
			return nil
		case "MergedIntoCustomerId":
			if d.emptyObject() {
				c.MergedIntoCustomerId = nil
				return nil
			}
			return d.optStr(key, &c.MergedIntoCustomerId)
		case "LastModifiedDateUtc":
			if d.null() {
				haveLMD = false
				return nil
			}
			t, err := d.timestamp(key)
			if err != nil {
				return err
			}
			c.LastModifiedDateUtc, haveLMD = t, true
			return nil
		}
		return d.unknownField(key)
	})
	if err != nil {
		return err
	}
	switch {
	case !haveID:
		return fail("missing_id", "no Id")
	case !haveVersion:
		return fail("missing_version", "customer %s: no Version", c.Id)
	case !haveLMD:
		return fail("missing_last_modified", "customer %s: no LastModifiedDateUtc", c.Id)
	}
	c.UnknownFields = d.unknown
	return nil
}

func (d *decoder) address(a *Address) error {
	return d.object(func(key string) error {
		switch key {
		case "AddressLine1":
			return d.optStr(key, &a.AddressLine1)
		case "AddressLine2":
			return d.optStr(key, &a.AddressLine2)
		case "City":
			return d.optStr(key, &a.City)
		case "StateName":
			return d.optStr(key, &a.StateName)
		case "CountryName":
			return d.optStr(key, &a.CountryName)
		case "Zip":
			switch c := d.peek(); {
			case c == '"' || c == 'n':
				return d.optStr(key, &a.Zip)
			case c == '-' || (c >= '0' && c <= '9'):
				txt, err := d.number()
				if err != nil {
					return err
				}
				a.Zip = d.newStr(txt)
				return nil
			}
			return d.badType(key, "number or string")
		case "Id":
			return d.optStr(key, &a.Id)
		case "CustomerId":
			return d.optStr(key, &a.CustomerId)
		case "AddressTypeId":
			return d.optInt(key, &a.AddressTypeId, false)
		case "AddressType":
			return d.optStr(key, &a.AddressType)
		case "Default":
			return d.optBool(key, &a.Default)
		case "DoNotContact":
			return d.optBool(key, &a.DoNotContact)
		case "CountryCode":
			return d.optStr(key, &a.CountryCode)
		case "Country":
			return d.optStr(key, &a.Country)
		case "Locality":
			return d.optStr(key, &a.Locality)
		case "StateCode":
			return d.optStr(key, &a.StateCode)
		case "State":
			return d.optStr(key, &a.State)
		case "PostalCode":
			return d.optStr(key, &a.PostalCode)
		case "PostOfficeBoxNumber":
			return d.optStr(key, &a.PostOfficeBoxNumber)
		case "StreetAddress1":
			return d.optStr(key, &a.StreetAddress1)
		case "Notes":
			return d.optStr(key, &a.Notes)
		case "StreetAddress2":
			return d.optStr(key, &a.StreetAddress2)
		case "Version":
			return d.optInt(key, &a.Version, false)
		case "AttentionTo":
			return d.optStr(key, &a.AttentionTo)
		case "Phone":
			return d.optStr(key, &a.Phone)
		case "Email":
			return d.optStr(key, &a.Email)
		}
		return d.unknownField(key)
	})
}

func (d *decoder) contactMethod(m *ContactMethod) error {
	return d.object(func(key string) error {
		switch key {
		case "Value":
			return d.optStr(key, &m.Value)
		case "Id":
			return d.optStr(key, &m.Id)
		case "CustomerId":
			return d.optStr(key, &m.CustomerId)
		case "ContactMethodCategoryId":
			return d.optInt(key, &m.ContactMethodCategoryId, false)
		case "ContactMethodCategory":
			return d.optStr(key, &m.ContactMethodCategory)
		case "ContactMethodTypeId":
			return d.optInt(key, &m.ContactMethodTypeId, false)
		case "ContactMethodType":
			return d.optStr(key, &m.ContactMethodType)
		case "DoNotContact":
			return d.optBool(key, &m.DoNotContact)
		case "Default":
			return d.optBool(key, &m.Default)
		case "Notes":
			return d.optStr(key, &m.Notes)
		case "Version":
			return d.optInt(key, &m.Version, false)
		}
		return d.unknownField(key)
	})
}

func (d *decoder) extension(e *CustomerExtension) error {
	return d.object(func(key string) error {
		switch key {
		case "Value":
			return d.optStr(key, &e.Value)
		case "Id":
			return d.optStr(key, &e.Id)
		case "CustomerId":
			return d.optStr(key, &e.CustomerId)
		case "ExtensionTypeId":
			return d.optInt(key, &e.ExtensionTypeId, false)
		case "ExtensionType":
			return d.optStr(key, &e.ExtensionType)
		case "ExtensionTypeFeature":
			return d.optStr(key, &e.ExtensionTypeFeature)
		case "Version":
			return d.optInt(key, &e.Version, false)
		}
		return d.unknownField(key)
	})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// parseGUID reads the canonical 8-4-4-4-12 hex form (any case), optionally in
// braces, into its 16 bytes in text order.
func parseGUID(s string) ([16]byte, bool) {
	var b [16]byte
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
