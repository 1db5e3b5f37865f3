package config

import (
	"errors"
	"testing"
)

func TestFieldErrorNamesItsField(t *testing.T) {
	err := Nested("State", Errorf("Partitions", "must be at least 1, got %d", 0))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "State.Partitions" || err.Error() != "State.Partitions: must be at least 1, got 0" {
		t.Fatalf("nested field error: %#v, %q", fe, err)
	}
	other := errors.New("not a field")
	if got := Nested("State", other); !errors.Is(got, other) || got.Error() != other.Error() {
		t.Error("Nested changed an error that names no field")
	}
}
