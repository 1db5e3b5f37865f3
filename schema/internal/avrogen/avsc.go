package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

// avroType is one type of the schema, as far as the generator understands Avro.
type avroType struct {
	kind    string // null, boolean, int, long, string, record, enum, array or union
	logical string // logicalType of a primitive, e.g. timestamp-micros
	record  *record
	enum    *enum
	items   *avroType   // array items
	union   []*avroType // union branches
}

// record is a named record type and its fields in the schema's order (the
// order of the binary encoding).
type record struct {
	name   string // short name, also the Go type's name
	full   string // namespace-qualified name
	doc    string
	fields []*field
}

// enum is a named enum type; its binary form is the index of the symbol.
type enum struct {
	name, full, doc string
	symbols         []string
	def             string // the symbol an unknown symbol reads as; "" when none
}

// field is one field of a record.
type field struct {
	owner      *record
	name       string
	doc        string
	typ        *avroType
	hasDefault bool
	def        any
}

// path names a field as the rule table does: "Record.field".
func (f *field) path() string { return f.owner.name + "." + f.name }

// parseAvsc reads an .avsc document. Named types may be referred to by name
// after their definition; anything the generator does not handle (maps, fixed,
// bytes, floating point, references to types not yet defined) is an error
// naming where it was met.
func parseAvsc(text []byte) (*record, error) {
	var v any
	if err := json.Unmarshal(text, &v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	p := &avscParser{named: map[string]*avroType{}}
	t, err := p.parse(v, "", "schema")
	if err != nil {
		return nil, err
	}
	if t.kind != "record" {
		return nil, fmt.Errorf("the schema is a %s, not a record", t.kind)
	}
	return t.record, nil
}

type avscParser struct {
	named map[string]*avroType
}

func (p *avscParser) parse(v any, ns, where string) (*avroType, error) {
	switch v := v.(type) {
	case string:
		switch v {
		case "null", "boolean", "int", "long", "string":
			return &avroType{kind: v}, nil
		}
		if t := p.named[qualify(v, ns)]; t != nil {
			return t, nil
		}
		return nil, fmt.Errorf("%s: type %q is not one avrogen handles or not defined before its use", where, v)
	case []any:
		u := &avroType{kind: "union"}
		for i, b := range v {
			bt, err := p.parse(b, ns, fmt.Sprintf("%s branch %d", where, i))
			if err != nil {
				return nil, err
			}
			u.union = append(u.union, bt)
		}
		return u, nil
	case map[string]any:
		kind, _ := v["type"].(string)
		switch kind {
		case "record":
			return p.parseRecord(v, ns, where)
		case "enum":
			return p.parseEnum(v, ns, where)
		case "array":
			items, err := p.parse(v["items"], ns, where+" items")
			if err != nil {
				return nil, err
			}
			return &avroType{kind: "array", items: items}, nil
		case "":
			return p.parse(v["type"], ns, where)
		}
		t, err := p.parse(kind, ns, where)
		if err != nil {
			return nil, err
		}
		if lt, ok := v["logicalType"].(string); ok {
			if t.kind == "record" || t.kind == "enum" {
				return nil, fmt.Errorf("%s: logicalType on a named type", where)
			}
			return &avroType{kind: t.kind, logical: lt}, nil
		}
		return t, nil
	}
	return nil, fmt.Errorf("%s: unexpected schema element %T", where, v)
}

func (p *avscParser) define(v map[string]any, ns, where string) (name, full, newNS string, err error) {
	name, _ = v["name"].(string)
	if name == "" {
		return "", "", "", fmt.Errorf("%s: a named type without a name", where)
	}
	if space, ok := v["namespace"].(string); ok && !strings.Contains(name, ".") {
		ns = space
	}
	full = qualify(name, ns)
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		name, newNS = full[i+1:], full[:i]
	}
	if p.named[full] != nil {
		return "", "", "", fmt.Errorf("%s: %s defined twice", where, full)
	}
	return name, full, newNS, nil
}

func (p *avscParser) parseRecord(v map[string]any, ns, where string) (*avroType, error) {
	name, full, ns, err := p.define(v, ns, where)
	if err != nil {
		return nil, err
	}
	r := &record{name: name, full: full}
	r.doc, _ = v["doc"].(string)
	t := &avroType{kind: "record", record: r}
	p.named[full] = t
	fs, ok := v["fields"].([]any)
	if !ok {
		return nil, fmt.Errorf("record %s has no fields", full)
	}
	for i, fv := range fs {
		fm, ok := fv.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("record %s field %d is not an object", full, i)
		}
		f := &field{owner: r}
		f.name, _ = fm["name"].(string)
		f.doc, _ = fm["doc"].(string)
		if f.name == "" {
			return nil, fmt.Errorf("record %s field %d has no name", full, i)
		}
		f.def, f.hasDefault = fm["default"]
		if f.typ, err = p.parse(fm["type"], ns, f.path()); err != nil {
			return nil, err
		}
		r.fields = append(r.fields, f)
	}
	return t, nil
}

func (p *avscParser) parseEnum(v map[string]any, ns, where string) (*avroType, error) {
	name, full, _, err := p.define(v, ns, where)
	if err != nil {
		return nil, err
	}
	e := &enum{name: name, full: full}
	e.doc, _ = v["doc"].(string)
	e.def, _ = v["default"].(string)
	syms, _ := v["symbols"].([]any)
	for _, s := range syms {
		sym, ok := s.(string)
		if !ok || sym == "" {
			return nil, fmt.Errorf("enum %s: symbol %v is not a name", full, s)
		}
		e.symbols = append(e.symbols, sym)
	}
	if len(e.symbols) == 0 {
		return nil, fmt.Errorf("enum %s has no symbols", full)
	}
	t := &avroType{kind: "enum", enum: e}
	p.named[full] = t
	return t, nil
}

func qualify(name, ns string) string {
	if strings.Contains(name, ".") || ns == "" {
		return name
	}
	return ns + "." + name
}

// nullable returns T of a ["null", T] union, or nil for any other type.
func (t *avroType) nullable() *avroType {
	if t.kind == "union" && len(t.union) == 2 && t.union[0].kind == "null" && t.union[1].kind != "null" && t.union[1].kind != "union" {
		return t.union[1]
	}
	return nil
}
