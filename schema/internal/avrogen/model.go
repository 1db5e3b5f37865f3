package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
)

// rep is how Go holds a field.
type rep int

const (
	repString    rep = iota // string
	repLong                 // int64
	repInt                  // int32
	repBool                 // bool
	repTime                 // time.Time (timestamp-micros or timestamp-millis)
	repRecord               // the record's struct
	repEnum                 // the enum's type
	repRecords              // a slice of the record's struct
	repTimestamp            // Timestamp
	repGUID                 // string, and [16]byte in <Name>Bytes
	repUUID                 // UUID
	repRawJSON              // []json.RawMessage
)

// goField is a field with its Go representation decided.
type goField struct {
	*field
	goName   string
	rep      rep
	optional bool   // a ["null", T] union: null is a nil pointer or a nil slice
	pointer  bool   // a required record held by pointer (the pointer rule)
	unit     string // "micro" or "milli", for repTime
	record   *record
	enum     *enum
	json     covaJSON
	missing  string // the RecordError reason when Cova omits a required field
}

// goRecord is a record with its fields' Go representations.
type goRecord struct {
	*record
	fields []*goField
	cova   bool // Cova's own record or one it holds: the poller fills it from JSON
}

// model is the whole schema as the emitters see it: every record and enum,
// each once, in the order they are defined.
type model struct {
	root    *goRecord
	records []*goRecord
	enums   []*enum
}

func buildModel(root *record) (*model, error) {
	m := &model{}
	seen := map[*record]*goRecord{}
	used := map[string]bool{}
	var walk func(r *record, cova bool) (*goRecord, error)
	walk = func(r *record, cova bool) (*goRecord, error) {
		if g := seen[r]; g != nil {
			return g, nil
		}
		cova = cova || r.name == covaRecord
		g := &goRecord{record: r, cova: cova}
		seen[r] = g
		m.records = append(m.records, g)
		for _, f := range r.fields {
			rl, ok := rules[f.path()]
			used[f.path()] = ok
			gf, err := goFieldOf(f, rl, cova && r.name == covaRecord)
			if err != nil {
				return nil, err
			}
			if err := gf.checkDefault(); err != nil {
				return nil, err
			}
			if cova {
				if !gf.optional && r.name != covaRecord {
					return nil, fmt.Errorf("%s: a required field is supported only in %s itself", f.path(), covaRecord)
				}
				if _, ok := covaExpr(gf); !ok {
					return nil, fmt.Errorf("%s: the poller has no reader for a %s %s in Cova's JSON; teach avrogen and poller/decode.go", f.path(), map[bool]string{true: "nullable", false: "required"}[gf.optional], gf.goType(""))
				}
			}
			if gf.record != nil {
				if _, err := walk(gf.record, cova); err != nil {
					return nil, err
				}
			}
			if gf.enum != nil && !slices.Contains(m.enums, gf.enum) {
				m.enums = append(m.enums, gf.enum)
			}
			g.fields = append(g.fields, gf)
		}
		return g, nil
	}
	var err error
	if m.root, err = walk(root, false); err != nil {
		return nil, err
	}
	for _, path := range slices.Sorted(maps.Keys(rules)) {
		if !used[path] {
			return nil, fmt.Errorf("rule for %s: the schema has no such field", path)
		}
	}
	if !slices.ContainsFunc(m.records, func(g *goRecord) bool { return g.name == covaRecord }) {
		return nil, fmt.Errorf("the schema has no record %s (covaRecord)", covaRecord)
	}
	return m, nil
}

// goFieldOf decides the Go representation of f: its Avro type's, unless its
// rule says otherwise. inCova says whether f is a field of covaRecord itself.
func goFieldOf(f *field, rl rule, inCova bool) (*goField, error) {
	if rl != (rule{}) {
		g := &goField{field: f, goName: goName(f.name), optional: f.typ.nullable() != nil}
		return g, g.apply(rl, inCova)
	}
	g := &goField{field: f, goName: goName(f.name)}
	t := f.typ
	if n := t.nullable(); n != nil {
		g.optional, t = true, n
	} else if t.kind == "union" {
		return nil, fmt.Errorf("%s: only [\"null\", T] unions are supported", f.path())
	}
	switch t.kind {
	case "string":
		g.rep = repString
	case "int":
		g.rep = repInt
	case "boolean":
		g.rep = repBool
	case "long":
		g.rep = repLong
		switch t.logical {
		case "timestamp-micros":
			g.rep, g.unit = repTime, "micro"
		case "timestamp-millis":
			g.rep, g.unit = repTime, "milli"
		case "":
		default:
			return nil, fmt.Errorf("%s: logical type %s is not supported", f.path(), t.logical)
		}
	case "record":
		g.rep, g.record = repRecord, t.record
	case "enum":
		g.rep, g.enum = repEnum, t.enum
	case "array":
		switch t.items.kind {
		case "record":
			g.rep, g.record = repRecords, t.items.record
		default:
			return nil, fmt.Errorf("%s: arrays of %s need a rule in rules.go (only arrays of records are plain)", f.path(), t.items.kind)
		}
	default:
		return nil, fmt.Errorf("%s: type %s is not supported", f.path(), t.kind)
	}
	if t.logical != "" && g.rep != repTime {
		return nil, fmt.Errorf("%s: logical type %s is not supported", f.path(), t.logical)
	}
	return g, g.supported()
}

