package publisher

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fencedCause returns the broker's error among err's causes that says a newer
// producer took the transactional id over, or nil.
func fencedCause(err error) error {
	for _, cause := range []error{kerr.ProducerFenced, kerr.InvalidProducerEpoch, kerr.TransactionalIDNotFound} {
		if errors.Is(err, cause) {
			return cause
		}
	}
	return nil
}

// TestRestoreErrorKeepsItsCause starts on a state topic whose cursor record
// is not JSON: New fails with an error that matches ErrBadRecord and holds
// the JSON decoder's error.
func TestRestoreErrorKeepsItsCause(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(e.c.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := state.EnsureTopic(ctx, kadm.NewClient(cl), e.cfg.State); err != nil {
		t.Fatal(err)
	}
	r := &kgo.Record{Topic: e.cfg.State.Topic, Key: state.CursorKey(e.company), Value: []byte(`{"format":1,"since":`)}
	if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}

	p, err := New(ctx, e.cfg, WithEncoder(e.enc))
	if err == nil {
		_ = p.Close(ctx)
		t.Fatal("New restored an unreadable cursor")
	}
	var syntax *json.SyntaxError
	if !errors.Is(err, state.ErrBadRecord) || !errors.As(err, &syntax) {
		t.Fatalf("New: %v; want state.ErrBadRecord and a *json.SyntaxError among its causes", err)
	}
}
