package poller

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/covacdc/covacdc/schema"
)

// FuzzDecodeCustomer checks that the hand-written decoder never panics, accepts
// only valid JSON, and returns either a Customer meeting its contract or a
// RecordError carrying the input verbatim. Seeds: testdata/fuzz/FuzzDecodeCustomer
// plus the ones added here.
func FuzzDecodeCustomer(f *testing.F) {
	f.Add(typicalRecord(f))
	f.Add([]byte(`{"Id":"45b95f03-9774-4302-9212-018ff0fd33b5","Version":1,"LastModifiedDateUtc":"2018-06-05T02:41:56.61","PricingGroupId":{},"MergedIntoCustomerId":{}}`))
	f.Add([]byte(`{"Id":"45b95f03-9774-4302-9212-018ff0fd33b5","Version":1e3,"LastModifiedDateUtc":"2018-06-05T02:41:56+01:00","Addresses":[{"Zip":1}],"Notes":"\u00e9\n"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := DecodeCustomer(raw)
		if err != nil {
			var re *RecordError
			if !errors.As(err, &re) || !bytes.Equal(re.Raw, raw) || re.Reason == "" {
				t.Fatalf("error %v is not a RecordError with the raw record", err)
			}
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("accepted invalid JSON %q", raw)
		}
		id, ok := schema.ParseGUID(c.Id)
		if !ok || id != c.IdBytes {
			t.Fatalf("Id %q IdBytes %x", c.Id, c.IdBytes)
		}
		if c.LastModifiedDateUtc.Time.Location() != time.UTC || c.LastModifiedDateUtc.Raw == "" {
			t.Fatalf("LastModifiedDateUtc %+v", c.LastModifiedDateUtc)
		}
		// The standard library agrees on the scalar fields both read alike.
		var ref struct {
			Version    json.Number
			FamilyName *string
		}
		if json.Unmarshal(raw, &ref) == nil {
			if ref.FamilyName != nil && (c.FamilyName == nil || *c.FamilyName != *ref.FamilyName) {
				t.Fatalf("FamilyName %v, encoding/json %q", c.FamilyName, *ref.FamilyName)
			}
			if v, err := ref.Version.Int64(); err == nil && v != c.Version {
				t.Fatalf("Version %d, encoding/json %d", c.Version, v)
			}
		}
	})
}

// FuzzElemReader checks the array splitter against encoding/json: for a valid
// array it yields the same elements, read through a reader that returns one
// byte at a time to exercise every buffer boundary.
func FuzzElemReader(f *testing.F) {
	f.Add([]byte(`[{"a":"]}\""},[1,[2]],"x",-1.5e3,true,null]`))
	f.Add([]byte(` [ ] `))
	f.Add([]byte("\xEF\xBB\xBF[{}]"))
	f.Fuzz(func(t *testing.T, body []byte) {
		var want []json.RawMessage
		valid := json.Unmarshal(body, &want) == nil && bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("["))
		er := newElemReader(&oneByte{body}, -1)
		var got [][]byte
		for {
			el, err := er.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if valid {
					t.Fatalf("valid array %q: %v", body, err)
				}
				return
			}
			got = append(got, bytes.Clone(el))
		}
		if !valid {
			return // the decoder rejects what the splitter lets through
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d elements, want %d", body, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("element %d: %q, want %q", i, got[i], want[i])
			}
		}
	})
}

type oneByte struct{ b []byte }

func (r *oneByte) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}
