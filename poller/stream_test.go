package poller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/covacdc/covacdc/schema"
	"github.com/prometheus/client_golang/prometheus"
)

// next returns the next element's bytes, or io.EOF after the closing ']': the
// splitter alone, as the reference the in-place decoding is checked against.
func (e *elemReader) next() ([]byte, error) {
	if err := e.advance(); err != nil {
		return nil, err
	}
	el, err := e.element()
	if err != nil {
		return nil, err
	}
	e.first = false
	e.state = 2
	return el, nil
}

// splitThenDecode is the reference for nextElem: the splitter's elements, each
// decoded alone by DecodeCustomer. It returns the elements and the error that
// ended the stream (nil after a well-formed array).
func splitThenDecode(body []byte) ([]decodedElem, error) {
	er := newElemReader(bytes.NewReader(body), -1)
	var out []decodedElem
	for {
		raw, err := er.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		c, err := DecodeCustomer(raw)
		if err != nil {
			var re *RecordError
			errors.As(err, &re)
			out = append(out, decodedElem{rerr: re})
			continue
		}
		out = append(out, decodedElem{c: c})
	}
}

// decodedElem is what a scan makes of an element: a customer or a record error.
type decodedElem struct {
	c    schema.Customer
	rerr *RecordError
}

// readElems reads the elements of r as fetchPage does: the first lazy ones with
// nextLazy, the rest with nextElem, until the end of the array or an error.
func readElems(r io.Reader, lazy int) ([]schema.Customer, []elemInfo, error) {
	return readElemsFrom(newElemReader(r, -1), lazy)
}

// readElemsFrom is readElems from a reader made by the caller.
func readElemsFrom(er *elemReader, lazy int) ([]schema.Customer, []elemInfo, error) {
	var cs []schema.Customer
	var info []elemInfo
	for {
		next := er.nextElem
		if len(cs) < lazy {
			next = er.nextLazy
		}
		var c schema.Customer
		in, err := next(&c)
		if errors.Is(err, io.EOF) {
			return cs, info, nil
		}
		if err != nil {
			return cs, info, err
		}
		cs, info = append(cs, c), append(info, in)
	}
}

// decodeInPlace reads body through nextElem, r delivering it in pieces. The
// first lazy elements are read with nextLazy and then decoded in full, as
// handOn does with a row that is not a repeat.
func decodeInPlace(r io.Reader, lazy int) ([]decodedElem, error) {
	cs, info, err := readElems(r, lazy)
	out := make([]decodedElem, len(cs))
	for i := range cs {
		if info[i].lazy != "" {
			decodeLazy(&cs[i], &info[i])
		}
		out[i] = decodedElem{c: cs[i], rerr: info[i].rerr}
	}
	return out, err
}

// sameElems compares what a user of a scan sees: the customers, and for record
// errors the raw element and the reason.
func sameElems(t *testing.T, what string, got, want []decodedElem) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if (g.rerr == nil) != (w.rerr == nil) {
			t.Fatalf("%s: element %d: record error %v, want %v", what, i, g.rerr, w.rerr)
		}
		if g.rerr != nil {
			if !bytes.Equal(g.rerr.Raw, w.rerr.Raw) || g.rerr.Reason != w.rerr.Reason || g.rerr.Error() != w.rerr.Error() {
				t.Fatalf("%s: element %d: record error %q %s %v, want %q %s %v", what, i, g.rerr.Raw, g.rerr.Reason, g.rerr, w.rerr.Raw, w.rerr.Reason, w.rerr)
			}
			continue
		}
		if !reflect.DeepEqual(g.c, w.c) {
			t.Fatalf("%s: element %d: customer\n%+v\nwant\n%+v", what, i, g.c, w.c)
		}
	}
}

// pieces delivers b n bytes per Read.
type pieces struct {
	b []byte
	n int
}

func (r *pieces) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[k:]
	return k, nil
}

