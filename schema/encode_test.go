package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// goavroBody is the reference encoding: goavro's BinaryFromNative of the native form.
func goavroBody(t testing.TB, ev *CustomerChanged) []byte {
	t.Helper()
	rs, err := writer()
	if err != nil {
		t.Fatal(err)
	}
	b, err := rs.codec.BinaryFromNative(nil, nativeCustomerChanged(ev))
	if err != nil {
		t.Fatalf("goavro cannot encode the event: %v", err)
	}
	return b
}

func TestGeneratedEncoderMatchesGoavro(t *testing.T) {
	prev := int64(14)
	cases := map[string]*CustomerChanged{
		"full":    eventOf(fullCustomer(), Updated, &prev),
		"null":    eventOf(nullCustomer(), Snapshot, nil),
		"quirks":  eventOf(quirksCustomer(), Created, nil),
		"typical": eventOf(typicalCustomer(), Updated, &prev),
		"edge":    edgeEvent(),
	}
	for name, ev := range cases {
		t.Run(name, func(t *testing.T) {
			want := goavroBody(t, ev)
			if got := appendCustomerChanged(nil, ev); !bytes.Equal(got, want) {
				t.Fatalf("generated encoding differs from goavro at byte %d\n got % x\nwant % x", firstDiff(got, want), got, want)
			}
		})
	}
	rng := rand.New(rand.NewPCG(2024, 11))
	cover := coverage{}
	for i := range 500 {
		ev := randomEvent(rng, cover)
		want := goavroBody(t, ev)
		if got := appendCustomerChanged(nil, ev); !bytes.Equal(got, want) {
			c, _ := json.Marshal(ev)
			t.Fatalf("random event %d: generated encoding differs from goavro at byte %d\nevent %s", i, firstDiff(got, want), c)
		}
	}
	cover.check(t)
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

var (
	randomStrings = []string{"", "a", "Zoë", "日本語", "\"quoted\"\n", "🌿", "1955-01-20T00:01:00", "2024-11-07T08:46:32.0718006+02:00",
		strings.Repeat("y", 63), strings.Repeat("z", 64), strings.Repeat("x", 70), strings.Repeat("é", 200)}
	randomRaw   = []string{`{}`, `"a"`, `"esc\"aped\u00e9"`, `12.5`, `null`, `[1, {"k": "v"}]`, ` "padded" `, `true`, "\"bad \xff utf8\"", `"42"`, `" x"`}
	randomLongs = []int64{0, -1, 1, 63, 64, -64, -65, math.MaxInt64, math.MinInt64}
)

// coverage records, per nullable field of the generated types (a pointer or a
// slice), whether random events held it null and not null.
type coverage map[string]*[2]bool

// check fails for a nullable field that random events never held null, or
// never held set: the generator of random events must reach every field.
func (c coverage) check(t *testing.T) {
	t.Helper()
	if len(c) < 50 {
		t.Errorf("only %d nullable fields seen: the random events do not reach into the records", len(c))
	}
	for path, seen := range c {
		if !seen[0] || !seen[1] {
			t.Errorf("%s: null seen %v, set seen %v", path, seen[0], seen[1])
		}
	}
}

// recordType is what the pointer to a generated record implements.
var recordType = reflect.TypeFor[interface{ resolve(map[string]any) error }]()

// randomEvent fills every field of a CustomerChanged, whatever the schema
// holds, by walking its Go type: a field added to the schema is in the
// comparison with goavro without anyone listing it.
func randomEvent(r *rand.Rand, cover coverage) *CustomerChanged {
	ev := new(CustomerChanged)
	randomValue(r, reflect.ValueOf(ev).Elem(), "CustomerChanged", cover)
	return ev
}

func randomValue(r *rand.Rand, v reflect.Value, path string, cover coverage) {
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Unix(r.Int64N(8e9)-4e9, r.Int64N(1e9)).UTC()))
		return
	case reflect.TypeFor[json.RawMessage]():
		v.SetBytes([]byte(randomRaw[r.IntN(len(randomRaw))]))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			randomValue(r, v.Field(i), path+"."+v.Type().Field(i).Name, cover)
		}
	case reflect.Pointer, reflect.Slice:
		if v.Type().Implements(recordType) { // a required record held by pointer
			v.Set(reflect.New(v.Type().Elem()))
			randomValue(r, v.Elem(), path, cover)
			return
		}
		if cover[path] == nil {
			cover[path] = new([2]bool)
		}
		if r.IntN(3) == 0 {
			cover[path][0] = true
			v.SetZero()
			return
		}
		cover[path][1] = true
		if v.Kind() == reflect.Pointer {
			v.Set(reflect.New(v.Type().Elem()))
			randomValue(r, v.Elem(), path, cover)
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), r.IntN(3), 2))
		for i := range v.Len() {
			randomValue(r, v.Index(i), path+"[]", cover)
		}
	case reflect.Array:
		for i := range v.Len() {
			v.Index(i).SetUint(uint64(r.IntN(256)))
		}
	case reflect.String:
		v.SetString(randomStrings[r.IntN(len(randomStrings))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int64, reflect.Int32, reflect.Int:
		if v.Type().Name() != v.Kind().String() { // an enum: one of its symbols
			n := 0
			for !strings.Contains(fmt.Sprint(reflect.ValueOf(n).Convert(v.Type())), "(") {
				n++
			}
			v.SetInt(int64(r.IntN(n)))
			return
		}
		x := randomLongs[r.IntN(len(randomLongs))]
		if r.IntN(2) == 0 {
			x = r.Int64() >> r.IntN(63)
		}
		if v.OverflowInt(x) {
			x = int64(int32(x))
		}
		v.SetInt(x)
	default:
		panic(fmt.Sprintf("randomValue: %s has a %s, which it cannot fill", path, v.Type()))
	}
}

