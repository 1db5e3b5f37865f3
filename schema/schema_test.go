package schema

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

// avsc is the writer schema as generic JSON, for tests that read its structure.
func avsc(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(WriterSchema()), &m); err != nil {
		t.Fatalf("customer_changed.avsc is not JSON: %v", err)
	}
	return m
}

func fieldsOf(rec map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, f := range rec["fields"].([]any) {
		fm := f.(map[string]any)
		out[fm["name"].(string)] = fm
	}
	return out
}

func fieldNames(rec map[string]any) []string {
	var out []string
	for _, f := range rec["fields"].([]any) {
		out = append(out, f.(map[string]any)["name"].(string))
	}
	return out
}

// recordIn returns the record schema inside a field type: the record itself, the
// items of an array, or the non-null branch of a union.
func recordIn(t *testing.T, typ any) map[string]any {
	t.Helper()
	switch v := typ.(type) {
	case []any:
		return recordIn(t, v[1])
	case map[string]any:
		if v["type"] == "array" {
			return recordIn(t, v["items"])
		}
		return v
	}
	t.Fatalf("no record in %v", typ)
	return nil
}

func TestEnvelopeFields(t *testing.T) {
	s := avsc(t)
	if s["name"] != "CustomerChanged" || s["namespace"] != "io.github.covacdc" {
		t.Fatalf("record is %v.%v, want io.github.covacdc.CustomerChanged", s["namespace"], s["name"])
	}
	f := fieldsOf(s)
	want := map[string]string{
		"eventId": `"string"`, "companyId": `"long"`, "customerId": `"string"`, "version": `"long"`,
		"previousVersion":     `["null","long"]`,
		"lastModifiedDateUtc": `{"logicalType":"timestamp-micros","type":"long"}`,
		"capturedAt":          `{"logicalType":"timestamp-millis","type":"long"}`,
	}
	for name, typ := range want {
		got, _ := json.Marshal(f[name]["type"])
		if string(got) != typ {
			t.Errorf("field %s has type %s, want %s", name, got, typ)
		}
	}
	ct := f["changeType"]["type"].(map[string]any)
	for _, sym := range []string{"SNAPSHOT", "CREATED", "UPDATED"} {
		if !slices.Contains(ct["symbols"].([]any), any(sym)) {
			t.Errorf("changeType lacks symbol %s", sym)
		}
	}
	for c, sym := range changeTypeSymbols {
		if ct["symbols"].([]any)[c] != sym {
			t.Errorf("ChangeType(%d) is %s but the enum's symbol %d is %v", c, sym, c, ct["symbols"].([]any)[c])
		}
	}
	src := fieldNames(f["source"]["type"].(map[string]any))
	if !slices.Equal(src, []string{"system", "endpoint", "scanId"}) {
		t.Errorf("source fields %v", src)
	}
	if _, ok := f["customer"]; !ok {
		t.Error("no customer field")
	}
}

// The customer record keeps every field Cova's help page documents, with Cova's
// names and in Cova's order; fields Cova adds later may come after or between
// them. (The Go types are generated from the schema, so they follow.)
func TestCustomerFieldsAreCovas(t *testing.T) {
	f := fieldsOf(avsc(t))
	cust := recordIn(t, f["customer"]["type"])
	helpPage := []string{"Addresses", "ContactMethods", "CustomerExtensions", "RelatedCustomers", "MemberOf",
		"Documents", "MergedCustomers", "PrimaryName", "Title", "AlternateName", "MiddleName", "FamilyName",
		"ReferralSource", "Notes", "UniqueIdentifier", "Id", "CustomerTypeId", "CustomerType", "DateOfBirth",
		"PricingGroupId", "Disabled", "DoNotContact", "Version", "MergedIntoCustomerId", "LastModifiedDateUtc"}
	if got := fieldNames(cust); !isSubsequence(helpPage, got) {
		t.Errorf("Customer fields\n got %v\nhelp %v", got, helpPage)
	}
	cf := fieldsOf(cust)
	nested := []struct {
		field string
		name  string
		help  []string
	}{
		{"Addresses", "Address", []string{"AddressLine1", "AddressLine2",
			"City", "StateName", "CountryName", "Zip", "Id", "CustomerId", "AddressTypeId", "AddressType", "Default",
			"DoNotContact", "CountryCode", "Country", "Locality", "StateCode", "State", "PostalCode",
			"PostOfficeBoxNumber", "StreetAddress1", "Notes", "StreetAddress2", "Version", "AttentionTo", "Phone", "Email"}},
		{"ContactMethods", "ContactMethod", []string{"Value", "Id",
			"CustomerId", "ContactMethodCategoryId", "ContactMethodCategory", "ContactMethodTypeId",
			"ContactMethodType", "DoNotContact", "Default", "Notes", "Version"}},
		{"CustomerExtensions", "CustomerExtension", []string{"Value",
			"Id", "CustomerId", "ExtensionTypeId", "ExtensionType", "ExtensionTypeFeature", "Version"}},
	}
	for _, n := range nested {
		rec := recordIn(t, cf[n.field]["type"])
		if rec["name"] != n.name {
			t.Errorf("%s items are %v, want record %s", n.field, rec["name"], n.name)
		}
		if got := fieldNames(rec); !isSubsequence(n.help, got) {
			t.Errorf("%s fields\n got %v\nhelp %v", n.name, got, n.help)
		}
	}
	zip, _ := json.Marshal(fieldsOf(recordIn(t, cf["Addresses"]["type"]))["Zip"]["type"])
	if string(zip) != `["null","string"]` {
		t.Errorf("Zip is %s, want a nullable string", zip)
	}
	for _, name := range []string{"RelatedCustomers", "MemberOf", "Documents", "MergedCustomers"} {
		got, _ := json.Marshal(cf[name]["type"])
		if string(got) != `["null",{"items":"string","type":"array"}]` {
			t.Errorf("%s is %s, want a nullable array of strings", name, got)
		}
	}
}

