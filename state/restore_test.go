package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/publisher/kafkatest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestoreStopsOnAnUnreadableRecord puts one record the restore cannot read
// first, in the middle or last among the records of each partition of a state
// topic with 1 and 3 partitions, the other partitions holding readable records:
// Restore (covacdc state) and RestoreUntilMarker (covacdc run) both fail at once
// with ErrBadRecord naming the topic, the partition and the offset, whatever
// the other partitions of the same fetch hold.
func TestRestoreStopsOnAnUnreadableRecord(t *testing.T) {
	c := kafkatest.New(t)
	kinds := []struct {
		name       string
		key, value []byte
	}{
		{"unreadable key", []byte("v/1/not-a-guid"), AppendVersionValue(nil, 1)},
		{"newer cursor format", CursorKey(1), []byte(`{"format":2,"since":"2024-01-01T00:00:00Z","scans":9}`)},
	}
	for _, parts := range []int32{1, 3} {
		for bad := range parts {
			for _, at := range []string{"first", "middle", "last"} {
				for _, kind := range kinds {
					t.Run(fmt.Sprintf("%d partitions/partition %d/%s/%s", parts, bad, at, kind.name), func(t *testing.T) {
						t.Parallel()
						ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
						defer cancel()
						topic := kafkatest.Name(t, "state")
						if _, err := EnsureTopic(ctx, newAdmin(t, c), TopicConfig{Topic: topic, Partitions: parts}); err != nil {
							t.Fatal(err)
						}
						const readable = 6
						var recs []*kgo.Record
						var badRec *kgo.Record
						for p := range parts {
							pos := -1
							if p == bad {
								pos = map[string]int{"first": 0, "middle": readable / 2, "last": readable}[at]
							}
							for i := 0; i <= readable; i++ {
								if i == pos {
									badRec = rec(topic, p, kind.key, kind.value)
									recs = append(recs, badRec)
								}
								if i < readable {
									recs = append(recs, rec(topic, p, AppendVersionKey(nil, 1, id(byte(int(p)*readable+i))), AppendVersionValue(nil, 3)))
								}
							}
						}
						w := newWriter(t, c)
						w.txn(true, recs...)
						nonce := []byte("0123456789abcdef")
						var markers []*kgo.Record
						for p := range parts {
							markers = append(markers, rec(topic, p, MarkerKey(p), MarkerValue(nonce)))
						}
						w.txn(true, markers...)
						where := fmt.Sprintf("state topic %q: restore partition %d offset %d: unreadable state record: ", topic, bad, badRec.Offset)

						for _, r := range []struct {
							name string
							fn   func() error
						}{
							{"Restore", func() error { _, _, err := Restore(ctx, topic, c.Opts()...); return err }},
							{"RestoreUntilMarker", func() error { _, _, err := RestoreUntilMarker(ctx, topic, nonce, c.Opts()...); return err }},
						} {
							err := r.fn()
							if !errors.Is(err, ErrBadRecord) || !strings.HasPrefix(err.Error(), where) {
								t.Errorf("%s = %v, want ErrBadRecord naming %q", r.name, err, where)
							}
						}
					})
				}
			}
		}
	}
}

// TestRestoreErrorsKeepTheirCause restores a missing topic and one whose
// cursor record is not JSON: each error matches its sentinel and holds the
// error that caused it.
func TestRestoreErrorsKeepTheirCause(t *testing.T) {
	c := kafkatest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	_, _, err := Restore(ctx, kafkatest.Name(t, "missing"), c.Opts()...)
	if !errors.Is(err, ErrNoTopic) || !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("Restore of a missing topic: %v; want ErrNoTopic and kerr.UnknownTopicOrPartition among its causes", err)
	}

	topic := kafkatest.Name(t, "state")
	if _, err := EnsureTopic(ctx, newAdmin(t, c), TopicConfig{Topic: topic}); err != nil {
		t.Fatal(err)
	}
	newWriter(t, c).txn(true, rec(topic, 0, CursorKey(1), []byte(`{"format":1,"since":`)))
	_, _, err = Restore(ctx, topic, c.Opts()...)
	var syntax *json.SyntaxError
	if !errors.Is(err, ErrBadRecord) || !errors.As(err, &syntax) {
		t.Errorf("Restore of a cursor that is not JSON: %v; want ErrBadRecord and a *json.SyntaxError among its causes", err)
	}
}
