package kafkatest

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestNewHonoursKafkaBrokers(t *testing.T) {
	t.Setenv(BrokersEnv, " 127.0.0.1:1, 127.0.0.1:2 ,")
	c := New(t)
	if c.Kind != External || len(c.Brokers) != 2 || c.Brokers[0] != "127.0.0.1:1" || c.Brokers[1] != "127.0.0.1:2" {
		t.Fatalf("got %s %q, want external [127.0.0.1:1 127.0.0.1:2]", c.Kind, c.Brokers)
	}
	if !c.Real() || c.FakeCluster() != nil {
		t.Fatalf("external cluster: Real %v, Fake %v", c.Real(), c.FakeCluster())
	}
}

func TestNewFallsBackToKfake(t *testing.T) {
	t.Setenv(BrokersEnv, "")
	t.Setenv(FakeEnv, "1")
	c := New(t)
	if c.Kind != Fake || c.FakeCluster() == nil || c.Real() {
		t.Fatalf("got %s, want kfake", c.Kind)
	}
	if ok, why := c.Restartable(); ok || why == "" {
		t.Fatalf("kfake Restartable = %v %q, want false with a reason", ok, why)
	}
}

// Names of subtests with spaces, commas and slashes, and very long ones, are legal topics:
// the cluster creates them.
func TestNameIsALegalTopic(t *testing.T) {
	c := New(t)
	legal := regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)
	for _, sub := range []string{"compact,delete", "a b/c#d:e", strings.Repeat("long", 80)} {
		t.Run(sub, func(t *testing.T) {
			name := Name(t, "kt")
			if !legal.MatchString(name) {
				t.Fatalf("Name = %q: not a legal Kafka topic name", name)
			}
			if other := Name(t, "kt"); other == name {
				t.Fatalf("two calls gave the same name %q", name)
			}
			newTopicNamed(t, c, name, 1)
		})
	}
}

// newTopic creates a topic with the given partitions and returns its name.
func newTopic(t *testing.T, c *Cluster, partitions int32) string {
	t.Helper()
	return newTopicNamed(t, c, Name(t, "kt"), partitions)
}

