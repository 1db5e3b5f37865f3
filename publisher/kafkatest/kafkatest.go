// Package kafkatest decides where integration tests talk to Kafka, in this order:
//
//  1. KAFKA_BROKERS is set: that cluster (CI starts a real Apache Kafka with
//     deploy/kafka-local/start.sh and sets it).
//  2. A Docker engine answers: one Kafka container per test binary, started with
//     testcontainers-go's Kafka module (image COVACDC_KAFKA_IMAGE, default ContainerImage).
//  3. Otherwise: franz-go's in-process kfake cluster, one per test.
//
// COVACDC_KAFKA_FAKE=1 skips the Docker probe and always uses kfake. Each test logs which
// cluster it got. The package also restarts the local broker for fault tests (Restart), gates
// the fault suite (FaultSuite) and runs the independent read_committed checker (CheckEvents).
// It is for tests only.
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
	External  Kind = "external"       // KAFKA_BROKERS
	Container Kind = "testcontainers" // Docker, testcontainers-go's Kafka module
	Fake      Kind = "kfake"          // in-process
)

// Environment variables the package reads.
const (
	BrokersEnv = "KAFKA_BROKERS"      // comma-separated seed brokers of an external cluster
	FakeEnv    = "COVACDC_KAFKA_FAKE" // "1": use kfake even when Docker is there
	ImageEnv   = "COVACDC_KAFKA_IMAGE"
)

// Cluster is a Kafka cluster a test may use. Topics on an External or Container cluster
// are shared with other tests (and, for External, other runs): use Name for topic and
// transactional ids.
type Cluster struct {
	Kind    Kind
	Brokers []string
	fake    *kfake.Cluster
}

// New returns the cluster for this test and logs which one it is. An in-process
// cluster is closed when the test ends; a container lives until the test binary exits.
// The Docker probe runs once per test binary and gives up within a few seconds, so
// tests without Docker pay for it once.
func New(t testing.TB) *Cluster {
	t.Helper()
	if env := strings.TrimSpace(os.Getenv(BrokersEnv)); env != "" {
		c := &Cluster{Kind: External, Brokers: splitBrokers(env)}
		t.Logf("kafka: external cluster %s (%s)", strings.Join(c.Brokers, ","), BrokersEnv)
		return c
	}
	if os.Getenv(FakeEnv) != "1" {
		if brokers, why := sharedContainer(); brokers != nil {
			t.Logf("kafka: testcontainers Kafka at %s (%s)", strings.Join(brokers, ","), why)
			return &Cluster{Kind: Container, Brokers: brokers}
		} else if why != "" {
			t.Logf("kafka: no container (%s)", why)
		}
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

func splitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// Real reports whether the cluster is a real Apache Kafka broker (External or
// Container) rather than kfake.
func (c *Cluster) Real() bool { return c.Kind != Fake }

// FakeCluster returns the in-process cluster, or nil when the cluster is not kfake. Tests use it
// for kfake's fault hooks (ControlKey, RemoveNode).
func (c *Cluster) FakeCluster() *kfake.Cluster { return c.fake }

// Opts returns the client options that reach the cluster.
func (c *Cluster) Opts() []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
}

var seq atomic.Int64

// maxTestPart bounds the test-name part of Name, within Kafka's 249-character topic names.
const maxTestPart = 160

// Name returns a name unique to this test run, for topics and transactional ids, so
// tests sharing an external cluster never see each other's records. It is a legal Kafka
// topic name: characters other than ASCII letters, digits, '.', '_' and '-' in the test's
// name (subtest names have spaces, commas, slashes) become '-', and long names are cut.
// kfake accepts any name; Apache Kafka refuses the rest with INVALID_TOPIC_EXCEPTION.
func Name(t testing.TB, prefix string) string {
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, t.Name())
	if len(clean) > maxTestPart {
		clean = clean[:maxTestPart]
	}
	return fmt.Sprintf("%s-%s-%d-%d", prefix, clean, time.Now().UnixNano()%1e9, seq.Add(1))
}
