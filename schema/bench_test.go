package schema

import (
	"testing"
	"time"
)

// BenchmarkEncode encodes a typical customer (2 addresses, 2 contact methods,
// 2 extensions) into a reused buffer, as a publisher does record after record:
// the event is built from the customer (its eventId's SHA-1 included), then
// appended.
func BenchmarkEncode(b *testing.B) {
	enc := mustEncoder(b)
	c := typicalCustomer()
	prev := int64(6)
	captured := time.Date(2024, 11, 7, 8, 47, 1, 234567891, time.UTC)
	src := Source{System: "cova", Endpoint: "/crm/v1/Companies(118833)/CustomerFull", ScanID: "scan-0001"}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		ev := NewCustomerChanged(118833, c)
		ev.ChangeType, ev.PreviousVersion, ev.CapturedAt, ev.Source = Updated, &prev, captured, src
		var err error
		if buf, err = enc.Append(buf[:0], &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeGoavro is the same event through goavro's native form and
// BinaryFromNative: the reference encoder the generated one replaces.
func BenchmarkEncodeGoavro(b *testing.B) {
	rs, err := writer()
	if err != nil {
		b.Fatal(err)
	}
	ev := eventOf(typicalCustomer(), Updated, ptr(int64(6)))
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = rs.codec.BinaryFromNative(buf[:0], nativeCustomerChanged(ev)); err != nil {
			b.Fatal(err)
		}
	}
}
