package schema

import "encoding/binary"

// Format is how an event's value is framed: the header in front of the Avro
// body. One events topic should hold one format only: a consumer set up for
// one cannot read the other (a Confluent deserializer fails on single-object
// encoding, Avro's BinaryMessageDecoder on the Confluent wire format).
type Format int

const (
	// FormatUnknown is neither framing: not a covacdc event.
	FormatUnknown Format = iota
	// FormatSingleObject is Avro single-object encoding: C3 01, the 8-byte
	// fingerprint of the writer schema, the body. Written without a registry.
	FormatSingleObject
	// FormatRegistry is the Confluent Schema Registry wire format: byte 0, the
	// 4-byte big-endian schema id, the body. Written with --schema-registry-url.
	FormatRegistry
)

// String names the format as the README and error messages do.
func (f Format) String() string {
	switch f {
	case FormatSingleObject:
		return "Avro single-object encoding (no Schema Registry)"
	case FormatRegistry:
		return "the Confluent Schema Registry wire format"
	}
	return "an unknown encoding"
}

// FormatOf tells how b is framed from its first bytes alone; it does not read
// the body, so a truncated or corrupt event still has a format.
func FormatOf(b []byte) Format {
	switch {
	case len(b) >= 10 && b[0] == 0xC3 && b[1] == 0x01:
		return FormatSingleObject
	case len(b) >= 5 && b[0] == 0:
		return FormatRegistry
	}
	return FormatUnknown
}

// RegistryID returns the schema id of an event in FormatRegistry, and false for
// any other format.
func RegistryID(b []byte) (int, bool) {
	if FormatOf(b) != FormatRegistry {
		return 0, false
	}
	return int(binary.BigEndian.Uint32(b[1:5])), true
}

// Format is the format of every event the encoder writes.
func (e *Encoder) Format() Format { return FormatOf(e.header) }
