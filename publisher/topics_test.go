package publisher

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/covacdc/covacdc/publisher/kafkatest"
	"github.com/covacdc/covacdc/state"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// aclEnv is an env on a kfake cluster that enforces ACLs, publishing as the
// ordinary user.
func aclEnv(t *testing.T) (*env, *kafkatest.ACLCluster) {
	t.Helper()
	ac := kafkatest.FakeACL(t)
	e := newEnv(t)
	e.cfg.KafkaOpts = ac.Opts(ac.User)
	return e, ac
}

// committedCount is how many data records a read_committed consumer sees on
// topic, read with opts.
func committedCount(t *testing.T, opts []kgo.Opt, topic string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("offsets of %s: %v", topic, err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	cons, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	n := 0
	for len(left) > 0 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: partitions %v unread", topic, left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				n++
			}
			if end, ok := left[r.Partition]; ok && r.Offset >= end-1 {
				delete(left, r.Partition)
			}
		})
	}
	return n
}

// A principal without CREATE publishes into topics an administrator made:
// covacdc describes them instead of trying to create them.
func TestLeastPrivilegePublishesIntoExistingTopics(t *testing.T) {
	t.Parallel()
	e, ac := aclEnv(t)
	ac.CreateTopic(t, e.cfg.Topic, 3, nil)
	ac.CreateTopic(t, e.cfg.DLQTopic, 1, nil)
	ac.CreateTopic(t, e.cfg.State.Topic, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")})
	ac.Grant(t, kafkatest.LeastPrivilege(e.cfg.TransactionalID, e.cfg.Topic, e.cfg.DLQTopic, e.cfg.State.Topic)...)

	ctx := context.Background()
	p := e.open(nil)
	if err := e.runScan(ctx, p, 0, plans()[0]); err != nil {
		t.Fatalf("scan as %s: %v", ac.User.Name, err)
	}
	if n := committedCount(t, ac.Opts(ac.Admin), e.cfg.Topic); n != 30 {
		t.Errorf("%d events committed, want 30", n)
	}
	if n := committedCount(t, ac.Opts(ac.Admin), e.cfg.DLQTopic); n != 1 {
		t.Errorf("%d dead letters committed, want 1", n)
	}
}

// A missing topic that the principal may not create fails the start with an
// error naming the topic and the permission it lacks.
func TestMissingTopicWithoutCreateNamesTopicAndACL(t *testing.T) {
	t.Parallel()
	for _, missing := range []string{"events", "dlq", "state"} {
		t.Run(missing, func(t *testing.T) {
			t.Parallel()
			e, ac := aclEnv(t)
			topics := map[string]string{"events": e.cfg.Topic, "dlq": e.cfg.DLQTopic, "state": e.cfg.State.Topic}
			for name, topic := range topics {
				if name == missing {
					continue
				}
				var configs map[string]*string
				if name == "state" {
					configs = map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
				}
				ac.CreateTopic(t, topic, 1, configs)
			}
			ac.Grant(t, kafkatest.LeastPrivilege(e.cfg.TransactionalID, e.cfg.Topic, e.cfg.DLQTopic, e.cfg.State.Topic)...)
			e.cfg.AllowNewStateTopic = true // the events topic is empty anyway

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			p, err := New(ctx, e.cfg, WithEncoder(e.enc))
			if err == nil {
				p.Close(ctx)
				t.Fatalf("New started although topic %s is missing and may not be created", topics[missing])
			}
			if !strings.Contains(err.Error(), "CREATE") {
				t.Errorf("error %q does not name the missing CREATE permission", err)
			}
			if !strings.Contains(err.Error(), `"`+topics[missing]+`"`) {
				t.Errorf("error %q does not name topic %q", err, topics[missing])
			}
			t.Logf("error: %v", err)
		})
	}
}

// CreateTopics is not even sent for topics that exist: a cluster that refuses
// every CreateTopics request still starts the publisher.
func TestExistingTopicsAreNotCreated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fake := e.c.FakeCluster()
	if fake == nil {
		t.Skip("needs kfake's request hooks; the cluster is " + string(e.c.Kind))
	}
	cl, err := kgo.NewClient(e.c.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	adm := kadm.NewClient(cl)
	for _, topic := range []string{e.cfg.Topic, e.cfg.DLQTopic} {
		if _, err := adm.CreateTopic(ctx, 3, -1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := state.EnsureTopic(ctx, adm, e.cfg.State); err != nil {
		t.Fatal(err)
	}

	var creates atomic.Int32
	fake.ControlKey(int16(kmsg.CreateTopics), func(req kmsg.Request) (kmsg.Response, error, bool) {
		fake.KeepControl()
		creates.Add(1)
		resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, rt := range req.(*kmsg.CreateTopicsRequest).Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic = rt.Topic
			st.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	p := e.open(nil)
	if err := e.runScan(ctx, p, 0, plans()[0]); err != nil {
		t.Fatal(err)
	}
	if n := creates.Load(); n != 0 {
		t.Errorf("%d CreateTopics requests for topics that exist, want none", n)
	}
}
