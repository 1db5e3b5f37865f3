package schema

import (
	"testing"
)

// FormatOf tells the two framings apart by their first bytes, as a consumer
// must, and the encoders say which one they write.
func TestFormatOf(t *testing.T) {
	soe, err := NewEncoder()
	if err != nil {
		t.Fatal(err)
	}
	_, cl := newRegistry(t)
	reg, err := NewRegistryEncoder(t.Context(), cl, "covacdc.customers-value")
	if err != nil {
		t.Fatal(err)
	}
	ev := eventOf(fullCustomer(), Created, nil)
	for _, tc := range []struct {
		name string
		enc  *Encoder
		want Format
	}{
		{"single-object", soe, FormatSingleObject},
		{"registry", reg, FormatRegistry},
	} {
		b, err := tc.enc.Append(nil, ev)
		if err != nil {
			t.Fatal(err)
		}
		if got := FormatOf(b); got != tc.want || tc.enc.Format() != tc.want {
			t.Errorf("%s: FormatOf = %v, Format() = %v, want %v", tc.name, got, tc.enc.Format(), tc.want)
		}
	}
	if id, ok := RegistryID([]byte{0, 0, 0, 1, 2, 'x'}); !ok || id != 258 {
		t.Errorf("RegistryID = %d, %v, want 258", id, ok)
	}
	for _, b := range [][]byte{nil, {0xC3, 0x01, 1}, {0, 0, 0}, []byte(`{"Id":1}`)} {
		if got := FormatOf(b); got != FormatUnknown {
			t.Errorf("FormatOf(% x) = %v, want FormatUnknown", b, got)
		}
		if _, ok := RegistryID(b); ok {
			t.Errorf("RegistryID(% x): ok", b)
		}
	}
}