// TestNextElemMatchesSplitThenDecode checks the in-place decoding a scan uses
// (lazy or not) against decoding each element alone, whatever the read sizes: customers
// crossing buffer boundaries, customers larger than a buffer, escapes, broken
// records between good ones. The customers are compared only after the whole
// body has been read, so a buffer reused under a decoded customer would show.
func TestNextElemMatchesSplitThenDecode(t *testing.T) {
	typical := string(typicalRecord(t))
	withID := func(i int) string {
		return strings.Replace(typical, `"Id":"`, fmt.Sprintf(`"Id":"%08x-`, i)+`0000-4000-8000-000000000000","Old":"`, 1)
	}
	big := strings.Replace(withID(1), `"Notes":`, `"Notes":"`+strings.Repeat("é\\\"x", 70000)+`","OldNotes":`, 1)
	elems := []string{withID(0), big}
	for i := 2; i < 300; i++ {
		switch i % 50 {
		case 7:
			elems = append(elems, `{"Id":"not a guid","Version":1,"LastModifiedDateUtc":"2020-01-01T00:00:00"}`)
		case 13:
			elems = append(elems, `{"Version":1}`)
		case 21:
			elems = append(elems, `[1,{"a":"]"}]`, `"text"`, `null`)
		case 33:
			elems = append(elems, `{"Id":"`+fmt.Sprintf("%08x", i)+`-0000-4000-8000-000000000000","Version":1,"LastModifiedDateUtc":"2020-01-01T00:00:00","FamilyName":"a\u00e9\n\"b\"","Addresses":[null,{"City":"\/x"}]}`)
		default:
			elems = append(elems, withID(i))
		}
	}
	body := []byte("\xEF\xBB\xBF [\n" + strings.Join(elems, " ,\n\t") + "\n] ")
	if !json.Valid(body[3:]) {
		t.Fatal("test body is not JSON")
	}
	want, err := splitThenDecode(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 312 || want[0].rerr != nil || want[1].rerr != nil || want[7].rerr == nil {
		t.Fatalf("reference: %d elements (want 312), first %v, second %v, eighth %v", len(want), want[0].rerr, want[1].rerr, want[7].rerr)
	}
	for _, n := range []int{1, 7, 1000, 4096, 40000, 70001, len(body)} {
		got, err := decodeInPlace(&pieces{b: body, n: n}, n%5*10)
		if err != nil {
			t.Fatalf("reads of %d bytes: %v", n, err)
		}
		sameElems(t, fmt.Sprintf("reads of %d bytes", n), got, want)
	}

	// A body that breaks off keeps what came before and reports the truncation.
	cut := body[:len(body)*2/3]
	want, wantErr := splitThenDecode(cut)
	got, err := decodeInPlace(&pieces{b: cut, n: 3000}, 2)
	if err == nil || wantErr == nil || err.Error() != wantErr.Error() || !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("truncated body: %v, want %v", err, wantErr)
	}
	sameElems(t, "truncated body", got, want)
}

// FuzzNextElem checks in-place decoding, lazy or not, against decoding each
// element alone on any body, read in pieces of a size the fuzzer picks.
func FuzzNextElem(f *testing.F) {
	f.Add([]byte(`[{"a":"]}\""},[1,[2]],"x",-1.5e3,true,null]`), uint8(1))
	f.Add([]byte(" [ ] "), uint8(3))
	f.Add(append(append([]byte("["), typicalRecord(f)...), ',', '{', '}', ']'), uint8(200))
	f.Add([]byte(`[{"Id":"45b95f03-9774-4302-9212-018ff0fd33b5","Version":1,"LastModifiedDateUtc":"2018-06-05T02:41:56.61"},{"Id":`), uint8(5))
	f.Fuzz(func(t *testing.T, body []byte, n uint8) {
		want, wantErr := splitThenDecode(body)
		got, err := decodeInPlace(&pieces{b: body, n: int(n)%64 + 1}, int(n)/64)
		// The message may quote what had been read when the body went wrong,
		// which depends on the read sizes: compare the kind of error only.
		if (err == nil) != (wantErr == nil) || errors.Is(err, ErrMalformedResponse) != errors.Is(wantErr, ErrMalformedResponse) {
			t.Fatalf("%q: error %v, want %v", body, err, wantErr)
		}
		sameElems(t, fmt.Sprintf("%q", body), got, want)
	})
}

