package schema

import (
	"errors"
	"strings"
	"testing"
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
				t.Errorf("error %v, want %v containing %q", err, c.is, c.text)
			}
		})
	}
}