func newTopicNamed(t *testing.T, c *Cluster, name string, partitions int32) string {
	t.Helper()
	adm, err := kgo.NewClient(c.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(adm).CreateTopic(ctx, partitions, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	return name
}

type event struct {
	key     string
	version string // "" = no covacdc-version header
}

// produceTxn writes events in one transaction and commits it, or aborts it when commit is false.
func produceTxn(t *testing.T, cl *kgo.Client, topic string, commit bool, evs ...event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		r := &kgo.Record{Topic: topic, Key: []byte(e.key)}
		if e.version != "" {
			r.Headers = []kgo.RecordHeader{{Key: "covacdc-version", Value: []byte(e.version)}}
		}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("end transaction (commit %v): %v", commit, err)
	}
}

func txnClient(t *testing.T, c *Cluster) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(c.Opts(), kgo.TransactionalID(Name(t, "txn")))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// A read_committed consumer sees the committed transactions and never the aborted one.
func TestTransactionsReadCommitted(t *testing.T) {
	c := New(t)
	topic := newTopic(t, c, 1) // one partition: the last commit is read only after the abort
	cl := txnClient(t, c)
	produceTxn(t, cl, topic, true, event{"a", "1"}, event{"b", "1"})
	produceTxn(t, cl, topic, false, event{"aborted", "1"}, event{"aborted", "2"})
	produceTxn(t, cl, topic, true, event{"a", "2"})

	cons, err := kgo.NewClient(append(c.Opts(), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []string
	for len(got) < 3 {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %q, then: %v", got, err)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Errorf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			got = append(got, string(r.Key)+"@"+string(r.Headers[0].Value))
		})
	}
	want := []string{"a@1", "b@1", "a@2"}
	if len(got) != len(want) {
		t.Fatalf("read_committed saw %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("read_committed saw %q, want %q", got, want)
		}
	}
}

func requireChecker(t *testing.T) {
	t.Helper()
	if ok, why := CheckerAvailable(); !ok {
		if os.Getenv(FaultSuiteEnv) == "1" {
			t.Fatalf("independent checker unavailable: %s", why)
		}
		t.Skipf("independent checker unavailable: %s", why)
	}
}

// The independent consumer counts each kind of violation, ignores aborted and still-open
// transactions, and passes a clean history.
func TestCheckEventsFindsViolations(t *testing.T) {
	requireChecker(t)
	c := New(t)
	topic := newTopic(t, c, 3)
	cl := txnClient(t, c)
	produceTxn(t, cl, topic, true,
		event{"c1", "1"}, event{"c1", "2"}, event{"c1", "3"}, // fine
		event{"c2", "1"}, event{"c2", "2"}, event{"c2", "2"}, // duplicate
		event{"c3", "4"}, event{"c3", "3"}, // regression, and final 5 missing
		event{"c5", "1"}, // not in the truth
		event{"c6", ""},  // no version header
	)
	produceTxn(t, cl, topic, false, event{"c4", "1"}, event{"c3", "5"}) // aborted: must not count

	// An open transaction at the end: read_committed stops before it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("c4"),
		Headers: []kgo.RecordHeader{{Key: "covacdc-version", Value: []byte("1")}}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := cl.EndTransaction(context.Background(), kgo.TryAbort); err != nil {
			t.Errorf("aborting the open transaction: %v", err)
		}
	}()

	truth := map[string]int64{"c1": 3, "c2": 2, "c3": 5, "c4": 1, "c6": 1}
	r, err := c.CheckEvents(t, topic, truth, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := CheckReport{Customers: 4, ExpectedCustomers: 5, Events: 10, Duplicates: 1, Regressions: 1,
		Missing: 3, Unexpected: 1, Malformed: 1, Partitions: 3, OK: false}
	r.Output = ""
	if r != want {
		t.Fatalf("report\n got %+v\nwant %+v", r, want)
	}
}

func TestCheckEventsPassesCleanHistory(t *testing.T) {
	requireChecker(t)
	c := New(t)
	topic := newTopic(t, c, 3)
	cl := txnClient(t, c)
	truth := map[string]int64{}
	for v := 1; v <= 3; v++ {
		var evs []event
		for k := 0; k < 20; k++ {
			key := "cust-" + strconv.Itoa(k)
			if k%(v+1) == 0 || v == 1 { // some customers change more often than others
				evs = append(evs, event{key, strconv.Itoa(v * 10)})
				truth[key] = int64(v * 10)
			}
		}
		produceTxn(t, cl, topic, true, evs...)
	}
	r, err := c.CheckEvents(t, topic, truth, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Customers != 20 || r.Missing+r.Duplicates+r.Regressions+r.Unexpected+r.Malformed != 0 {
		t.Fatalf("clean history: %+v", r)
	}
}

func TestCheckEventsMissingTopic(t *testing.T) {
	requireChecker(t)
	c := New(t)
	_, err := c.CheckEvents(t, Name(t, "absent"), map[string]int64{"x": 1}, 10*time.Second)
	if err == nil {
		t.Fatal("checking a topic that does not exist: no error")
	}
}

// Fault suite: the local broker restarts (cleanly and after SIGKILL) keeping committed data,
// and a transactional producer carries on after it.
func TestRestartKeepsCommittedData(t *testing.T) {
	c := FaultSuite(t)
	if ok, why := c.Restartable(); !ok {
		t.Fatalf("fault suite needs the deploy/kafka-local broker: %s", why)
	}
	topic := newTopic(t, c, 1) // one partition: one commit marker per transaction
	cl := txnClient(t, c)
	produceTxn(t, cl, topic, true, event{"r1", "1"}, event{"r2", "1"})
	c.Restart(t, RestartOptions{Down: time.Second})
	produceTxn(t, cl, topic, true, event{"r1", "2"})
	c.Restart(t, RestartOptions{Kill: true})
	produceTxn(t, cl, topic, true, event{"r2", "2"})

	// Read back by the independent consumer: every committed record survived the restarts.
	requireChecker(t)
	r, err := c.CheckEvents(t, topic, map[string]int64{"r1": 2, "r2": 2}, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Events != 4 {
		t.Fatalf("after restarts: %+v", r)
	}
}