// isSubsequence reports whether all of sub appear in s, in the same order.
func isSubsequence(sub, s []string) bool {
	i := 0
	for _, x := range s {
		if i < len(sub) && sub[i] == x {
			i++
		}
	}
	return i == len(sub)
}

// Every field has a doc; inside customer every field but Id, Version and
// LastModifiedDateUtc is ["null", T] with default null, so readers of any version
// can fill in what a writer did not send.
func TestDocsAndNullability(t *testing.T) {
	required := map[string]bool{"Customer.Id": true, "Customer.Version": true, "Customer.LastModifiedDateUtc": true}
	var walk func(typ any, inCustomer bool)
	walk = func(typ any, inCustomer bool) {
		switch v := typ.(type) {
		case []any:
			for _, b := range v {
				walk(b, inCustomer)
			}
		case map[string]any:
			switch v["type"] {
			case "array":
				walk(v["items"], inCustomer)
			case "record", "enum":
				if doc, _ := v["doc"].(string); doc == "" {
					t.Errorf("type %v has no doc", v["name"])
				}
				inCustomer = inCustomer || v["name"] == "Customer"
				fs, _ := v["fields"].([]any)
				for _, f := range fs {
					fm := f.(map[string]any)
					name := v["name"].(string) + "." + fm["name"].(string)
					if doc, _ := fm["doc"].(string); doc == "" {
						t.Errorf("field %s has no doc", name)
					}
					if inCustomer && !required[name] {
						u, isUnion := fm["type"].([]any)
						d, hasDefault := fm["default"]
						if !isUnion || len(u) != 2 || u[0] != "null" || !hasDefault || d != nil {
							t.Errorf("field %s is not [\"null\", T] with default null", name)
						}
					}
					walk(fm["type"], inCustomer)
				}
			}
		}
	}
	walk(avsc(t), false)
}

// crc64Avro is the CRC-64-AVRO (Rabin) fingerprint written from the Avro
// specification's reference code, independent of goavro and hamba/avro.
func crc64Avro(b []byte) uint64 {
	const empty = 0xc15d213aa4d7a795
	var table [256]uint64
	for i := range table {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (empty & -(fp & 1))
		}
		table[i] = fp
	}
	fp := uint64(empty)
	for _, c := range b {
		fp = (fp >> 8) ^ table[byte(fp)^c]
	}
	return fp
}

func TestFingerprintAndHeader(t *testing.T) {
	// The spec's own example: the fingerprint of the schema "int".
	if got := crc64Avro([]byte(`"int"`)); got != 0x7275d51a3f395c8f {
		t.Fatalf("crc64Avro(\"int\") = %x; the reference implementation is wrong", got)
	}
	// Java's SchemaNormalization (the reference implementation, which Java's
	// single-object decoder fingerprints) writes a logical type's primitive as
	// "long"; goavro and Python avro 1.11 would write {"type":"long"}.
	if !strings.Contains(CanonicalSchema(), `{"name":"lastModifiedDateUtc","type":"long"}`) {
		t.Errorf("canonical form keeps the logical type's object form: %s", CanonicalSchema())
	}
	// hamba/avro keeps logicalType in its canonical form, so give it the schema
	// with logical types stripped (they do not change parsing): its canonical
	// form and fingerprint are then an independent computation of ours.
	hs, err := avro.Parse(strings.NewReplacer(`, "logicalType": "timestamp-micros"`, "", `, "logicalType": "timestamp-millis"`, "").Replace(WriterSchema()))
	if err != nil {
		t.Fatalf("hamba/avro cannot parse the schema: %v", err)
	}
	if hs.String() != CanonicalSchema() {
		t.Errorf("canonical forms differ\nhamba: %s\nours:  %s", hs.String(), CanonicalSchema())
	}
	hfp, err := hs.FingerprintUsing(avro.CRC64AvroLE)
	if err != nil {
		t.Fatal(err)
	}
	own := crc64Avro([]byte(CanonicalSchema()))
	if own != Fingerprint() {
		t.Errorf("Fingerprint() %016x, spec implementation %016x", Fingerprint(), own)
	}
	var le [8]byte
	binary.LittleEndian.PutUint64(le[:], own)
	if !bytes.Equal(hfp, le[:]) {
		t.Errorf("hamba fingerprint % x, want % x", hfp, le)
	}

	enc, err := NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	b, err := enc.Append([]byte("prefix"), eventOf(nullCustomer(), Snapshot, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte("prefix\xc3\x01"), le[:]...)
	if !bytes.HasPrefix(b, want) {
		t.Errorf("event starts % x, want % x", b[:16], want)
	}
	if ref := enc.SchemaRef(); ref != "fp:"+hexU64(own) {
		t.Errorf("SchemaRef %q, want fp:%s", ref, hexU64(own))
	}
}

func hexU64(v uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

func TestChangeTypeString(t *testing.T) {
	for ct, want := range map[ChangeType]string{Snapshot: "SNAPSHOT", Created: "CREATED", Updated: "UPDATED", 7: "ChangeType(7)"} {
		if got := ct.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(ct), got, want)
		}
	}
}