func TestAppendRejectsBadEvents(t *testing.T) {
	enc, err := NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	for name, ev := range map[string]*CustomerChanged{
		"nil event":               nil,
		"no customer":             {ChangeType: Created},
		"changeType past the end": eventOf(nullCustomer(), 3, nil),
		"negative changeType":     eventOf(nullCustomer(), -1, nil),
	} {
		t.Run(name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := enc.Append(dst, ev)
			if err == nil {
				t.Fatal("no error")
			}
			if string(out) != "keep" {
				t.Errorf("dst changed to %q", out)
			}
		})
	}
}

// Times are truncated to the tick, never rounded into the next one, before 1970 too.
func TestTimestampsTruncate(t *testing.T) {
	c := nullCustomer()
	c.LastModifiedDateUtc = ts("1969-12-31T23:59:59.9999999Z")
	ev := eventOf(c, Snapshot, nil)
	ev.CapturedAt = time.Date(2024, 1, 1, 0, 0, 0, 999999999, time.UTC)
	b, err := mustEncoder(t).Append(nil, ev)
	if err != nil {
		t.Fatal(err)
	}
	js := decodeToMap(t, b)
	if got := js["lastModifiedDateUtc"]; got != "1969-12-31T23:59:59.999999Z" {
		t.Errorf("lastModifiedDateUtc %v", got)
	}
	if got := js["capturedAt"]; got != "2024-01-01T00:00:00.999Z" {
		t.Errorf("capturedAt %v", got)
	}
	if got := js["customer"].(map[string]any)["LastModifiedDateUtc"]; got != "1969-12-31T23:59:59.9999999Z" {
		t.Errorf("customer.LastModifiedDateUtc %v, want Cova's exact text", got)
	}
}

func mustEncoder(t testing.TB) *Encoder {
	t.Helper()
	enc, err := NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func decodeToMap(t testing.TB, b []byte) map[string]any {
	t.Helper()
	d, err := NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	js, err := d.JSON(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatalf("Decoder.JSON gave invalid JSON %s: %v", js, err)
	}
	return m
}
