package schema

import "errors"

// ErrIncompatibleSchema means the Schema Registry refused to register the writer
// schema because it breaks the compatibility rule of the subject (HTTP 409). The
// subject holds a schema this build cannot evolve from: fix the subject's
// compatibility setting or the schema, not the retry count.
var ErrIncompatibleSchema = errors.New("the Schema Registry rejected the CustomerChanged writer schema as incompatible with the subject's registered versions")

// ErrUnknownSchema means an encoded event names a writer schema the decoder does
// not have: an unknown single-object fingerprint, or a registry id while no
// registry is configured.
var ErrUnknownSchema = errors.New("schema: unknown writer schema")

// ErrNotEvent means the bytes are neither Avro single-object encoding nor the
// Confluent wire format.
var ErrNotEvent = errors.New("schema: not an encoded CustomerChanged event")
