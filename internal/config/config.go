// Package config holds what the configurations of covacdc's packages share:
// the error that names the field a value is wrong in. Each package owns its
// defaults (a DefaultConfig function) and its validation, in its own field
// names; the covacdc command maps those names to its flags in one table.
package config

import (
	"errors"
	"fmt"
)

// FieldError says which field of a configuration holds a bad value and why.
// Field is the Go field name, dotted for nested structs ("State.Partitions").
type FieldError struct {
	Field   string
	Problem string // what is wrong and what is accepted, with the value given
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Errorf returns a FieldError for field with a formatted problem.
func Errorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Nested returns err with its field prefixed by parent ("State" + "Topic" is
// "State.Topic") when err is a *FieldError, and err unchanged otherwise.
func Nested(parent string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return &FieldError{Field: parent + "." + fe.Field, Problem: fe.Problem}
	}
	return err
}
