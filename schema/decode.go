package schema

import (
	"context"
	"embed"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// released holds every released version of the schema, so that events written by
// older builds stay readable by their single-object fingerprint.
//
//go:embed testdata/customer_changed.v*.avsc
var released embed.FS

// Decoder reads events written in either format (it tells them apart by the first
// bytes) into CustomerChanged, or renders them as JSON. It is safe for concurrent
// use.
type Decoder struct {
	cl   *sr.Client
	byFP map[uint64]*readSchema // fixed after NewDecoder

	mu   sync.Mutex
	byID map[int]*readSchema // schemas fetched from the registry, by id
}

// NewDecoder returns a decoder; cl may be nil when no registry is used (then only
// single-object encoding with a known fingerprint is readable).
//
// Known fingerprints are those of this build's writer schema and of every
// released version of it.
func NewDecoder(cl *sr.Client) (*Decoder, error) {
	d := &Decoder{cl: cl, byFP: map[uint64]*readSchema{}, byID: map[int]*readSchema{}}
	texts := []string{writerSchema}
	entries, err := released.ReadDir("testdata")
	if err != nil {
		return nil, fmt.Errorf("schema: released schemas: %w", err)
	}
	for _, e := range entries {
		b, err := released.ReadFile(path.Join("testdata", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("schema: released schema %s: %w", e.Name(), err)
		}
		texts = append(texts, string(b))
	}
	for _, t := range texts {
		rs, err := parseSchema(t)
		if err != nil {
			return nil, fmt.Errorf("schema: known writer schema: %w", err)
		}
		d.byFP[rs.fp] = rs
	}
	return d, nil
}

// Decode decodes one encoded event into *ev, which it overwrites (zero after an
// error). Reading a registry-framed event may ask the registry for its schema
// (once per id), under ctx.
//
// An event written with another writer schema than this build's (an older or a
// later release, or whatever the registry id names) is read through Avro schema
// resolution: fields are matched by name, a field the writer did not have keeps
// its default (null, 0), a field this build does not know is dropped, an int
// reads as a long, and an enum symbol this build does not know reads as the
// enum's default (a ChangeType reads as Updated). A writer record that is not
// CustomerChanged, or lacks a field without a default, is an error.
//
// Go fields that are not in the event are derived: Customer.IdBytes from
// Customer.Id (see ParseGUID), the Time of a Timestamp from its text (zero when it
// is not a Cova date-time), Customer.UnknownFields from UnknownFieldCount, and
// each element of RelatedCustomers, MemberOf, Documents and MergedCustomers
// from its text: the text itself when it is the JSON of an object, array,
// number, true, false or null, a JSON string of the text otherwise. Encoding the
// decoded event again gives the same bytes.
func (d *Decoder) Decode(ctx context.Context, b []byte, ev *CustomerChanged) error {
	*ev = CustomerChanged{}
	rs, native, err := d.native(ctx, b)
	if err != nil {
		return err
	}
	m, ok := native.(map[string]any)
	if rs.root.typ != "record" || !ok || unqualified(rs.root.name) != "CustomerChanged" {
		return fmt.Errorf("schema: the writer schema is %s %s, not the record CustomerChanged", rs.root.typ, rs.root.name)
	}
	if err := ev.resolve(m); err != nil {
		*ev = CustomerChanged{}
		return fmt.Errorf("schema: reading the event: %w", err)
	}
	ev.Customer.UnknownFields = int(ev.UnknownFieldCount)
	return nil
}

// JSON decodes one encoded event into plain JSON (unions unwrapped: a null is null,
// a value is the value), with field names as in the schema.
//
// Records keep the schema's field order; enums are their symbol;
// timestamp-micros and timestamp-millis are RFC 3339 UTC strings with exactly 6
// and 3 fraction digits ("2024-11-07T08:46:32.071800Z"). Reading a registry-framed
// event may ask the registry for its schema (once per id), under ctx.
func (d *Decoder) JSON(ctx context.Context, b []byte) ([]byte, error) {
	rs, native, err := d.native(ctx, b)
	if err != nil {
		return nil, err
	}
	out, err := appendJSON(make([]byte, 0, 2*len(b)), rs.root, native)
	if err != nil {
		return nil, fmt.Errorf("schema: rendering event: %w", err)
	}
	return out, nil
}

// native decodes the body of b with the writer schema its header names, into
// goavro's native form.
func (d *Decoder) native(ctx context.Context, b []byte) (*readSchema, any, error) {
	rs, body, err := d.schemaOf(ctx, b)
	if err != nil {
		return nil, nil, err
	}
	native, rest, err := rs.codec.NativeFromBinary(body)
	if err != nil {
		return nil, nil, fmt.Errorf("schema: decoding event body: %w", err)
	}
	if len(rest) != 0 {
		return nil, nil, fmt.Errorf("schema: %d bytes left after the event body", len(rest))
	}
	return rs, native, nil
}

// schemaOf reads the header of b and returns the writer schema it names and the body.
func (d *Decoder) schemaOf(ctx context.Context, b []byte) (*readSchema, []byte, error) {
	switch FormatOf(b) {
	case FormatSingleObject:
		fp := binary.LittleEndian.Uint64(b[2:10])
		rs := d.byFP[fp]
		if rs == nil {
			return nil, nil, fmt.Errorf("%w: single-object fingerprint %016x is not a CustomerChanged schema this build knows", ErrUnknownSchema, fp)
		}
		return rs, b[10:], nil
	case FormatRegistry:
		id, _ := RegistryID(b)
		rs, err := d.registrySchema(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		return rs, b[5:], nil
	}
	return nil, nil, ErrNotEvent
}

func (d *Decoder) registrySchema(ctx context.Context, id int) (*readSchema, error) {
	d.mu.Lock()
	rs := d.byID[id]
	d.mu.Unlock()
	if rs != nil {
		return rs, nil
	}
	if d.cl == nil {
		return nil, fmt.Errorf("%w: event names registry schema id %d but no Schema Registry is configured", ErrUnknownSchema, id)
	}
	s, err := d.cl.SchemaByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("schema: fetching schema id %d from the registry: %w", id, err)
	}
	if s.Type != sr.TypeAvro {
		return nil, fmt.Errorf("schema: registry schema id %d is %s, not Avro", id, s.Type)
	}
	if len(s.References) > 0 {
		return nil, fmt.Errorf("schema: registry schema id %d has references, which CustomerChanged never uses", id)
	}
	rs, err = parseSchema(s.Schema)
	if err != nil {
		return nil, fmt.Errorf("schema: registry schema id %d: %w", id, err)
	}
	d.mu.Lock()
	d.byID[id] = rs
	d.mu.Unlock()
	return rs, nil
}

// node is the part of an Avro schema needed to render goavro's native form as
// plain JSON: record field order, and which maps are union wrappers.
type node struct {
	typ     string // record, enum, array, map, fixed, union, or a primitive
	logical string
	name    string // full name of a named type
	fields  []field
	items   *node // array items or map values
	union   []*node
}

type field struct {
	name string
	typ  *node
}

type parser struct{ named map[string]*node }

var primitives = map[string]bool{
	"null": true, "boolean": true, "int": true, "long": true,
	"float": true, "double": true, "bytes": true, "string": true,
}

func (p *parser) parse(v any, ns string) (*node, error) {
	switch v := v.(type) {
	case string:
		if primitives[v] {
			return &node{typ: v}, nil
		}
		if n := p.named[fullName(v, ns)]; n != nil {
			return n, nil
		}
		if n := p.named[v]; n != nil {
			return n, nil
		}
		return nil, fmt.Errorf("unknown type %q", v)
	case []any:
		n := &node{typ: "union"}
		for _, b := range v {
			bn, err := p.parse(b, ns)
			if err != nil {
				return nil, err
			}
			n.union = append(n.union, bn)
		}
		return n, nil
	case map[string]any:
		t, _ := v["type"].(string)
		switch t {
		case "record", "error", "enum", "fixed":
			name, _ := v["name"].(string)
			if space, ok := v["namespace"].(string); ok && !containsDot(name) {
				ns = space
			}
			full := fullName(name, ns)
			if containsDot(name) {
				ns = name[:lastDot(name)]
			}
			n := &node{typ: t, name: full}
			p.named[full] = n
			if t == "error" {
				n.typ = "record"
			}
			if n.typ == "record" {
				fs, _ := v["fields"].([]any)
				for _, f := range fs {
					fm, _ := f.(map[string]any)
					fname, _ := fm["name"].(string)
					ft, err := p.parse(fm["type"], ns)
					if err != nil {
						return nil, fmt.Errorf("field %s: %w", fname, err)
					}
					n.fields = append(n.fields, field{name: fname, typ: ft})
				}
			}
			return n, nil
		case "array", "map":
			key := "items"
			if t == "map" {
				key = "values"
			}
			in, err := p.parse(v[key], ns)
			if err != nil {
				return nil, err
			}
			return &node{typ: t, items: in}, nil
		case "":
			return p.parse(v["type"], ns)
		}
		n, err := p.parse(t, ns)
		if err != nil {
			return nil, err
		}
		if lt, ok := v["logicalType"].(string); ok && primitives[t] {
			return &node{typ: t, logical: lt}, nil
		}
		return n, nil
	}
	return nil, fmt.Errorf("unexpected schema element %T", v)
}

func fullName(name, ns string) string {
	if containsDot(name) || ns == "" {
		return name
	}
	return ns + "." + name
}

func containsDot(s string) bool { return lastDot(s) >= 0 }

func unqualified(name string) string { return name[lastDot(name)+1:] }

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

// branchName is the key goavro wraps a union value of n in.
func branchName(n *node) string {
	if n.name != "" {
		return n.name
	}
	return n.typ
}

// appendJSON renders goavro's native form v of type n as plain JSON.
func appendJSON(b []byte, n *node, v any) ([]byte, error) {
	if n.typ == "union" {
		if v == nil {
			return append(b, "null"...), nil
		}
		w, ok := v.(map[string]any)
		if !ok || len(w) != 1 {
			return nil, fmt.Errorf("union value %T is not a one-key map", v)
		}
		for key, val := range w {
			return appendJSON(b, pickBranch(n, key), val)
		}
	}
	if v == nil {
		return append(b, "null"...), nil
	}
	switch n.typ {
	case "record":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("record %s: got %T", n.name, v)
		}
		b = append(b, '{')
		for i, f := range n.fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, f.name)
			b = append(b, ':')
			var err error
			if b, err = appendJSON(b, f.typ, m[f.name]); err != nil {
				return nil, fmt.Errorf("%s: %w", f.name, err)
			}
		}
		return append(b, '}'), nil
	case "array":
		a, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("array: got %T", v)
		}
		b = append(b, '[')
		for i, e := range a {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, n.items, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("map: got %T", v)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendJSON(b, n.items, m[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	}
	switch v := v.(type) {
	case time.Time:
		switch n.logical {
		case "timestamp-millis", "local-timestamp-millis":
			return appendJSONString(b, v.UTC().Format("2006-01-02T15:04:05.000Z")), nil
		case "date":
			return appendJSONString(b, v.UTC().Format("2006-01-02")), nil
		}
		return appendJSONString(b, v.UTC().Format("2006-01-02T15:04:05.000000Z")), nil
	case string:
		return appendJSONString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case float32:
		return appendFloat(b, float64(v), 32), nil
	case float64:
		return appendFloat(b, v, 64), nil
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

// pickBranch finds the union branch goavro named key; a ["null", T] union has
// only one candidate whatever goavro calls it.
func pickBranch(n *node, key string) *node {
	var nonNull *node
	count := 0
	for _, br := range n.union {
		if branchName(br) == key {
			return br
		}
		if br.typ != "null" {
			nonNull = br
			count++
		}
	}
	if count == 1 {
		return nonNull
	}
	return &node{typ: key}
}

func appendFloat(b []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return appendJSONString(b, strconv.FormatFloat(f, 'g', -1, bits))
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

func appendJSONString(b []byte, s string) []byte {
	j, _ := json.Marshal(s) // a string always marshals
	return append(b, j...)
}
