package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

func TestDecoderRejects(t *testing.T) {
	d, err := NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	good, err := mustEncoder(t).Append(nil, eventOf(fullCustomer(), Updated, ptr(int64(3))))
	if err != nil {
		t.Fatal(err)
	}
	wrongFP := append([]byte{}, good...)
	wrongFP[5] ^= 0xff
	for name, c := range map[string]struct {
		b    []byte
		is   error
		text string
	}{
		"json":                {[]byte(`{"eventId":"x"}`), ErrNotEvent, "not an encoded"},
		"empty":               {nil, ErrNotEvent, "not an encoded"},
		"unknown fp":          {wrongFP, ErrUnknownSchema, "fingerprint"},
		"truncated body":      {good[:len(good)-3], nil, "decoding event body"},
		"trailing bytes":      {append(append([]byte{}, good...), 0, 0), nil, "2 bytes left"},
		"registry, no cl":     {[]byte{0, 0, 0, 0, 7, 1, 2}, ErrUnknownSchema, "schema id 7"},
		"short single-object": {good[:9], ErrNotEvent, "not an encoded"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := d.JSON(t.Context(), c.b)
			if err == nil || (c.is != nil && !errors.Is(err, c.is)) || !strings.Contains(err.Error(), c.text) {
				t.Errorf("JSON: error %v, want %v containing %q", err, c.is, c.text)
			}
			ev := *eventOf(nullCustomer(), Created, nil)
			err = d.Decode(t.Context(), c.b, &ev)
			if err == nil || (c.is != nil && !errors.Is(err, c.is)) || !strings.Contains(err.Error(), c.text) {
				t.Errorf("Decode: error %v, want %v containing %q", err, c.is, c.text)
			}
			if !reflect.DeepEqual(ev, CustomerChanged{}) {
				t.Errorf("Decode left %+v after an error, want the zero event", ev)
			}
		})
	}
}

// normalize turns an event into what decoding its encoding gives: the envelope's
// times at the schema's precision, the Go-only fields derived as Decode derives
// them, raw JSON elements as the JSON their text stands for.
func normalize(ev *CustomerChanged) {
	ev.LastModifiedDateUtc = ev.LastModifiedDateUtc.Truncate(time.Microsecond)
	ev.CapturedAt = ev.CapturedAt.Truncate(time.Millisecond)
	ev.Customer.UnknownFields = int(ev.UnknownFieldCount)
	normalizeValue(reflect.ValueOf(ev.Customer).Elem())
}

func normalizeValue(v reflect.Value) {
	switch v.Type() {
	case reflect.TypeFor[Timestamp]():
		t, _ := parseTime(v.Field(0).String())
		v.Field(1).Set(reflect.ValueOf(t))
		return
	case reflect.TypeFor[[]json.RawMessage]():
		for i := range v.Len() {
			v.Index(i).SetBytes(rawJSONOf(rawElement(v.Index(i).Bytes())))
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if text, ok := strings.CutSuffix(f.Name, "Bytes"); ok && f.Type == reflect.TypeFor[[16]byte]() {
				b, _ := ParseGUID(v.FieldByName(text).String())
				v.Field(i).Set(reflect.ValueOf(b))
				continue
			}
			normalizeValue(v.Field(i))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			normalizeValue(v.Elem())
		}
	case reflect.Slice:
		for i := range v.Len() {
			normalizeValue(v.Index(i))
		}
	}
}

// Decode gives back every field of every event the encoder writes, and the
// decoded event encodes to the same bytes.
func TestDecodeRoundTrip(t *testing.T) {
	enc := mustEncoder(t)
	d, err := NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, ev, want *CustomerChanged) {
		t.Helper()
		b, err := enc.Append(nil, ev)
		if err != nil {
			t.Fatal(err)
		}
		var got CustomerChanged
		if err := d.Decode(t.Context(), b, &got); err != nil {
			t.Fatal(err)
		}
		normalize(want)
		if !reflect.DeepEqual(&got, want) {
			g, _ := json.Marshal(&got)
			w, _ := json.Marshal(want)
			t.Fatalf("decoded\n%s\nwant\n%s", g, w)
		}
		again, err := enc.Append(nil, &got)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("the decoded event encodes differently from byte %d (%v)", firstDiff(again, b), err)
		}
	}
	for name, ev := range goldenEvents() {
		t.Run(name, func(t *testing.T) {
			want := *ev
			check(t, ev, &want)
		})
	}
	t.Run("random", func(t *testing.T) {
		seed := rand.NewPCG(7, 7)
		for i := range 300 {
			seed.Seed(7, uint64(i))
			ev := randomEvent(rand.New(seed), coverage{})
			seed.Seed(7, uint64(i))
			want := randomEvent(rand.New(seed), coverage{})
			check(t, ev, want)
		}
	})
}