// apply changes g's representation as its rule says; cova says whether g is a
// field of covaRecord itself.
func (g *goField) apply(r rule, cova bool) error {
	t := g.typ
	if n := t.nullable(); n != nil {
		t = n
	}
	switch r.special {
	case timestamp:
		if t.kind != "string" {
			return fmt.Errorf("rule for %s: a timestamp must be a string", g.path())
		}
		g.rep = repTimestamp
	case guid:
		if t.kind != "string" || g.optional {
			return fmt.Errorf("rule for %s: a guid must be a required string", g.path())
		}
		g.rep = repGUID
	case uuid:
		if t.kind != "string" || g.optional {
			return fmt.Errorf("rule for %s: a uuid must be a required string", g.path())
		}
		g.rep = repUUID
	case rawJSON:
		if t.kind != "array" || t.items.kind != "string" || !g.optional {
			return fmt.Errorf("rule for %s: raw JSON elements must be a nullable array of strings", g.path())
		}
		g.rep = repRawJSON
	case plain, pointer:
		p, err := goFieldOf(g.field, rule{}, cova)
		if err != nil {
			return err
		}
		*g = *p
		if r.special == pointer {
			if g.rep != repRecord || g.optional {
				return fmt.Errorf("rule for %s: pointer is for a required record", g.path())
			}
			g.pointer = true
		}
	default:
		return fmt.Errorf("rule for %s: unknown representation %d", g.path(), r.special)
	}
	g.json, g.missing = r.json, r.missing
	switch {
	case r.json == numberOrString && !(g.rep == repString && g.optional):
		return fmt.Errorf("rule for %s: numberOrString needs a nullable string", g.path())
	case r.json == emptyObjectIsNull && !((g.rep == repString || g.rep == repLong) && g.optional):
		return fmt.Errorf("rule for %s: emptyObjectIsNull needs a nullable string or long", g.path())
	case r.missing != "" && (g.optional || !cova):
		return fmt.Errorf("rule for %s: a missing reason is for required fields of %s", g.path(), covaRecord)
	}
	return g.supported()
}

// supported reports an error for a representation the emitters have no code for.
func (g *goField) supported() error {
	ok := true
	switch g.rep {
	case repInt, repTime, repRecord, repEnum, repGUID, repUUID:
		ok = !g.optional
	case repBool:
		ok = g.optional
	case repRecords, repRawJSON:
		ok = g.optional
	}
	if !ok {
		what := "required"
		if g.optional {
			what = "nullable"
		}
		return fmt.Errorf("%s: a %s %s is not supported; teach avrogen", g.path(), what, g.goType(""))
	}
	return nil
}

// checkDefault makes sure that Go's zero value is the field's default, so that
// a field a writer schema lacks can be left as it is when an event is read.
func (g *goField) checkDefault() error {
	if !g.hasDefault {
		return nil
	}
	switch d := g.def.(type) {
	case nil:
		if g.optional {
			return nil
		}
	case float64:
		if d == 0 && (g.rep == repLong || g.rep == repInt) {
			return nil
		}
	case bool:
		if !d && g.rep == repBool {
			return nil
		}
	case string:
		if d == "" && g.rep == repString {
			return nil
		}
	}
	return fmt.Errorf("%s: default %v is not the zero value of its Go type; teach avrogen", g.path(), g.def)
}

// missingReason is the RecordError reason of a Cova record without g.
func (g *goField) missingReason() string {
	if g.missing != "" {
		return g.missing
	}
	var b strings.Builder
	b.WriteString("missing_")
	for i, r := range g.name {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// goName is the Go name of an Avro field. Cova's own names (PascalCase) are
// kept exactly as Cova spells them; covacdc's lowerCamel names become Go style,
// with a trailing Id written ID.
func goName(avro string) string {
	if avro == "" || unicode.IsUpper(rune(avro[0])) {
		return avro
	}
	s := strings.ToUpper(avro[:1]) + avro[1:]
	if strings.HasSuffix(s, "Id") {
		s = s[:len(s)-2] + "ID"
	}
	return s
}

// symbolName is the Go constant of an enum symbol: SNAPSHOT becomes Snapshot,
// SOME_THING SomeThing.
func symbolName(sym string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(strings.ToLower(sym), "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// goType is the Go type of g in package pkg ("" for the schema package itself,
// "schema." from another).
func (g *goField) goType(pkg string) string {
	var t string
	switch g.rep {
	case repString, repGUID:
		t = "string"
	case repLong:
		t = "int64"
	case repInt:
		t = "int32"
	case repBool:
		t = "bool"
	case repTime:
		t = "time.Time"
	case repRecord:
		t = pkg + g.record.name
		if g.pointer {
			return "*" + t
		}
	case repEnum:
		t = pkg + g.enum.name
	case repRecords:
		return "[]" + pkg + g.record.name
	case repTimestamp:
		t = pkg + "Timestamp"
	case repUUID:
		t = pkg + "UUID"
	case repRawJSON:
		return "[]json.RawMessage"
	}
	if g.optional {
		return "*" + t
	}
	return t
}
