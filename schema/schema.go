// Package schema is the Avro contract of covacdc's events: the CustomerChanged
// writer schema (customer_changed.avsc, embedded), the Go types of the event and
// of the Cova customer it carries (generated from the schema), the encoders that
// turn an event into bytes, either Avro single-object encoding or, with a Schema
// Registry, the Confluent wire format, and the Decoder that turns those bytes
// back into the Go types or into JSON. It is the package a Go consumer imports:
// it does not talk to Cova, holds no metrics, and reaches Kafka brokers not at
// all and a Schema Registry only through the client it is given.
//
// The schema is a public contract read by consumers for years: it only ever gains
// fields with defaults, and every released version is kept in testdata and checked
// for full (backward and forward) compatibility with the current one.
package schema

import (
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/linkedin/goavro/v2"
)

//go:embed customer_changed.avsc
var writerSchema string

// WriterSchema is the CustomerChanged .avsc text this build writes.
func WriterSchema() string { return writerSchema }

// writer is the embedded schema, parsed once.
var writer = sync.OnceValues(func() (*readSchema, error) {
	rs, err := parseSchema(writerSchema)
	if err != nil {
		return nil, fmt.Errorf("schema: embedded customer_changed.avsc: %w", err)
	}
	return rs, nil
})

// readSchema is one writer schema: goavro's codec (the reference encoder and the
// decoder), its Parsing Canonical Form and fingerprint, and the outline that
// renders decoded values as plain JSON.
type readSchema struct {
	codec     *goavro.Codec
	canonical string
	fp        uint64
	root      *node
}

func parseSchema(text string) (*readSchema, error) {
	c, err := goavro.NewCodec(text)
	if err != nil {
		return nil, err
	}
	canonical := canonicalForm(c)
	// goavro computes the fingerprint: the canonical form is its own canonical form.
	cc, err := goavro.NewCodec(canonical)
	if err != nil {
		return nil, fmt.Errorf("canonical form: %w", err)
	}
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, err
	}
	root, err := (&parser{named: map[string]*node{}}).parse(v, "")
	if err != nil {
		return nil, err
	}
	return &readSchema{codec: c, canonical: canonical, fp: cc.Rabin, root: root}, nil
}

// canonicalForm returns the Parsing Canonical Form of the Avro specification, the
// one Java's SchemaNormalization.toParsingForm (and so Java's single-object
// BinaryMessageDecoder) fingerprints. goavro's CanonicalSchema, like Python avro
// 1.11, keeps a logical type's primitive as {"type":"long"}; the specification's
// [PRIMITIVES] and [STRIP] rules make it "long". The rewrite is safe because the
// canonical form holds nothing but type syntax, names and symbols.
func canonicalForm(c *goavro.Codec) string {
	s := c.CanonicalSchema()
	for _, p := range [...]string{"null", "boolean", "int", "long", "float", "double", "bytes", "string"} {
		s = strings.ReplaceAll(s, `{"type":"`+p+`"}`, `"`+p+`"`)
	}
	return s
}

// Fingerprint returns the CRC-64-AVRO (Rabin) fingerprint of the writer schema's
// Parsing Canonical Form, the one single-object encoding puts in its header.
func Fingerprint() uint64 {
	rs, err := writer()
	if err != nil {
		panic(err) // the embedded schema is checked by the tests; it cannot fail at run time
	}
	return rs.fp
}

// CanonicalSchema returns the writer schema's Parsing Canonical Form, as the Avro
// specification and Java's SchemaNormalization define it.
func CanonicalSchema() string {
	rs, err := writer()
	if err != nil {
		panic(err)
	}
	return rs.canonical
}

// soeHeader returns the single-object encoding header of a schema fingerprint:
// the marker C3 01, then the fingerprint in little-endian order.
func soeHeader(fp uint64) []byte {
	h := make([]byte, 10)
	h[0], h[1] = 0xC3, 0x01
	binary.LittleEndian.PutUint64(h[2:], fp)
	return h
}