// The full customer decodes with the Go-only fields a consumer relies on.
func TestDecodeDerivesGoFields(t *testing.T) {
	b, err := mustEncoder(t).Append(nil, eventOf(fullCustomer(), Updated, ptr(int64(14))))
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	var ev CustomerChanged
	if err := d.Decode(t.Context(), b, &ev); err != nil {
		t.Fatal(err)
	}
	c := ev.Customer
	if want, _ := ParseGUID("45B95F03-9774-4302-9212-018FF0FD33B5"); c.IdBytes != want || c.Id != "45B95F03-9774-4302-9212-018FF0FD33B5" {
		t.Errorf("Id %q IdBytes %x", c.Id, c.IdBytes)
	}
	if !c.LastModifiedDateUtc.Time.Equal(time.Date(2024, 11, 7, 8, 46, 32, 71800600, time.UTC)) || c.DateOfBirth.Time != time.Date(1955, 1, 20, 0, 1, 0, 0, time.UTC) {
		t.Errorf("date-times %+v %+v", c.LastModifiedDateUtc, c.DateOfBirth)
	}
	if c.UnknownFields != 2 || ev.UnknownFieldCount != 2 {
		t.Errorf("unknown fields %d, %d", c.UnknownFields, ev.UnknownFieldCount)
	}
	if got, _ := json.Marshal(c.MemberOf); string(got) != `["VIP é\"quoted\"",42,null]` {
		t.Errorf("MemberOf %s", got)
	}
	if ev.EventID != EventID(118833, c.Id, 15) || ev.ChangeType != Updated || *ev.PreviousVersion != 14 {
		t.Errorf("envelope %v %v %v", ev.EventID, ev.ChangeType, ev.PreviousVersion)
	}
}

