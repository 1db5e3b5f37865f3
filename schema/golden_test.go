package schema

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden events in testdata")

// goldenEvents are the events in testdata/golden_*.bin, with the JSON each decodes
// to in golden_*.json. CI decodes them again with Apache Avro's Python library
// (testdata/check_golden.py), an implementation independent of ours.
//
// The files hold the events as a released build encoded them: for the same
// event and the same schema the bytes must stay the same, so that consumers (and
// anything comparing bytes) notice no upgrade. Once the schema gains a field,
// the bytes change with it: the files, written with the earlier release of the
// schema, must then still read as the same event. go test -update writes them
// anew with this build's schema.
func goldenEvents() map[string]*CustomerChanged {
	return map[string]*CustomerChanged{
		"full":    eventOf(fullCustomer(), Updated, ptr(int64(14))),
		"null":    eventOf(nullCustomer(), Snapshot, nil),
		"quirks":  eventOf(quirksCustomer(), Created, nil),
		"edge":    edgeEvent(),
		"typical": eventOf(typicalCustomer(), Updated, ptr(int64(6))),
	}
}

// edgeEvent is edgeCustomer in an envelope with its own corners: a company id
// beyond 32 bits, previousVersion 0, and a capture time before 1970 one
// nanosecond short of the next millisecond.
func edgeEvent() *CustomerChanged {
	ev := NewCustomerChanged(1<<40, edgeCustomer())
	ev.ChangeType, ev.PreviousVersion = Updated, ptr(int64(0))
	ev.CapturedAt = time.Date(1969, 7, 20, 20, 17, 40, 999999999, time.UTC)
	ev.Source = Source{System: "cova", Endpoint: "/crm/v1/Companies(1099511627776)/CustomerFull", ScanID: ""}
	return &ev
}

func TestGolden(t *testing.T) {
	enc := mustEncoder(t)
	d, err := NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, ev := range goldenEvents() {
		t.Run(name, func(t *testing.T) {
			binPath := filepath.Join("testdata", "golden_"+name+".bin")
			jsonPath := filepath.Join("testdata", "golden_"+name+".json")
			b, err := enc.Append(nil, ev)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				js, err := d.JSON(t.Context(), b)
				if err != nil {
					t.Fatal(err)
				}
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, js, "", "  "); err != nil {
					t.Fatal(err)
				}
				pretty.WriteByte('\n')
				if err := os.WriteFile(binPath, b, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(jsonPath, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantBin, err := os.ReadFile(binPath)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if bytes.HasPrefix(wantBin, enc.header) {
				// Written with this build's schema: the bytes must not have changed.
				if !bytes.Equal(b, wantBin) {
					t.Errorf("encoding differs from %s at byte %d: the wire format changed", binPath, firstDiff(b, wantBin))
				}
			} else {
				// Written with a released schema this build's extends: a field was
				// added since, so the bytes differ; the event must still read.
				t.Logf("%s was written with an earlier release of the schema: checking that it reads, not its bytes", binPath)
			}
			var got CustomerChanged
			if err := d.Decode(t.Context(), wantBin, &got); err != nil {
				t.Fatal(err)
			}
			want := *ev
			normalize(&want)
			if !reflect.DeepEqual(&got, &want) {
				t.Errorf("%s decodes to %+v\nwant %+v", binPath, got, want)
			}
			wantJSON, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			js, err := d.JSON(t.Context(), wantBin)
			if err != nil {
				t.Fatal(err)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, wantJSON); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(js, compact.Bytes()) {
				t.Errorf("%s renders as\n%s\nwant\n%s", binPath, js, compact.Bytes())
			}
		})
	}
}

// What a consumer sees in the golden events: the quirks as documented, nulls as
// null, Cova's exact texts.
func TestGoldenContent(t *testing.T) {
	read := func(name string) map[string]any {
		b, err := os.ReadFile(filepath.Join("testdata", "golden_"+name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	q := read("quirks")
	qc := q["customer"].(map[string]any)
	if zip := qc["Addresses"].([]any)[0].(map[string]any)["Zip"]; zip != "1" {
		t.Errorf("numeric Zip 1 reads as %#v, want \"1\"", zip)
	}
	if qc["PricingGroupId"] != nil || qc["MergedIntoCustomerId"] != nil {
		t.Errorf("{} placeholders read as %v, %v; want null", qc["PricingGroupId"], qc["MergedIntoCustomerId"])
	}
	for _, f := range []string{"RelatedCustomers", "MemberOf", "Documents", "MergedCustomers"} {
		if got, _ := json.Marshal(qc[f]); string(got) != `["{}","{}"]` {
			t.Errorf("%s is %s, want [\"{}\",\"{}\"]", f, got)
		}
	}
	if qc["DateOfBirth"] != "2024-11-07T08:46:32.0718006+00:00" || q["lastModifiedDateUtc"] != "2024-11-07T08:46:32.071800Z" {
		t.Errorf("dates: DateOfBirth %v, lastModifiedDateUtc %v", qc["DateOfBirth"], q["lastModifiedDateUtc"])
	}
	if q["changeType"] != "CREATED" || q["previousVersion"] != nil || q["eventId"] != EventID(118833, "45b95f03-9774-4302-9212-018ff0fd33b5", 15).String() {
		t.Errorf("envelope %v %v %v", q["changeType"], q["previousVersion"], q["eventId"])
	}

	n := read("null")
	nulls := 0
	for k, v := range n["customer"].(map[string]any) {
		switch k {
		case "Id", "Version", "LastModifiedDateUtc":
			if v == nil {
				t.Errorf("%s is null", k)
			}
		default:
			if v != nil {
				t.Errorf("%s is %v, want null", k, v)
			}
			nulls++
		}
	}
	if nulls != 22 {
		t.Errorf("%d null customer fields, want 22", nulls)
	}

	f := read("full")
	fc := f["customer"].(map[string]any)
	if got, _ := json.Marshal(fc["MemberOf"]); string(got) != `["VIP é\"quoted\"","42","null"]` {
		t.Errorf("MemberOf %s", got)
	}
	if f["previousVersion"] != 14.0 || f["unknownFieldCount"] != 2.0 || fc["Id"] != "45B95F03-9774-4302-9212-018FF0FD33B5" {
		t.Errorf("full: previousVersion %v unknownFieldCount %v Id %v", f["previousVersion"], f["unknownFieldCount"], fc["Id"])
	}
}
