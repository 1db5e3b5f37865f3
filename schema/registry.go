package schema

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/sr"
)

// NewRegistryEncoder registers the writer schema under subject (normally
// "<topic>-value") and returns an encoder producing the Confluent wire format
// (magic 0, 4-byte big-endian schema id, binary body). An incompatible schema fails
// with an error that says so.
//
// Registering is idempotent: a schema the subject already holds keeps its id. The
// error of an incompatible schema wraps ErrIncompatibleSchema and carries the
// registry's explanation; any other failure (unreachable registry, bad
// credentials) is returned wrapped as it came.
func NewRegistryEncoder(ctx context.Context, cl *sr.Client, subject string) (*Encoder, error) {
	if cl == nil {
		return nil, errors.New("schema: NewRegistryEncoder needs a Schema Registry client")
	}
	if subject == "" {
		return nil, errors.New("schema: NewRegistryEncoder needs a subject")
	}
	if _, err := writer(); err != nil {
		return nil, err
	}
	id, err := cl.RegisterSchema(ctx, subject, sr.Schema{Schema: writerSchema, Type: sr.TypeAvro}, -1, -1)
	if err != nil {
		if isIncompatible(err) {
			return nil, fmt.Errorf("subject %q: %w: %w", subject, ErrIncompatibleSchema, err)
		}
		return nil, fmt.Errorf("registering the writer schema under subject %q: %w", subject, err)
	}
	if id < 0 || int64(id) > 0xFFFFFFFF {
		return nil, fmt.Errorf("subject %q: registry returned schema id %d, outside the wire format's 4 bytes", subject, id)
	}
	return &Encoder{header: confluentHeader(uint32(id)), ref: "sr:" + strconv.Itoa(id)}, nil
}

// isIncompatible reports whether the registry refused a schema under the
// subject's compatibility rule: HTTP 409, error code 409 (or 40901 in newer
// registries).
func isIncompatible(err error) bool {
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	return re.StatusCode == 409 || re.ErrorCode == 409 || re.ErrorCode == 40901
}

// confluentHeader is the Confluent wire format header: magic byte 0, then the
// schema id in big-endian order.
func confluentHeader(id uint32) []byte {
	h := make([]byte, 5)
	binary.BigEndian.PutUint32(h[1:], id)
	return h
}
