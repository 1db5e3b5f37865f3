package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/pipeline"
	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/covacdc/covacdc/publisher/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestLeastPrivilegeApacheKafka runs covacdc on Apache Kafka with the
// StandardAuthorizer as a principal holding only the ACLs the README names.
// It runs when KAFKA_ACL_BROKERS, KAFKA_ACL_ADMIN and KAFKA_ACL_USER are set
// (.ci/run starts such a broker with deploy/kafka-local) and skips otherwise.
func TestLeastPrivilegeApacheKafka(t *testing.T) {
	leastPrivilege(t, kafkatest.ACL(t))
}

// TestLeastPrivilegeKfake is the same on kfake's authorizer, in every run.
func TestLeastPrivilegeKfake(t *testing.T) {
	leastPrivilege(t, kafkatest.FakeACL(t))
}

// aclScenario is one principal's view of covacdc: its topics (made by the
// super user, or not), the simulator it polls.
type aclScenario struct {
	ac                      *kafkatest.ACLCluster
	sim                     *covatest.Server
	topic, dlq, state, txn  string
	signals                 string
	customer                string // one of the simulator's customers
	withoutTopic, withoutOp string // the ACL left out of LeastPrivilege and ResyncPrivilege, if any
}

func newACLScenario(t *testing.T, ac *kafkatest.ACLCluster) *aclScenario {
	sim := covatest.NewServer(covatest.Config{Seed: 31})
	t.Cleanup(sim.Close)
	ids := sim.Generate(1, 40)
	// One record that cannot be decoded: a dead letter, so the dead-letter
	// topic is written to.
	sim.AddRaw(1, "ffffffff-0000-0000-0000-000000000001", time.Now().Add(-time.Hour),
		`{"Id":"ffffffff-0000-0000-0000-000000000001","PrimaryName":"no version","LastModifiedDateUtc":"2024-01-01T00:00:00"}`)
	return &aclScenario{ac: ac, sim: sim,
		topic: kafkatest.Name(t, "events"), dlq: kafkatest.Name(t, "dlq"),
		state: kafkatest.Name(t, "state"), txn: kafkatest.Name(t, "txn"), signals: kafkatest.Name(t, "signals"), customer: ids[0]}
}

