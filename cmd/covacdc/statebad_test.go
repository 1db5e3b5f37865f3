package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestUnreadableStateRecordExits1 gives covacdc state and covacdc run a state
// topic of 3 partitions whose first partition holds a record this build cannot
// read among readable ones (and the other partitions readable records): both
// exit 1 with a last line naming the topic, the partition and the offset,
// rather than skipping it or waiting forever, each fact said once in the
// user's terms (no package names stacked on top of each other).
func TestUnreadableStateRecordExits1(t *testing.T) {
	e := newTestEnv(t, covatest.Config{})
	e.sim.Generate(1, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(append(e.kafka.Opts(),
		kgo.TransactionalID(e.txnID+"-writer"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := state.EnsureTopic(ctx, kadm.NewClient(cl), state.TopicConfig{Topic: e.state, Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for p := range int32(3) {
		for i := range 5 {
			id := [16]byte{0xc0, byte(p), 15: byte(i)}
			recs = append(recs, &kgo.Record{Topic: e.state, Partition: p, Key: state.AppendVersionKey(nil, 1, id), Value: state.AppendVersionValue(nil, 2)})
			if p == 0 && i == 2 {
				recs = append(recs, &kgo.Record{Topic: e.state, Partition: p, Key: state.CursorKey(1), Value: []byte(`{"format":2,"scans":9}`)})
			}
		}
	}
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	e.settled(t, e.state)
	want := fmt.Sprintf("covacdc: state topic %q: restore partition 0 offset 3: unreadable state record: key \"c/1\": cursor format 2 (this covacdc reads 1)", e.state)

	for _, c := range []struct {
		name string
		args []string
	}{
		{"state", []string{"state", "--kafka-brokers", strings.Join(e.kafka.Brokers, ","), "--state-topic", e.state}},
		{"run", append(e.runArgs("1", "--state-partitions", "3"), "--once")},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := start(t, passwordEnv(), c.args...)
			if code := p.wait(t, 30*time.Second); code != 1 {
				t.Fatalf("exit code %d, want 1\nstderr:\n%s", code, p.stderr)
			}
			got := lastLine(p.stderr.String())
			if got != want {
				t.Errorf("last line\n got %s\nwant %s", got, want)
			}
			t.Logf("last line: %s", got)
		})
	}
}

// TestMissingStateTopicSaysSoOnce runs covacdc state on a state topic that
// does not exist: the last line names the topic once and says it is missing.
func TestMissingStateTopicSaysSoOnce(t *testing.T) {
	e := newTestEnv(t, covatest.Config{})
	p := start(t, passwordEnv(), "state", "--kafka-brokers", strings.Join(e.kafka.Brokers, ","), "--state-topic", e.state)
	if code := p.wait(t, 30*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1\nstderr:\n%s", code, p.stderr)
	}
	want := fmt.Sprintf("covacdc: state topic %q: does not exist", e.state)
	if got := lastLine(p.stderr.String()); !strings.HasPrefix(got, want) || strings.Count(got, e.state) != 1 {
		t.Errorf("last line\n got %s\nwant %s (the topic named once)", got, want)
	}
}
