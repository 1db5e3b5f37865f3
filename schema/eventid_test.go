package schema

import (
	"encoding/json"
	"testing"
)

func TestUUID5KnownVector(t *testing.T) {
	// RFC 9562's DNS namespace and "python.org": the classic published UUIDv5 example.
	dns := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	got := uuid5(append(dns[:], "python.org"...)).String()
	if got != "886313e1-3b8a-5372-9b90-0c9aee199e5d" {
		t.Fatalf("uuid5(DNS, python.org) = %s", got)
	}
	// The namespace is what its doc says it is.
	url := [16]byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	ns := uuid5(append(url[:], "https://github.com/covacdc/covacdc#CustomerChanged.eventId"...)).String()
	if ns != "85564125-acc1-51f5-8842-0564520ae168" || ns != uuidText(eventIDNamespace) {
		t.Fatalf("event id namespace %s, constant %s", ns, uuidText(eventIDNamespace))
	}
}

func uuidText(u [16]byte) string {
	const hex = "0123456789abcdef"
	var out []byte
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[b>>4], hex[b&0xf])
	}
	return string(out)
}

func TestEventID(t *testing.T) {
	const id = "45b95f03-9774-4302-9212-018ff0fd33b5"
	// Computed independently: python3 -c 'import uuid; print(uuid.uuid5(uuid.UUID("85564125-acc1-51f5-8842-0564520ae168"), "1/45b95f03-9774-4302-9212-018ff0fd33b5/15"))'
	if got := EventID(1, id, 15).String(); got != "c0257f59-80ad-503f-b2ac-e62afc9cf387" {
		t.Errorf("EventID(1, %s, 15) = %s", id, got)
	}
	if EventID(1, id, 15) != EventID(1, "45B95F03-9774-4302-9212-018FF0FD33B5", 15) {
		t.Error("the id depends on the GUID's letter case")
	}
	seen := map[UUID]bool{}
	for _, c := range []struct {
		company int64
		version int64
	}{{1, 15}, {2, 15}, {1, 16}, {11, 5}, {1, 15}} {
		seen[EventID(c.company, id, c.version)] = true
	}
	if len(seen) != 4 {
		t.Errorf("%d distinct ids for 4 distinct triples", len(seen))
	}
	// "1/1/5" must not collide with "11/5" style ambiguity: the separator prevents it.
	if EventID(1, "1", 5) == EventID(11, "", 5) {
		t.Error("ids of different triples collide")
	}
}

func TestUUIDText(t *testing.T) {
	const text = "85564125-acc1-51f5-8842-0564520ae168"
	u, err := ParseUUID("85564125-ACC1-51F5-8842-0564520AE168")
	if err != nil || u != UUID(eventIDNamespace) || u.String() != text {
		t.Fatalf("ParseUUID: %v, %v", u, err)
	}
	j, err := json.Marshal(u)
	if err != nil || string(j) != `"`+text+`"` {
		t.Errorf("json.Marshal: %s, %v", j, err)
	}
	var back UUID
	if err := json.Unmarshal(j, &back); err != nil || back != u {
		t.Errorf("json.Unmarshal: %v, %v", back, err)
	}
	for _, bad := range []string{"", "{85564125-acc1-51f5-8842-0564520ae168}", "85564125-acc1-51f5-8842-0564520ae16g", "85564125acc151f588420564520ae168"} {
		if _, err := ParseUUID(bad); err == nil {
			t.Errorf("ParseUUID(%q) accepted", bad)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = EventID(118833, "9d2f7c1e-3b4a-4f6d-8e2c-1a0b9c8d7e6f", 7) }); n != 0 {
		t.Errorf("EventID allocates %v times", n)
	}
}