// createTopics makes the topics as the super user, except skip.
func (s *aclScenario) createTopics(t *testing.T, skip string) {
	if s.topic != skip {
		s.ac.CreateTopic(t, s.topic, 3, nil)
	}
	if s.dlq != skip {
		s.ac.CreateTopic(t, s.dlq, 1, nil)
	}
	if s.state != skip {
		s.ac.CreateTopic(t, s.state, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")})
	}
	if s.signals != skip {
		s.ac.CreateTopic(t, s.signals, 1, nil)
	}
}

// grant gives the user kafkatest.LeastPrivilege and ResyncPrivilege for the
// scenario's names, one operation at a time, leaving out the operation on
// the resource named by withoutTopic and withoutOp.
func (s *aclScenario) grant(t *testing.T) {
	grants := append(kafkatest.LeastPrivilege(s.txn, s.topic, s.dlq, s.state),
		kafkatest.ResyncPrivilege(s.signals, pipeline.SignalGroup(s.txn))...)
	for _, g := range grants {
		for _, op := range g.Ops {
			one := kafkatest.Grant{Topics: g.Topics, TransactionalIDs: g.TransactionalIDs, Groups: g.Groups, Ops: []kadm.ACLOperation{op}}
			names := slices.Concat(g.Topics, g.TransactionalIDs, g.Groups)
			if op.String() == s.withoutOp && len(names) == 1 && names[0] == s.withoutTopic {
				continue
			}
			s.ac.Grant(t, one)
		}
	}
}

// covacdc runs a subcommand as the ordinary user and returns its exit code,
// stdout and stderr.
func (s *aclScenario) covacdc(t *testing.T, cmd string, args ...string) (int, string, string) {
	t.Helper()
	all := append([]string{cmd, "--kafka-brokers", strings.Join(s.ac.Brokers, ","),
		"--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-username", s.ac.User.Name}, args...)
	p := start(t, append(passwordEnv(), "COVACDC_KAFKA_SASL_PASSWORD="+s.ac.User.Password), all...)
	code := p.wait(t, 90*time.Second)
	return code, p.stdout.String(), p.stderr.String()
}

func (s *aclScenario) runOnce(t *testing.T) (int, string) {
	t.Helper()
	code, _, stderr := s.covacdc(t, "run", append(s.runFlags(), "--once")...)
	return code, stderr
}

// runFlags are the flags of run and resync in the scenario.
func (s *aclScenario) runFlags() []string {
	return []string{"--company-id", "1",
		"--cova-base-url", s.sim.BaseURL(), "--cova-token-url", s.sim.TokenURL(),
		"--cova-client-id", covatest.DefaultClientID, "--cova-client-secret", covatest.DefaultClientSecret,
		"--cova-username", covatest.DefaultUsername,
		"--topic", s.topic, "--state-topic", s.state, "--dlq-topic", s.dlq, "--transactional-id", s.txn,
		"--signal-topic", s.signals, "--metrics-addr", "", "--log-format", "text"}
}

// steps runs what an operator runs, in order, and returns the name, exit code
// and last stderr line of the first step that fails ("" when all pass): run
// --once on empty topics, run --once again once the events topic holds events
// (covacdc reads its last events at start-up), tail, state, and a resync of
// one customer with no covacdc running (so resync does it itself).
func (s *aclScenario) steps(t *testing.T) (step string, code int, line string) {
	if code, stderr := s.runOnce(t); code != 0 {
		return "first run", code, lastLine(stderr)
	}
	s.sim.Modify(1, 5)
	if code, stderr := s.runOnce(t); code != 0 {
		return "second run", code, lastLine(stderr)
	}
	code, stdout, stderr := s.covacdc(t, "tail", "--topic", s.topic)
	if code != 0 {
		return "tail", code, lastLine(stderr)
	}
	if n := strings.Count(stdout, "\n"); n != 45 {
		t.Errorf("tail printed %d events, want 45 (40 snapshots, 5 updates)", n)
	}
	code, stdout, stderr = s.covacdc(t, "state", "--state-topic", s.state)
	if code != 0 {
		return "state", code, lastLine(stderr)
	}
	if !strings.Contains(stdout, "complete") {
		t.Errorf("state shows no company whose initial load is complete:\n%s", stdout)
	}
	code, stdout, stderr = s.covacdc(t, "resync", append(s.runFlags(), "--customer-id", s.customer)...)
	if code != 0 {
		return "resync", code, lastLine(stderr)
	}
	if !strings.Contains(stdout, "completed at") {
		t.Errorf("resync printed no completion:\n%s", stdout)
	}
	return "", 0, ""
}

func leastPrivilege(t *testing.T, ac *kafkatest.ACLCluster) {
	t.Run("sufficient", func(t *testing.T) {
		s := newACLScenario(t, ac)
		s.createTopics(t, "")
		s.grant(t)
		if step, code, line := s.steps(t); step != "" {
			t.Fatalf("as %s with LeastPrivilege: %s exited %d: %s", ac.User.Name, step, code, line)
		}
		admin := ac.Opts(ac.Admin)
		events := readEventsWith(t, admin, s.topic)
		resync := resyncedEvents(events, 1)
		if n := len(resync.snapshots[s.customer]); n != 1 || len(resync.snapshots) != 1 {
			t.Errorf("%d resync SNAPSHOT events of the customer resynced, %d customers resynced; want 1 and 1", n, len(resync.snapshots))
		}
		var captured []event // what run published: the resync's SNAPSHOT left out
		for _, ev := range events {
			if ev.ChangeType != "SNAPSHOT" || ev.PreviousVersion == nil {
				captured = append(captured, ev)
			}
		}
		checkExactlyOnce(t, captured, map[int64]map[string]int64{1: s.sim.Truth(1)})
		if n := countCommitted(t, admin, s.dlq); n != 1 {
			t.Errorf("%d dead letters, want 1", n)
		}
	})

	// Each ACL of the set is needed: without it, a step fails, saying which
	// authorization failed. DESCRIBE, implied by READ and WRITE, is not in the set.
	for _, missing := range []struct{ resource, op string }{
		{"txn", "WRITE"},
		{"topic", "READ"}, {"topic", "WRITE"},
		{"dlq", "WRITE"},
		{"state", "READ"}, {"state", "WRITE"}, {"state", "DESCRIBE_CONFIGS"},
		{"signals", "READ"}, {"signals", "WRITE"}, {"group", "READ"},
	} {
		t.Run("without "+missing.op+" on "+missing.resource, func(t *testing.T) {
			s := newACLScenario(t, ac)
			s.withoutTopic = map[string]string{"txn": s.txn, "topic": s.topic, "dlq": s.dlq, "state": s.state,
				"signals": s.signals, "group": pipeline.SignalGroup(s.txn)}[missing.resource]
			s.withoutOp = missing.op
			s.createTopics(t, "")
			s.grant(t)
			step, code, line := s.steps(t)
			if step == "" {
				t.Fatalf("every step passed without %s on %s %s: the README must not ask for it", missing.op, missing.resource, s.withoutTopic)
			}
			if code != 1 || !strings.Contains(line, "AUTHORIZATION_FAILED") {
				t.Errorf("%s exited %d with %q, want 1 and an authorization failure", step, code, line)
			}
			t.Logf("%s fails: %s", step, line)
		})
	}

	// A topic an administrator did not create, and that the principal may
	// not create: covacdc says which topic and which ACL.
	for _, missing := range []string{"events", "dlq", "state"} {
		t.Run(missing+" topic missing, no CREATE", func(t *testing.T) {
			s := newACLScenario(t, ac)
			name := map[string]string{"events": s.topic, "dlq": s.dlq, "state": s.state}[missing]
			s.createTopics(t, name)
			s.grant(t)
			code, stderr := s.runOnce(t)
			line := lastLine(stderr)
			if code != 1 {
				t.Fatalf("exit %d, want 1: %s", code, line)
			}
			for _, want := range []string{`"` + name + `"`, "CREATE"} {
				if !strings.Contains(line, want) {
					t.Errorf("last line %q does not name %s", line, want)
				}
			}
			t.Logf("refused: %s", line)
		})
	}
}

// countCommitted is how many records a read_committed consumer sees on topic.
func countCommitted(t *testing.T, opts []kgo.Opt, topic string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := 0
	if err := readCommitted(ctx, opts, topic, readPos{}, false, func(*kgo.Record) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