func TestDecodeResponse(t *testing.T) {
	good := string(typicalRecord(t))
	body := "[" + good + `,{"Version":1},` + good + "]"
	var customers, bad int
	err := DecodeResponse(&pieces{b: []byte(body), n: 100}, func(c schema.Customer, re *RecordError) error {
		if re != nil {
			if re.Reason != "missing_id" || string(re.Raw) != `{"Version":1}` {
				t.Errorf("record error %s %q", re.Reason, re.Raw)
			}
			bad++
			return nil
		}
		if c.Id == "" || c.Version == 0 {
			t.Errorf("customer %+v", c)
		}
		customers++
		return nil
	})
	if err != nil || customers != 2 || bad != 1 {
		t.Fatalf("%d customers, %d record errors, %v; want 2, 1, nil", customers, bad, err)
	}

	stop := errors.New("stop")
	calls := 0
	err = DecodeResponse(strings.NewReader(body), func(schema.Customer, *RecordError) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("fn's error: %v after %d calls, want stop after 1", err, calls)
	}
	err = DecodeResponse(strings.NewReader(body[:len(body)-1]), func(schema.Customer, *RecordError) error { return nil })
	if !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("truncated body: %v, want ErrMalformedResponse", err)
	}
}

// TestLazyRowsDecodedOnlyWhenNew checks what a scan does with the rows that
// overlap the page before, read lazily: a repeat of a row handed on is dropped
// undecoded, and any other row is decoded in full before it is handed on, as
// a customer or a record error.
func TestLazyRowsDecodedOnlyWhenNew(t *testing.T) {
	const (
		id1 = "00000001-0000-4000-8000-000000000000"
		id2 = "00000002-0000-4000-8000-000000000000"
		id3 = "00000003-0000-4000-8000-000000000000"
	)
	row := func(id string, version int, extra string) string {
		return fmt.Sprintf(`{"Id":"%s","Version":%d,"LastModifiedDateUtc":"2024-01-02T03:04:05.1234567"%s}`, id, version, extra)
	}
	body := "[" + strings.Join([]string{
		row(id1, 5, `,"FamilyName":"Repeat"`),      // handed on before at version 5
		row(id2, 7, `,"FamilyName":"Newer"`),       // handed on before at version 6
		row(id3, 1, `,"DateOfBirth":"not a date"`), // new, and does not decode
		row(id1, 6, `,"FamilyName":"Not lazy"`),
	}, ",") + "]"
	cs, info, err := readElems(&pieces{b: []byte(body), n: 50}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 4 || info[0].lazy == "" || info[2].lazy == "" || info[3].lazy != "" {
		t.Fatalf("elements %+v: want the first three lazy", info)
	}
	if cs[2].Id != id3 || cs[2].Version != 1 || cs[2].LastModifiedDateUtc.Raw != "" {
		t.Fatalf("lazy row read %+v, want only Id and Version", cs[2])
	}

	m, err := newMetrics(prometheus.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []Batch
	s := &scan{
		c:         &Client{metrics: m},
		companyID: company,
		handed:    map[[16]byte]int64{cs[0].IdBytes: 5, cs[1].IdBytes: 6},
		invalid:   map[string]struct{}{},
		fn:        func(_ context.Context, b Batch) error { got = append(got, b); return nil },
	}
	if err := s.handOn(context.Background(), cs, info, true); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Customers) != 2 || len(got[0].Invalid) != 1 {
		t.Fatalf("handed on %+v, want 2 customers and 1 record error", got)
	}
	newer, notLazy := got[0].Customers[0], got[0].Customers[1]
	if newer.Id != id2 || newer.Version != 7 || newer.FamilyName == nil || *newer.FamilyName != "Newer" || newer.LastModifiedDateUtc.Raw == "" {
		t.Errorf("new lazy row handed on as %+v, want it decoded in full", newer)
	}
	if notLazy.Version != 6 || *notLazy.FamilyName != "Not lazy" {
		t.Errorf("second customer %+v", notLazy)
	}
	if re := got[0].Invalid[0]; re.Reason != "bad_timestamp" || string(re.Raw) != row(id3, 1, `,"DateOfBirth":"not a date"`) {
		t.Errorf("record error %s %q", re.Reason, re.Raw)
	}
}

// FuzzIdentity checks the lazy read of a row against the full decoder (and
// that the decoder leaves a zero Customer when it fails): where
// the decoder accepts a record, identity reads the same Id and Version and ends
// at the same place; where identity succeeds, the decoder agrees or fails on
// another field.
func FuzzIdentity(f *testing.F) {
	f.Add(typicalRecord(f))
	f.Add([]byte(`{"Id":"45b95f03-9774-4302-9212-018ff0fd33b5","Version":1,"LastModifiedDateUtc":"2018-06-05T02:41:56.61","Notes":"a\"}\\","X":[{"y":"]"}],"Id":"55b95f03-9774-4302-9212-018ff0fd33b5"} ,`))
	f.Add([]byte(`{"Version":1e1,"Id":"45b95f03-9774-4302-9212-018ff0fd33b5","LastModifiedDateUtc":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		full := decoder{s: string(raw)}
		var c schema.Customer
		err := full.record(&c)
		if err != nil && !reflect.DeepEqual(c, schema.Customer{}) {
			t.Fatalf("%q: record failed (%v) but left %+v", raw, err, c)
		}
		lazy := decoder{s: string(raw)}
		id, idBytes, version, lerr := lazy.identity()
		if err == nil {
			if lerr != nil {
				t.Fatalf("%q: decoded, but identity failed: %v", raw, lerr)
			}
			if id != c.Id || idBytes != c.IdBytes || version != c.Version || lazy.i != full.i {
				t.Fatalf("%q: identity %s %d ending at %d, decoder %s %d ending at %d", raw, id, version, lazy.i, c.Id, c.Version, full.i)
			}
			return
		}
		if lerr == nil {
			var de *decodeError
			if errors.As(err, &de) && (de.reason == "bad_id" || de.reason == "missing_id" || de.reason == "missing_version") {
				t.Fatalf("%q: identity read %s %d, decoder failed on it: %v", raw, id, version, err)
			}
		}
	})
}

// TestDeclaredLengthSizesTheReadBuffer: a body whose length the server
// declared is read into a buffer of that length and a margin, with the same
// customers as a body of unknown length, whatever the sizes of the reads; and
// the empty page that ends every scan and every idle poll costs a small
// buffer, not 256 KB.
func TestDeclaredLengthSizesTheReadBuffer(t *testing.T) {
	page := typicalPage(t)
	raw := string(typicalRecord(t))
	three := []byte("[" + raw + "," + raw + "," + raw + "]")
	for _, body := range [][]byte{[]byte("[]"), []byte(" [ ] "), three, page} {
		want, err := decodeInPlace(bytes.NewReader(body), 0)
		if err != nil {
			t.Fatalf("%d bytes: %v", len(body), err)
		}
		for _, n := range []int{1, 7, 4096, len(body)} {
			cs, info, err := readElemsFrom(newElemReader(&pieces{body, n}, int64(len(body))), 0)
			if err != nil {
				t.Fatalf("%d bytes read %d at a time: %v", len(body), n, err)
			}
			got := make([]decodedElem, len(cs))
			for i := range cs {
				got[i] = decodedElem{c: cs[i], rerr: info[i].rerr}
			}
			sameElems(t, fmt.Sprintf("%d bytes read %d at a time", len(body), n), got, want)
		}
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const reads = 50
	for range reads {
		if _, _, err := readElemsFrom(newElemReader(strings.NewReader("[]"), 2), 0); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / reads; per > 32<<10 {
		t.Errorf("reading an empty page of declared length allocates %d bytes, want at most 32 KB (256 KB when the length is unknown)", per)
	}
}
