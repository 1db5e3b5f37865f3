package poller

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/schema"
)

// schemaHeader is the length of the single-object header: the marker and the
// writer schema's fingerprint.
const schemaHeader = 10

// TestEventsAsAnEarlierBuildWroteThem decodes the Cova rows of
// testdata/events-v1.txt and encodes the event of each: while the schema is
// the one they were written with, the bytes are those the covacdc before the
// generated types and encoder wrote for the same row and envelope, so
// consumers and de-duplication by content see no change. Once the schema has
// gained a field, the earlier events must still read as the same changes.
func TestEventsAsAnEarlierBuildWroteThem(t *testing.T) {
	f, err := os.Open("testdata/events-v1.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	enc, err := schema.NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	dec, err := schema.NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	i := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		raw, hexEvent, ok := strings.Cut(sc.Text(), "\t")
		want, err := hex.DecodeString(hexEvent)
		if !ok || err != nil {
			t.Fatalf("row %d: not a row and an event in hex (%v)", i, err)
		}
		c, err := DecodeCustomer([]byte(raw))
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		ev := schema.NewCustomerChanged(118833, &c)
		ev.ChangeType = schema.ChangeType(i % 3)
		ev.CapturedAt = time.Date(2024, 11, 7, 8, 47, 1, 234567891, time.UTC).Add(time.Duration(i) * time.Hour)
		ev.Source = schema.Source{System: "cova", Endpoint: "/crm/v1/Companies(118833)/CustomerFull", ScanID: fmt.Sprintf("scan-%04d", i)}
		if ev.ChangeType == schema.Updated {
			prev := c.Version - 1
			ev.PreviousVersion = &prev
		}
		got, err := enc.Append(nil, &ev)
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if bytes.Equal(got[:schemaHeader], want[:schemaHeader]) {
			if !bytes.Equal(got, want) {
				n := 0
				for n < min(len(got), len(want)) && got[n] == want[n] {
					n++
				}
				t.Errorf("row %d (customer %s): event differs from the earlier build's at byte %d of %d", i, c.Id, n, len(want))
			}
		} else {
			// The schema has gained a field since: the bytes differ with it,
			// and the earlier event must still read as the same change.
			if i == 0 {
				t.Logf("testdata/events-v1.txt was written with an earlier release of the schema: checking that its events read, not their bytes")
			}
			var old schema.CustomerChanged
			if err := dec.Decode(context.Background(), want, &old); err != nil {
				t.Fatalf("row %d: the earlier build's event does not read: %v", i, err)
			}
			if old.EventID != ev.EventID || old.ChangeType != ev.ChangeType || old.CustomerID != ev.CustomerID ||
				old.Version != ev.Version || !old.CapturedAt.Equal(ev.CapturedAt.Truncate(time.Millisecond)) ||
				(old.PreviousVersion == nil) != (ev.PreviousVersion == nil) {
				t.Errorf("row %d: the earlier build's event reads as\n%+v\nwant the change of\n%+v", i, old, ev)
			}
		}
		i++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if i != 65 {
		t.Fatalf("%d rows read, want 65", i)
	}
}
