package publisher

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/schema"
	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestStateOfAnEarlierBuildRestores starts on a state topic holding the
// records an earlier covacdc wrote (testdata/state-v1.txt): its cursor and
// Versions are restored, so a scan serving the same customers publishes only
// what changed (no second snapshot) and does not repeat the dead letter.
func TestStateOfAnEarlierBuildRestores(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	f, err := os.Open("testdata/state-v1.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []*kgo.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		k, v, _ := strings.Cut(sc.Text(), "\t")
		value, err := hex.DecodeString(v)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Topic: e.cfg.State.Topic, Key: []byte(k), Value: value})
	}
	cl, err := kgo.NewClient(e.c.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := state.EnsureTopic(ctx, kadm.NewClient(cl), e.cfg.State); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	p := e.open(nil)
	want := state.Cursor{
		Since:               time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC),
		ScanStarted:         time.Date(2024, 5, 1, 0, 2, 0, 0, time.UTC),
		ScanFinished:        time.Date(2024, 5, 1, 0, 2, 30, 0, time.UTC),
		InitialLoadComplete: true,
		Scans:               4,
	}
	if got := p.Cursor(e.company); got != want {
		t.Fatalf("cursor %+v, want %+v", got, want)
	}
	plan := scanPlan{
		batches: [][]schema.Customer{{customer(0, 3), customer(1, 9), customer(2, 6), customer(3, 1)}},
		invalid: []poller.RecordError{badRecord}, // dead-lettered by the earlier build
		since:   want.Since.Add(time.Hour),
	}
	if err := e.runScan(ctx, p, 0, plan); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range readCommitted(t, e.c, e.cfg.Topic) {
		ev := decodeTest(t, r)
		prev := "-"
		if ev.Previous != nil {
			prev = fmt.Sprint(*ev.Previous)
		}
		got = append(got, fmt.Sprintf("%s@%d:%s:%s", ev.ID, ev.Version, ev.Type, prev))
	}
	id2, _ := guid(2)
	id3, _ := guid(3)
	if w := []string{id2 + "@6:UPDATED:5", id3 + "@1:CREATED:-"}; !sameSet(got, w) {
		t.Errorf("events %v, want only %v", got, w)
	}
	if n := len(readCommitted(t, e.c, e.cfg.DLQTopic)); n != 0 {
		t.Errorf("%d dead letters, want none (the record was dead-lettered before)", n)
	}
}
