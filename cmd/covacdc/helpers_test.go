package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"

	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/covacdc/covacdc/publisher/kafkatest"
	"github.com/covacdc/covacdc/schema"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for a writing process and a reading test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a running covacdc.
type proc struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	code   int
}

// start runs the binary with args and an environment free of COVACDC_ variables
// (plus env). The process is killed when the test ends.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(testenv.Covacdc(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	p := &proc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("covacdc did not exit within %s\nstderr:\n%s", d, p.stderr)
		return -1
	}
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testEnv is a simulator and a Kafka for one test, with unique topic names.
type testEnv struct {
	sim     *covatest.Server
	kafka   *kafkatest.Cluster
	topic   string
	state   string
	dlq     string
	txnID   string
	signals string
	metrics string
}

func newTestEnv(t *testing.T, simCfg covatest.Config) *testEnv {
	t.Helper()
	sim := covatest.NewServer(simCfg)
	t.Cleanup(sim.Close)
	return &testEnv{
		sim:     sim,
		kafka:   kafkatest.New(t),
		topic:   kafkatest.Name(t, "events"),
		state:   kafkatest.Name(t, "state"),
		dlq:     kafkatest.Name(t, "dlq"),
		txnID:   kafkatest.Name(t, "txn"),
		signals: kafkatest.Name(t, "signals"),
	}
}

// runArgs are the arguments of covacdc run against the test environment.
func (e *testEnv) runArgs(companies string, extra ...string) []string {
	args := []string{"run",
		"--kafka-brokers", strings.Join(e.kafka.Brokers, ","),
		"--company-id", companies,
		"--cova-base-url", e.sim.BaseURL(),
		"--cova-token-url", e.sim.TokenURL(),
		"--cova-client-id", covatest.DefaultClientID,
		"--cova-client-secret", covatest.DefaultClientSecret,
		"--cova-username", covatest.DefaultUsername,
		"--topic", e.topic, "--state-topic", e.state, "--dlq-topic", e.dlq,
		"--transactional-id", e.txnID, "--signal-topic", e.signals,
		"--partitions", "3",
		"--requests-per-minute", "60000", "--max-in-flight", "4",
		"--log-format", "text",
	}
	if e.metrics == "" {
		args = append(args, "--metrics-addr", "")
	} else {
		args = append(args, "--metrics-addr", e.metrics)
	}
	return append(args, extra...)
}

// passwordEnv passes the Cova password the way a deployment does.
func passwordEnv() []string {
	return []string{"COVACDC_COVA_PASSWORD=" + covatest.DefaultPassword}
}

// committed returns the sum of the committed end offsets of a topic (events
// plus transaction markers), 0 while it does not exist.
func (e *testEnv) committed(t *testing.T, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(e.kafka.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	offs, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return 0
	}
	var n int64
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			n += o.Offset
		}
	})
	return n
}

// event is what the tests check of one event read from the topic.
type event struct {
	Key        string
	Partition  int32
	Offset     int64
	ChangeType string `json:"changeType"`
	CompanyID  int64  `json:"companyId"`
	CustomerID string `json:"customerId"`
	Version    int64  `json:"version"`
	// PreviousVersion is null (nil) for a customer's first event.
	PreviousVersion *int64 `json:"previousVersion"`
	Headers         map[string]string
}

// readEvents reads every committed event of the topic with read_committed and
// decodes it with the schema's decoder.
func (e *testEnv) readEvents(t *testing.T, topic string) []event {
	t.Helper()
	return readEventsWith(t, e.kafka.Opts(), topic)
}

// readEventsWith is readEvents with the client options that reach the cluster.
func readEventsWith(t *testing.T, opts []kgo.Opt, topic string) []event {
	t.Helper()
	dec, err := schema.NewDecoder(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []event
	err = readCommitted(ctx, opts, topic, readPos{}, false, func(r *kgo.Record) error {
		js, err := dec.JSON(ctx, r.Value)
		if err != nil {
			return fmt.Errorf("partition %d offset %d: %w", r.Partition, r.Offset, err)
		}
		ev := event{Key: string(r.Key), Partition: r.Partition, Offset: r.Offset, Headers: map[string]string{}}
		if err := json.Unmarshal(js, &ev); err != nil {
			return err
		}
		for _, h := range r.Headers {
			ev.Headers[h.Key] = string(h.Value)
		}
		out = append(out, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readRecords counts the committed records of a topic (the dead letters).
func (e *testEnv) readRecords(t *testing.T, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	if err := readCommitted(ctx, e.kafka.Opts(), topic, readPos{}, false, func(r *kgo.Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkExactlyOnce asserts what a read_committed consumer must see: every
// customer's current version, no (customer, version) twice, versions rising per
// key in topic order, keys equal to the customer ids.
func checkExactlyOnce(t *testing.T, events []event, truth map[int64]map[string]int64) {
	t.Helper()
	type kv struct {
		company int64
		id      string
		version int64
	}
	seen := map[kv]bool{}
	last := map[string]int64{}
	dups, backwards := 0, 0
	for _, ev := range events {
		if ev.Key != ev.CustomerID {
			t.Fatalf("event key %q differs from customerId %q", ev.Key, ev.CustomerID)
		}
		k := kv{ev.CompanyID, ev.CustomerID, ev.Version}
		if seen[k] {
			dups++
			if dups <= 5 {
				t.Errorf("company %d customer %s version %d published twice", ev.CompanyID, ev.CustomerID, ev.Version)
			}
		}
		seen[k] = true
		lk := fmt.Sprintf("%d/%s", ev.CompanyID, ev.CustomerID)
		if v, ok := last[lk]; ok && ev.Version <= v {
			backwards++
			if backwards <= 5 {
				t.Errorf("customer %s: version %d after %d", lk, ev.Version, v)
			}
		}
		last[lk] = ev.Version
	}
	missing := 0
	total := 0
	for company, ids := range truth {
		for id, v := range ids {
			total++
			if got := last[fmt.Sprintf("%d/%s", company, id)]; got != v {
				missing++
				if missing <= 5 {
					t.Errorf("company %d customer %s: last published version %d, Cova has %d", company, id, got, v)
				}
			}
		}
	}
	t.Logf("checked %d events: %d customers, %d missing or behind, %d duplicates, %d out of order", len(events), total, missing, dups, backwards)
}

// scrape returns the text of /metrics.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return b.String()
}