// registryEvent encodes ev's native form, edited by editNative, with the
// writer schema edited by editSchema, and frames it in the Confluent wire format
// under a registry id.
func registryEvent(t *testing.T, reg *srfake.Registry, subject string, ev *CustomerChanged,
	editSchema func(root map[string]any), editNative func(native map[string]any)) []byte {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal([]byte(WriterSchema()), &root); err != nil {
		t.Fatal(err)
	}
	editSchema(root)
	text, err := json.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := goavro.NewCodec(string(text))
	if err != nil {
		t.Fatalf("writer schema: %v", err)
	}
	native := nativeCustomerChanged(ev)
	editNative(native)
	body, err := codec.BinaryFromNative(nil, native)
	if err != nil {
		t.Fatalf("encoding with the writer schema: %v", err)
	}
	id, _, err := reg.RegisterSchema(subject, sr.Schema{Schema: string(text), Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	return append(confluentHeader(uint32(id)), body...)
}

// recordNamed returns the record named name in the schema's JSON, to edit.
func recordNamed(t *testing.T, root map[string]any, name string) map[string]any {
	t.Helper()
	var find func(v any) map[string]any
	find = func(v any) map[string]any {
		switch v := v.(type) {
		case map[string]any:
			if v["type"] == "record" && v["name"] == name {
				return v
			}
			for _, x := range v {
				if r := find(x); r != nil {
					return r
				}
			}
		case []any:
			for _, x := range v {
				if r := find(x); r != nil {
					return r
				}
			}
		}
		return nil
	}
	rec := find(root)
	if rec == nil {
		t.Fatalf("no record %s", name)
	}
	return rec
}

func dropField(rec map[string]any, name string) {
	rec["fields"] = slices.DeleteFunc(rec["fields"].([]any), func(f any) bool { return f.(map[string]any)["name"] == name })
}

func addField(rec map[string]any, f map[string]any) { rec["fields"] = append(rec["fields"].([]any), f) }

// fieldNamed returns the field of rec named name, to edit.
func fieldNamed(rec map[string]any, name string) map[string]any {
	for _, f := range rec["fields"].([]any) {
		if f.(map[string]any)["name"] == name {
			return f.(map[string]any)
		}
	}
	return nil
}

// Events written with another writer schema than this build's read through Avro
// schema resolution, in the registry format (any schema the registry holds) as
// in single-object encoding (the released versions).
func TestDecodeResolvesOtherWriterSchemas(t *testing.T) {
	reg, cl := newRegistry(t)
	d, err := NewDecoder(cl)
	if err != nil {
		t.Fatal(err)
	}
	decode := func(t *testing.T, b []byte) (*CustomerChanged, error) {
		var ev CustomerChanged
		err := d.Decode(t.Context(), b, &ev)
		return &ev, err
	}
	base := func() *CustomerChanged { return eventOf(fullCustomer(), Created, nil) }

	t.Run("older writer", func(t *testing.T) {
		// Fewer fields (the reader's defaults fill them), an int where the reader
		// has a long, a string where the reader has ["null", "string"].
		b := registryEvent(t, reg, "older-value", base(), func(root map[string]any) {
			env, addr, cust := recordNamed(t, root, "CustomerChanged"), recordNamed(t, root, "Address"), recordNamed(t, root, "Customer")
			dropField(env, "unknownFieldCount")
			dropField(addr, "Email")
			fieldNamed(env, "companyId")["type"] = "int"
			title := fieldNamed(cust, "Title")
			title["type"] = "string"
			delete(title, "default")
		}, func(n map[string]any) {
			delete(n, "unknownFieldCount")
			n["companyId"] = int32(n["companyId"].(int64))
			c := n["customer"].(map[string]any)
			c["Title"] = c["Title"].(map[string]any)["string"]
			for _, a := range c["Addresses"].(map[string]any)["array"].([]any) {
				delete(a.(map[string]any), "Email")
			}
		})
		got, err := decode(t, b)
		if err != nil {
			t.Fatal(err)
		}
		want := base()
		want.UnknownFieldCount = 0
		for i := range want.Customer.Addresses {
			want.Customer.Addresses[i].Email = nil
		}
		normalize(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("decoded %+v\nwant %+v", got, want)
		}
	})
	t.Run("later writer", func(t *testing.T) {
		// More fields (dropped), a symbol this build does not know (the enum's
		// default), a union where the reader has a long.
		b := registryEvent(t, reg, "later-value", base(), func(root map[string]any) {
			env, cust := recordNamed(t, root, "CustomerChanged"), recordNamed(t, root, "Customer")
			addField(env, map[string]any{"name": "loyaltyTier", "type": []any{"null", "string"}, "default": nil})
			addField(cust, map[string]any{"name": "FavouriteStore", "type": "string"})
			fieldNamed(env, "version")["type"] = []any{"null", "long"}
			ct := fieldNamed(env, "changeType")["type"].(map[string]any)
			ct["symbols"] = append(ct["symbols"].([]any), "DELETED")
		}, func(n map[string]any) {
			n["loyaltyTier"] = map[string]any{"string": "gold"}
			n["version"] = map[string]any{"long": n["version"]}
			n["changeType"] = "DELETED"
			n["customer"].(map[string]any)["FavouriteStore"] = "Main St"
		})
		got, err := decode(t, b)
		if err != nil {
			t.Fatal(err)
		}
		want := base()
		want.ChangeType = Updated
		normalize(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("decoded %+v\nwant %+v", got, want)
		}
	})
	t.Run("released version by fingerprint", func(t *testing.T) {
		text, err := os.ReadFile(filepath.Join("testdata", "customer_changed.v1.avsc"))
		if err != nil {
			t.Fatal(err)
		}
		rs, err := parseSchema(string(text))
		if err != nil {
			t.Fatal(err)
		}
		body, err := rs.codec.BinaryFromNative(nil, nativeCustomerChanged(base()))
		if err != nil {
			t.Fatal(err)
		}
		got, err := decode(t, append(soeHeader(rs.fp), body...))
		if err != nil {
			t.Fatal(err)
		}
		want := base()
		normalize(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("decoded %+v\nwant %+v", got, want)
		}
	})
	for name, c := range map[string]struct {
		editSchema func(root map[string]any)
		editNative func(n map[string]any)
		want       string
	}{
		"writer lacks a field without default": {func(root map[string]any) {
			dropField(root, "customerId")
		}, func(n map[string]any) { delete(n, "customerId") }, "customerId: the writer schema has no such field"},
		"writer is another record": {func(root map[string]any) { root["name"] = "SomethingElse" },
			func(map[string]any) {}, "not the record CustomerChanged"},
		"null where the reader needs a value": {func(root map[string]any) {
			fieldNamed(recordNamed(t, root, "Customer"), "Version")["type"] = []any{"null", "long"}
		}, func(n map[string]any) { n["customer"].(map[string]any)["Version"] = nil }, "customer: Version: null where"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := decode(t, registryEvent(t, reg, strings.ReplaceAll(name, " ", "-"), base(), c.editSchema, c.editNative))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
			if !reflect.DeepEqual(got, &CustomerChanged{}) {
				t.Errorf("the event is not zero after an error: %+v", got)
			}
		})
	}
}
