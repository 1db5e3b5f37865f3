// Package kafkatest decides where integration tests talk to Kafka: the cluster named
// by KAFKA_BROKERS when it is set, otherwise franz-go's in-process kfake cluster.
// Each test logs which one it got. It is for tests only.
package kafkatest

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Kind names where a Cluster runs.
type Kind string

const (
	External Kind = "external" // KAFKA_BROKERS
	Fake     Kind = "kfake"    // in-process
)

// Cluster is a Kafka cluster a test may use. Topics on an External cluster are
// shared with other tests and runs: use Name for topic and transactional ids.
type Cluster struct {
	Kind    Kind
	Brokers []string
	fake    *kfake.Cluster
}

// New returns the cluster for this test and logs which one it is. An in-process
// cluster is closed when the test ends.
func New(t testing.TB) *Cluster {
	t.Helper()
	if env := strings.TrimSpace(os.Getenv("KAFKA_BROKERS")); env != "" {
		c := &Cluster{Kind: External, Brokers: strings.Split(env, ",")}
		t.Logf("kafka: external cluster %s (KAFKA_BROKERS)", env)
		return c
	}
	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatalf("kafka: starting kfake: %v", err)
	}
	t.Cleanup(fake.Close)
	c := &Cluster{Kind: Fake, Brokers: fake.ListenAddrs(), fake: fake}
	t.Logf("kafka: in-process kfake at %s", strings.Join(c.Brokers, ","))
	return c
}

// Opts returns the client options that reach the cluster.
func (c *Cluster) Opts() []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
}

var seq atomic.Int64

// Name returns a name unique to this test run, for topics and transactional ids, so
// tests sharing an external cluster never see each other's records.
func Name(t testing.TB, prefix string) string {
	clean := strings.NewReplacer("/", "-", " ", "-", "#", "-").Replace(t.Name())
	return fmt.Sprintf("%s-%s-%d-%d", prefix, clean, time.Now().UnixNano()%1e9, seq.Add(1))
}
