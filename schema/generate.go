package schema

// The Go types of the event, their Avro encoder and their reading from any
// writer schema (*_gen.go here), and the poller's mapping of Cova's JSON onto
// them (poller/decode_gen.go), are generated from customer_changed.avsc: edit
// the schema, then run go generate ./schema. TestGeneratedCodeIsCurrent in
// ./internal/avrogen fails while they are stale.

//go:generate go run ./internal/avrogen
