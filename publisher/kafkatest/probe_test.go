package kafkatest

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

func TestProbeAnswersWhenTheBrokerDoes(t *testing.T) {
	fake, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	if err := probe(context.Background(), fake.ListenAddrs(), 10*time.Second); err != nil {
		t.Fatalf("probe of a running kfake: %v", err)
	}
}

// Nothing listens: the probe retries until its deadline, then names the
// address and the last failure.
func TestProbeFailsOnAClosedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = probe(context.Background(), []string{addr}, time.Second)
	if err == nil {
		t.Fatalf("probe of closed %s: no error", addr)
	}
	for _, want := range []string{addr, "did not answer a metadata request within"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	t.Logf("error: %v", err)
}

// The listener exists before the broker serves it, as with a container whose
// log line came first: the probe keeps asking and returns once the broker
// answers, not before.
func TestProbeWaitsForTheBrokerBehindTheListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- probe(context.Background(), []string{ln.Addr().String()}, 30*time.Second) }()

	time.Sleep(probeTry + probeEvery) // a whole try unanswered, and the next begun
	select {
	case err := <-done:
		t.Fatalf("probe returned %v before any broker served %s", err, ln.Addr())
	default:
	}
	var serving atomic.Bool
	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ListenFn(func(string, string) (net.Listener, error) {
		serving.Store(true)
		return ln, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	if err := <-done; err != nil || !serving.Load() {
		t.Fatalf("probe: %v (broker serving: %v)", err, serving.Load())
	}
}
