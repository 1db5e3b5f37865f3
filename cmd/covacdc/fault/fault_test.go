package fault

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"

	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/covacdc/covacdc/publisher/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Knobs of the suite, read from the environment.
const (
	// faultCustomersEnv sizes the kill scenario's initial load. Default 200000.
	faultCustomersEnv = "COVACDC_FAULT_CUSTOMERS"
	// outageEnv is how long Cova answers 503 in the outage scenario. Default 2m.
	outageEnv = "COVACDC_FAULT_OUTAGE"
	// seedEnv replays a run's random choices (kill instants, simulated data).
	seedEnv = "COVACDC_FAULT_SEED"
)

// TestKillDuringInitialLoad SIGKILLs covacdc run at 20 random instants of a large
// initial load while Cova keeps changing customers, restarts it after each kill,
// lets the last restart finish the load, then, with Cova quiet, runs covacdc run
// --once; the events topic then holds every customer's final Version exactly once.
func TestKillDuringInitialLoad(t *testing.T) {
	kafka := suite(t)
	const kills = 20
	n := envInt(t, faultCustomersEnv, 200000)
	rng, seed := newRand(t)
	e := newEnv(t, kafka, covatest.Config{Seed: int64(seed % (1 << 62)), NoServedLog: true})
	began := time.Now()
	e.sim.Generate(e.company, n)
	t.Logf("generated %d customers in %v", n, time.Since(began).Round(100*time.Millisecond))

	// Kill i comes once the load has passed a random point of the i-th of 20
	// equal slices of the first 90% of the customers (and at least one
	// transaction committed since the restart, so every cycle makes progress),
	// after a random pause that lands it anywhere within the next transactions.
	// The points are spread so that the load is still running at the 20th kill.
	targets := make([]float64, kills)
	for i := range targets {
		targets[i] = 0.9 * float64(n) * (float64(i) + rng.Float64()) / kills
	}

	stopTrickle := e.trickle(50)
	defer stopTrickle()
	addr := freeAddr(t)
	args := e.args(addr)
	load := time.Now()
	for i := range kills {
		p := mustStart(t, fmt.Sprintf("run#%d", i), secretEnv, args...)
		restored, at := -1.0, 0.0
		deadline := time.Now().Add(20 * time.Minute)
		for {
			if p.exited() {
				t.Fatalf("%s exited %d by itself\n%s", p.name, p.code, p.tail(40))
			}
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: the load did not reach %.0f customers within 20m (%.0f tracked)\n%s", i+1, targets[i], at, p.tail(40))
			}
			if v, err := e.tracked(p); err == nil {
				if scans, _ := e.okScans(p); scans > 0 {
					t.Fatalf("kill %d: the initial load was over before the kill (%.0f customers tracked, target %.0f): make %s larger",
						i+1, v, targets[i], faultCustomersEnv)
				}
				if restored < 0 {
					restored = v
				}
				at = v
				if v >= max(targets[i], restored+1) {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The load runs at tens of thousands of customers a second here: the
		// pause shrinks to nothing as the load nears the end of the slice, so
		// that the kills stay spread over the load.
		slice := 0.9 * float64(n) / kills
		room := min(max((float64(i+1)*slice-at)/slice, 0), 1)
		if maxPause := time.Duration(room * float64(400*time.Millisecond)); maxPause > 0 {
			time.Sleep(time.Duration(rng.Int64N(int64(maxPause))))
		}
		scans, err := e.okScans(p)
		if err != nil {
			t.Fatalf("kill %d: scraping %s: %v", i+1, p.name, err)
		}
		if scans > 0 {
			t.Fatalf("kill %d: the initial load was over before the kill (%s committed %v scans): make %s larger", i+1, p.name, scans, faultCustomersEnv)
		}
		p.kill(t)
		t.Logf("kill %2d: SIGKILL after %4.1fs of uptime: %6.0f customers tracked at start, %6.0f at the last commit seen (%4.1f%% of %d)",
			i+1, time.Since(p.started).Seconds(), restored, at, 100*at/float64(n), n)
		// Cova changes while covacdc is down, too.
		e.sim.Modify(e.company, 100)
		e.sim.Insert(e.company, 10)
	}

	// The last restart finishes the load while Cova still changes.
	last := mustStart(t, "run#last", secretEnv, args...)
	e.waitLoaded(t, 20*time.Minute, last, "the restarted covacdc to finish the initial load")
	t.Logf("initial load of %d customers with %d kills finished in %v", n, kills, time.Since(load).Round(time.Second))
	stopTrickle()
	last.stop(t)

	once := mustStart(t, "run --once", secretEnv, e.args("", "--once")...)
	if code := once.wait(t, 10*time.Minute); code != 0 {
		t.Fatalf("covacdc run --once exited %d, want 0\n%s", code, once.tail(40))
	}
	t.Logf("quiet covacdc run --once took %v", time.Since(once.started).Round(100*time.Millisecond))
	r := e.check(t)
	if r.ExpectedCustomers <= n {
		t.Errorf("the truth has %d customers, want more than the %d generated (Cova inserted while covacdc was killed)", r.ExpectedCustomers, n)
	}
}

// TestBrokerRestartMidRun restarts the broker twice under a running covacdc: once
// cleanly with a few seconds of downtime in the middle of the initial load, once with
// SIGKILL a little later. covacdc keeps going, or exits and is restarted as a
// supervisor would; either way, once Cova is quiet and covacdc has caught up,
// nothing is lost or duplicated.
func TestBrokerRestartMidRun(t *testing.T) {
	brokerRestarts(t,
		kafkatest.RestartOptions{Down: 3 * time.Second},
		kafkatest.RestartOptions{Kill: true},
	)
}

// TestBrokerDownLongerThanTransactionTimeout keeps the broker down for 45s in the
// middle of the initial load: longer than covacdc's 30s bound on ending a
// transaction, as in a slow rolling restart or a network partition. covacdc must
// come back by itself (or exit, to be restarted) once the broker is back.
func TestBrokerDownLongerThanTransactionTimeout(t *testing.T) {
	brokerRestarts(t, kafkatest.RestartOptions{Down: 45 * time.Second})
}

// brokerRestarts restarts the broker with each of restarts in turn, each once the
// load has progressed by 10000 customers, under a supervised covacdc run, then
// checks the events topic once Cova is quiet and covacdc has caught up.
func brokerRestarts(t *testing.T, restarts ...kafkatest.RestartOptions) {
	kafka := suite(t)
	if ok, why := kafka.Restartable(); !ok {
		t.Fatalf("fault suite: the broker cannot be restarted: %s (set %s to deploy/kafka-local's run directory)", why, kafkatest.RunDirEnv)
	}
	const n = 60000
	_, seed := newRand(t)
	e := newEnv(t, kafka, covatest.Config{Seed: int64(seed % (1 << 62)), NoServedLog: true})
	e.sim.Generate(e.company, n)
	// Slow pages stretch the load over the restarts.
	e.sim.SetHazards(covatest.Hazards{Latency: 20 * time.Millisecond, LatencyJitter: 10 * time.Millisecond})
	stopTrickle := e.trickle(50)
	defer stopTrickle()
	sup := supervise(t, "run", e.args(freeAddr(t)))

	// progress waits until the state holds target customers; covacdc has 3
	// minutes after a restart to resume (its retries and timeouts are far shorter).
	progress := func(what string, target float64) float64 {
		var at float64
		testenv.Eventually(t, 3*time.Minute, what, func() bool {
			v, err := e.tracked(sup.current())
			at = v
			return err == nil && v >= target
		})
		return at
	}
	at := 5000.0
	for i, o := range restarts {
		at = progress(fmt.Sprintf("the load to pass %.0f customers (before restart %d)", at+10000, i+1), at+10000)
		t.Logf("restart %d (down %v, kill %v) at %.0f of %d customers tracked", i+1, o.Down, o.Kill, at, n)
		kafka.Restart(t, o)
	}
	progress("the initial load to end after the broker came back", n)

	stopTrickle()
	e.waitCaughtUp(t, 3*time.Minute, sup.current)
	sup.stop(t)
	for i, x := range sup.restarts() {
		t.Logf("covacdc exit %d: code %d after %v: %s", i+1, x.code, x.after.Round(100*time.Millisecond), x.lastErr)
	}
	t.Logf("covacdc was restarted %d times by the supervisor", len(sup.restarts()))
	e.check(t)
}

// TestFencedBySecondInstance starts a second covacdc with the first one's
// transactional id, once in the middle of the initial load (the older instance has
// a transaction open) and once between scans (it has none): the older is fenced and
// exits 1 saying so, the newer takes over and goes on, and nothing is published
// twice.
func TestFencedBySecondInstance(t *testing.T) {
	kafka := suite(t)
	for _, tc := range []struct {
		name  string
		ready string
		ok    func(e *env, older *proc) bool
	}{
		{"mid-load", "the older instance to pass 10000 customers", func(e *env, older *proc) bool {
			v, err := e.tracked(older)
			return err == nil && v >= 10000
		}},
		{"between-scans", "the older instance to finish the load", func(e *env, older *proc) bool {
			s, err := e.okScans(older)
			return err == nil && s >= 1
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 40000
			_, seed := newRand(t)
			e := newEnv(t, kafka, covatest.Config{Seed: int64(seed % (1 << 62)), NoServedLog: true})
			e.sim.Generate(e.company, n)
			e.sim.SetHazards(covatest.Hazards{Latency: 20 * time.Millisecond, LatencyJitter: 10 * time.Millisecond})
			stopTrickle := e.trickle(50)
			defer stopTrickle()

			older := mustStart(t, "older", secretEnv, e.args(freeAddr(t))...)
			testenv.Eventually(t, 3*time.Minute, tc.ready, func() bool {
				if older.exited() {
					t.Fatalf("older exited %d by itself\n%s", older.code, older.tail(40))
				}
				return tc.ok(e, older)
			})
			newer := mustStart(t, "newer", secretEnv, e.args(freeAddr(t))...)
			code := older.wait(t, 2*time.Minute)
			t.Logf("older exited %d, %v after the newer started:\n%s", code, time.Since(newer.started).Round(100*time.Millisecond), older.tail(1))
			want := `covacdc: fenced: another covacdc instance started with --transactional-id "` + e.txnID +
				`" and took over; this one stops (run one instance per transactional id)`
			if code != 1 || !strings.Contains(older.stderr.String(), want) {
				t.Errorf("the fenced instance exited %d, want 1 with the line\n%s\n%s", code, want, older.tail(20))
			}
			e.finish(t, newer, stopTrickle, "the newer instance to finish the load")
		})
	}
}

// TestCovaOutage takes Cova down in the middle of the initial load: every request
// is answered 503 for COVACDC_FAULT_OUTAGE (default 2m), then a storm of 429s with
// Retry-After. covacdc backs off (its metrics count the 503s and 429s the simulator
// sent, and the retry rate stays low), then catches up with nothing lost.
func TestCovaOutage(t *testing.T) {
	kafka := suite(t)
	outage := envDuration(t, outageEnv, 2*time.Minute)
	const (
		n          = 30000
		storm      = 30 // 429s
		retryAfter = 1  // seconds
	)
	_, seed := newRand(t)
	e := newEnv(t, kafka, covatest.Config{Seed: int64(seed % (1 << 62)), NoServedLog: true})
	e.sim.Generate(e.company, n)
	slow := covatest.Hazards{Latency: 20 * time.Millisecond, LatencyJitter: 10 * time.Millisecond}
	e.sim.SetHazards(slow)
	stopTrickle := e.trickle(20)
	defer stopTrickle()
	p := mustStart(t, "run", secretEnv, e.args(freeAddr(t))...)
	alive := func() {
		if p.exited() {
			t.Fatalf("covacdc exited %d during the outage\n%s", p.code, p.tail(40))
		}
	}
	testenv.Eventually(t, 3*time.Minute, "the load to pass 5000 customers", func() bool {
		alive()
		v, err := e.tracked(p)
		return err == nil && v >= 5000
	})
	company := strconv.FormatInt(e.company, 10)
	before, err := scrape(p.metrics)
	t.Logf("outage begins with %.0f of %d customers tracked", before.value("covacdc_tracked_customers", "company_id", company), n)
	if err != nil {
		t.Fatal(err)
	}
	simBefore := e.sim.Stats()

	h := slow
	h.Status5xx, h.Code5xx = 1<<30, 503
	e.sim.SetHazards(h)
	outageStart := time.Now()
	t.Logf("Cova answers 503 for %v", outage)
	for time.Since(outageStart) < outage {
		alive()
		time.Sleep(time.Second)
	}
	h = slow
	h.Status429, h.RetryAfter = storm, strconv.Itoa(retryAfter)
	e.sim.SetHazards(h)
	outageEnd := time.Now()
	mid := e.sim.Stats()
	served503 := mid.ByStatus[503] - simBefore.ByStatus[503]
	t.Logf("then %d 429s with Retry-After: %d", storm, retryAfter)
	testenv.Eventually(t, 5*time.Minute, "the 429 storm to be used up", func() bool {
		alive()
		return e.sim.Hazards().Status429 == 0
	})
	stormTook := time.Since(outageEnd)
	after, err := scrape(p.metrics)
	if err != nil {
		t.Fatal(err)
	}
	simAfter := e.sim.Stats()
	served429 := simAfter.ByStatus[429] - mid.ByStatus[429]

	got503 := after.value("covacdc_cova_requests_total", "company_id", company, "code", "503") -
		before.value("covacdc_cova_requests_total", "company_id", company, "code", "503")
	got429 := after.value("covacdc_cova_throttled_total", "company_id", company) -
		before.value("covacdc_cova_throttled_total", "company_id", company)
	rate := float64(served503) / outage.Seconds()
	t.Logf("outage %v: the simulator answered %d requests 503 (%.2f/s); covacdc_cova_requests_total{code=\"503\"} grew by %.0f",
		outage, served503, rate, got503)
	t.Logf("storm: the simulator answered %d requests 429 in %v; covacdc_cova_throttled_total grew by %.0f",
		served429, stormTook.Round(100*time.Millisecond), got429)
	if served503 == 0 || got503 != float64(served503) {
		t.Errorf("covacdc_cova_requests_total{code=\"503\"} grew by %.0f, the simulator sent %d 503s: want them equal and not 0", got503, served503)
	}
	if served429 != storm || got429 != float64(served429) {
		t.Errorf("covacdc_cova_throttled_total grew by %.0f, the simulator sent %d 429s (storm of %d): want them equal", got429, served429, storm)
	}
	// Backing off (8 retries per request, doubling from 500ms up to 30s, full
	// jitter) makes about nine requests in 45s per request in flight (4), and a
	// failed scan starts over; a client that does not back off sends hundreds a
	// second to a server that fails fast.
	if rate > 2 {
		t.Errorf("covacdc retried %.2f requests a second against a Cova that answers 503: want at most 2/s (backoff)", rate)
	}
	// Each 429 carries Retry-After: 1, which pauses the whole client, so the storm
	// cannot be used up faster than one 429 a second per request in flight
	// (--max-in-flight 4).
	if minStorm := time.Duration(storm/4-1) * time.Duration(retryAfter) * time.Second; stormTook < minStorm {
		t.Errorf("%d 429s with Retry-After: %d were used up in %v, want at least %v (Retry-After honoured)", storm, retryAfter, stormTook, minStorm)
	}
	e.sim.SetHazards(covatest.Hazards{})

	e.finish(t, p, stopTrickle, "the load to finish after the outage")
}

// TestStateTopicNotCompacted: a state topic created beforehand with a delete
// policy is refused with a clear message and exit code 1 before anything is
// published, and covacdc leaves the topic's configuration alone.
func TestStateTopicNotCompacted(t *testing.T) {
	kafka := suite(t)
	for _, policy := range []string{"delete", "compact,delete"} {
		t.Run(policy, func(t *testing.T) {
			e := newEnv(t, kafka, covatest.Config{Seed: 3})
			e.sim.Generate(e.company, 1000)
			adm := e.admin(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr(policy)}, e.state)
			if err == nil {
				err = resp.Err
			}
			if err != nil {
				t.Fatalf("creating the state topic: %v", err)
			}
			p := mustStart(t, "run", secretEnv, e.args("")...)
			code := p.wait(t, time.Minute)
			stderr := p.stderr.String()
			t.Logf("covacdc exited %d:\n%s", code, p.tail(3))
			want := fmt.Sprintf(`covacdc: state topic %q has cleanup.policy=%q, covacdc keeps its state only in a topic with cleanup.policy=compact`, e.state, policy)
			if code != 1 || !strings.Contains(stderr, want) {
				t.Errorf("covacdc exited %d, want 1 with a line starting\n%s", code, want)
			}
			if got := e.policy(t, e.state); got != policy {
				t.Errorf("the state topic's cleanup.policy is now %q, want it left at %q", got, policy)
			}
			r, err := kafka.CheckEvents(t, e.topic, map[string]int64{}, time.Minute)
			if err != nil {
				t.Logf("the events topic cannot be read (%v): nothing was published", err)
				return
			}
			t.Logf("independent consumer: events %d, customers %d", r.Events, r.Customers)
			if r.Events != 0 {
				t.Errorf("%d events published although the state topic was refused", r.Events)
			}
		})
	}
}

// ---- helpers

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// suite gates a scenario: the fault suite must be on, the broker real and the
// independent checker installed. A missing checker fails the test rather than
// skipping it: with the suite on, a scenario that checks nothing must not pass.
func suite(t *testing.T) *kafkatest.Cluster {
	t.Helper()
	c := kafkatest.FaultSuite(t)
	if ok, why := kafkatest.CheckerAvailable(); !ok {
		t.Fatalf("fault suite: the independent consumer cannot run: %s", why)
	}
	testenv.Covacdc(t)
	return c
}

// envInt and envDuration read a size or duration knob of the suite.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration such as 2m", name, v)
	}
	return d
}

// newRand returns the scenario's random source, seeded from COVACDC_FAULT_SEED
// when set (to replay a failure) and from the clock otherwise; the seed is logged.
func newRand(t *testing.T) (*rand.Rand, uint64) {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(seedEnv); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: want an unsigned integer", seedEnv, v)
		}
		seed = n
	}
	t.Logf("random seed %d (replay with %s=%d)", seed, seedEnv, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed
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

// proc is one running covacdc process.
type proc struct {
	name    string
	cmd     *exec.Cmd
	metrics string // --metrics-addr, "" when none
	stderr  *syncBuffer
	stdout  *syncBuffer
	done    chan struct{}
	code    int
	started time.Time
}

// startProc runs the binary with args and an environment free of COVACDC_
// variables but env. The process is killed when the test ends.
func startProc(t *testing.T, name string, env []string, args ...string) (*proc, error) {
	cmd := exec.Command(testenv.Covacdc(t), args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COVACDC_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	p := &proc{name: name, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{}), started: time.Now()}
	for i, a := range args {
		if a == "--metrics-addr" && i+1 < len(args) {
			p.metrics = args[i+1]
		}
	}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	startedMu.Lock()
	started[t.Name()] = append(started[t.Name()], p)
	startedMu.Unlock()
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
	return p, nil
}

func mustStart(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	p, err := startProc(t, name, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to exit and returns its exit code; it fails the
// test (killing the process) after d.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not exit within %s\n%s", p.name, d, p.tail(40))
		return -1
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and asserts what a supervisor relies on: exit 0 within 10 s
// (a little slack for the noisy machine).
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	start := time.Now()
	if code := p.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("%s exited %d on SIGTERM, want 0\n%s", p.name, code, p.tail(40))
	}
	t.Logf("%s stopped on SIGTERM in %v, exit 0", p.name, time.Since(start).Round(10*time.Millisecond))
}

// tail returns the last n lines of the process's stderr, for failure messages.
func (p *proc) tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.stderr.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprintf("---- last lines of %s's stderr ----\n%s", p.name, strings.Join(lines, "\n"))
}

// firstProblems returns the first n WARN and ERROR lines of the process's stderr:
// where a failure began, which its tail may no longer show.
func (p *proc) firstProblems(n int) string {
	var out []string
	for _, l := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			out = append(out, l)
			if len(out) == n {
				break
			}
		}
	}
	return fmt.Sprintf("---- first warnings and errors of %s ----\n%s", p.name, strings.Join(out, "\n"))
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

// metrics is one scrape of covacdc's /metrics.
type metrics string

// scrape reads /metrics of a running covacdc.
func scrape(addr string) (metrics, error) {
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + addr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return "", err
	}
	return metrics(b.String()), nil
}

// value sums the samples of the series called name whose labels include every
// label="value" pair given; 0 when there is none.
func (m metrics) value(name string, labels ...string) float64 {
	sum := 0.0
	sc := bufio.NewScanner(strings.NewReader(string(m)))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		var lbls string
		switch {
		case strings.HasPrefix(rest, "{"):
			end := strings.Index(rest, "}")
			if end < 0 {
				continue
			}
			lbls, rest = rest[1:end], rest[end+1:]
		case strings.HasPrefix(rest, " "):
		default:
			continue // a longer name with this prefix
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(","+lbls+",", ","+labels[i]+"=\""+labels[i+1]+"\",") {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// env is one scenario's simulator, cluster and names.
type env struct {
	kafka   *kafkatest.Cluster
	sim     *covatest.Server
	company int64
	topic   string
	state   string
	dlq     string
	txnID   string
}

func newEnv(t *testing.T, kafka *kafkatest.Cluster, cfg covatest.Config) *env {
	t.Helper()
	sim := covatest.NewServer(cfg)
	t.Cleanup(sim.Close)
	return &env{
		kafka:   kafka,
		sim:     sim,
		company: 1,
		topic:   kafkatest.Name(t, "events"),
		state:   kafkatest.Name(t, "state"),
		dlq:     kafkatest.Name(t, "dlq"),
		txnID:   kafkatest.Name(t, "txn"),
	}
}

// args are the flags of covacdc run against this scenario's simulator and
// broker, as a deployment would pass them (the password comes from the
// environment, see secretEnv).
func (e *env) args(metricsAddr string, extra ...string) []string {
	args := []string{"run",
		"--kafka-brokers", strings.Join(e.kafka.Brokers, ","),
		"--company-id", strconv.FormatInt(e.company, 10),
		"--cova-base-url", e.sim.BaseURL(),
		"--cova-token-url", e.sim.TokenURL(),
		"--cova-client-id", covatest.DefaultClientID,
		"--cova-client-secret", covatest.DefaultClientSecret,
		"--cova-username", covatest.DefaultUsername,
		"--topic", e.topic, "--state-topic", e.state, "--dlq-topic", e.dlq,
		"--transactional-id", e.txnID,
		"--partitions", "3",
		"--requests-per-minute", "60000",
		"--poll-interval", "2s",
		"--log-format", "text",
		"--metrics-addr", metricsAddr,
	}
	return append(args, extra...)
}

// secretEnv passes the Cova password the way a deployment does.
var secretEnv = []string{"COVACDC_COVA_PASSWORD=" + covatest.DefaultPassword}

// tracked returns covacdc_tracked_customers of the company: how many customers
// the state topic holds a published Version of. It survives restarts (the gauge is
// read from the restored state), which makes it the progress measure across kills.
func (e *env) tracked(p *proc) (float64, error) {
	m, err := scrape(p.metrics)
	if err != nil {
		return 0, err
	}
	if !strings.Contains(string(m), "covacdc_tracked_customers") {
		return 0, fmt.Errorf("no covacdc_tracked_customers yet")
	}
	return m.value("covacdc_tracked_customers", "company_id", strconv.FormatInt(e.company, 10)), nil
}

// okScans returns how many scans of the company this process committed.
func (e *env) okScans(p *proc) (float64, error) {
	m, err := scrape(p.metrics)
	if err != nil {
		return 0, err
	}
	return m.value("covacdc_scan_duration_seconds_count", "company_id", strconv.FormatInt(e.company, 10), "outcome", "ok"), nil
}

// truth returns the simulator's ground truth: every customer's current Version.
func (e *env) truth() map[string]int64 { return e.sim.Truth(e.company) }

// check runs the independent consumer over the events topic, logs its counts and
// fails the test on any violation.
func (e *env) check(t *testing.T) kafkatest.CheckReport {
	t.Helper()
	truth := e.truth()
	start := time.Now()
	r, err := e.kafka.CheckEvents(t, e.topic, truth, 5*time.Minute)
	if err != nil {
		t.Fatalf("independent consumer: %v", err)
	}
	t.Logf("independent consumer (read_committed, %v): customers %d of %d expected, events %d, duplicates %d, regressions %d, missing %d, unexpected %d, malformed %d, partitions %d",
		time.Since(start).Round(100*time.Millisecond), r.Customers, r.ExpectedCustomers, r.Events, r.Duplicates,
		r.Regressions, r.Missing, r.Unexpected, r.Malformed, r.Partitions)
	logMended(t)
	if !r.OK {
		t.Errorf("the independent consumer found violations on %s:\n%s", e.topic, r.Output)
		logTransactions(t)
	}
	if r.ExpectedCustomers == 0 {
		t.Errorf("the truth is empty: the scenario checked nothing")
	}
	return r
}

// trickle runs the simulator's steady changes (modifications and some inserts)
// until the returned stop is called; stop waits for it to end and is idempotent.
func (e *env) trickle(perSecond float64) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.sim.Trickle(ctx, e.company, perSecond)
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}

// supervisor keeps one covacdc run going, as systemd or Kubernetes would: when it
// exits (for any reason), it is started again with the same arguments after a
// second. It records every exit.
type supervisor struct {
	t    *testing.T
	name string
	args []string

	mu    sync.Mutex
	cur   *proc
	exits []exit
	n     int

	stopc chan struct{}
	done  chan struct{}
}

// exit is one end of a supervised process.
type exit struct {
	code    int
	after   time.Duration
	lastErr string // its last stderr line
}

func supervise(t *testing.T, name string, args []string) *supervisor {
	t.Helper()
	s := &supervisor{t: t, name: name, args: args, stopc: make(chan struct{}), done: make(chan struct{})}
	s.cur = mustStart(t, fmt.Sprintf("%s#%d", name, s.n), secretEnv, args...)
	go s.loop()
	t.Cleanup(func() {
		s.halt()
		if t.Failed() {
			cur := s.current()
			t.Logf("supervised covacdc: %d exits before\n%s\n%s", len(s.restarts()), cur.firstProblems(25), cur.tail(30))
		}
	})
	return s
}

func (s *supervisor) loop() {
	defer close(s.done)
	for {
		s.mu.Lock()
		p := s.cur
		s.mu.Unlock()
		select {
		case <-s.stopc:
			return
		case <-p.done:
		}
		lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
		s.mu.Lock()
		s.exits = append(s.exits, exit{code: p.code, after: time.Since(p.started), lastErr: lines[len(lines)-1]})
		s.mu.Unlock()
		select {
		case <-s.stopc:
			return
		case <-time.After(time.Second):
		}
		s.mu.Lock()
		s.n++
		np, err := startProc(s.t, fmt.Sprintf("%s#%d", s.name, s.n), secretEnv, s.args...)
		if err != nil {
			s.mu.Unlock()
			return // the test sees the dead process and fails on it
		}
		s.cur = np
		s.mu.Unlock()
	}
}

// current returns the process running now (or the one that just ended).
func (s *supervisor) current() *proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// restarts returns the exits seen so far.
func (s *supervisor) restarts() []exit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]exit(nil), s.exits...)
}

// halt stops supervising; the current process keeps running.
func (s *supervisor) halt() {
	select {
	case <-s.stopc:
	default:
		close(s.stopc)
	}
	<-s.done
}

// stop stops supervising and stops the current process with SIGTERM (exit 0).
func (s *supervisor) stop(t *testing.T) {
	t.Helper()
	s.halt()
	s.current().stop(t)
}

// waitLoaded waits until p has committed its first scan (the initial load),
// failing at once if p exits by itself.
func (e *env) waitLoaded(t *testing.T, d time.Duration, p *proc, what string) {
	t.Helper()
	testenv.Eventually(t, d, what, func() bool {
		if p.exited() {
			t.Fatalf("%s exited %d by itself\n%s", p.name, p.code, p.tail(40))
		}
		s, err := e.okScans(p)
		return err == nil && s >= 1
	})
}

// finish ends a scenario whose covacdc p is still loading while Cova changes:
// it waits for the load (what), stops the changes, waits until p has published
// everything, stops p and checks the events topic.
func (e *env) finish(t *testing.T, p *proc, stopChanges func(), what string) {
	t.Helper()
	e.waitLoaded(t, 5*time.Minute, p, what)
	stopChanges()
	e.waitCaughtUp(t, 3*time.Minute, func() *proc { return p })
	p.stop(t)
	e.check(t)
}

// waitCaughtUp waits until a running covacdc has committed two scans that began
// after this call, so whatever Cova held at the call is published. get returns
// the process to watch (a supervisor's current one may change meanwhile).
func (e *env) waitCaughtUp(t *testing.T, d time.Duration, get func() *proc) {
	t.Helper()
	var (
		p    *proc
		base float64 = -1
	)
	start := time.Now()
	testenv.Eventually(t, d, "covacdc to commit two scans after Cova went quiet", func() bool {
		cur := get()
		if cur != p {
			p, base = cur, -1
		}
		if p.exited() {
			return false
		}
		n, err := e.okScans(p)
		if err != nil {
			return false
		}
		if base < 0 {
			base = n
		}
		return n >= base+2
	})
	t.Logf("%s caught up in %v", p.name, time.Since(start).Round(100*time.Millisecond))
}

// admin returns an admin client of the scenario's cluster, closed when the test ends.
func (e *env) admin(t *testing.T) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(e.kafka.Opts()...)
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	t.Cleanup(adm.Close)
	return adm
}

// policy returns a topic's cleanup.policy.
func (e *env) policy(t *testing.T, topic string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rcs, err := e.admin(t).DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatalf("describing %s: %v", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err == nil {
		err = rc.Err
	}
	if err != nil {
		t.Fatalf("describing %s: %v", topic, err)
	}
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}

// TestStateTopicDeletedWhileRunning deletes the state topic under a running
// covacdc, then restarts it as an operator would. Losing the state must never
// go unnoticed: the running instance must fail loudly rather than report
// successful scans, and the restarted one must either refuse to run, naming the
// state topic, or resync without publishing any (customer, Version) again.
func TestStateTopicDeletedWhileRunning(t *testing.T) {
	kafka := suite(t)
	const n = 20000
	_, seed := newRand(t)
	e := newEnv(t, kafka, covatest.Config{Seed: int64(seed % (1 << 62)), NoServedLog: true})
	e.sim.Generate(e.company, n)
	stopTrickle := e.trickle(20)
	defer stopTrickle()
	p := mustStart(t, "run", secretEnv, e.args(freeAddr(t))...)
	e.waitLoaded(t, 3*time.Minute, p, "the initial load to finish")
	e.waitCaughtUp(t, time.Minute, func() *proc { return p })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := e.admin(t).DeleteTopic(ctx, e.state)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("deleting the state topic: %v", err)
	}
	deleted := time.Now()
	m0, err := scrape(p.metrics)
	if err != nil {
		t.Fatal(err)
	}
	company := strconv.FormatInt(e.company, 10)
	ok0 := m0.value("covacdc_scan_duration_seconds_count", "company_id", company, "outcome", "ok")
	t.Logf("state topic %s deleted", e.state)

	// The running instance: exits non-zero, or its scans fail; it must not go
	// on committing scans as if nothing happened.
	var loud string
	testenv.Eventually(t, 2*time.Minute, "covacdc to notice that its state topic is gone", func() bool {
		if p.exited() {
			loud = fmt.Sprintf("exited %d", p.code)
			if p.code == 0 {
				t.Fatalf("covacdc exited 0 after its state topic was deleted\n%s", p.tail(20))
			}
			return true
		}
		m, err := scrape(p.metrics)
		if err != nil {
			return false
		}
		if okNow := m.value("covacdc_scan_duration_seconds_count", "company_id", company, "outcome", "ok"); okNow > ok0+1 {
			t.Fatalf("covacdc committed %.0f scans after its state topic was deleted, as if nothing happened\n%s", okNow-ok0, p.tail(30))
		}
		if bad := m.value("covacdc_scan_duration_seconds_count", "company_id", company, "outcome", "error"); bad > 0 {
			loud = fmt.Sprintf("%.0f failed scans", bad)
			return true
		}
		return false
	})
	t.Logf("the running covacdc noticed after %v: %s\n%s", time.Since(deleted).Round(100*time.Millisecond), loud, p.tail(6))
	stopTrickle()
	if !p.exited() {
		p.stop(t)
	}

	// The operator restarts it.
	again := mustStart(t, "run --once (restart)", secretEnv, e.args("", "--once")...)
	code := again.wait(t, 5*time.Minute)
	t.Logf("restarted covacdc run --once exited %d\n%s", code, again.tail(8))
	r, err := kafka.CheckEvents(t, e.topic, e.truth(), 5*time.Minute)
	if err != nil {
		t.Fatalf("independent consumer: %v", err)
	}
	t.Logf("independent consumer (read_committed): customers %d of %d expected, events %d, duplicates %d, regressions %d, missing %d, unexpected %d, malformed %d",
		r.Customers, r.ExpectedCustomers, r.Events, r.Duplicates, r.Regressions, r.Missing, r.Unexpected, r.Malformed)
	// The restart must refuse, saying why and how to proceed: an empty state
	// would publish every customer again.
	if code != 1 {
		t.Errorf("the restarted covacdc exited %d, want 1 (a refusal)", code)
	}
	for _, want := range []string{e.state, "--allow-new-state-topic"} {
		if !strings.Contains(again.stderr.String(), want) {
			t.Errorf("the restarted covacdc's message does not mention %q:\n%s", want, again.tail(4))
		}
	}
	if r.Duplicates > 0 || r.Regressions > 0 {
		t.Errorf("the independent consumer found violations:\n%s", r.Output)
	}
}

// started are the processes each test started, for logTransactions.
var (
	startedMu sync.Mutex
	started   = map[string][]*proc{}
)

// transactionWords pick the log lines that tell a transaction's fate.
var transactionWords = []string{"transaction", "Kafka client", "state restored", "scan failed", "fenced", "level=ERROR", `"level":"ERROR"`, `"level":"WARN"`}

// processLines are the lines of one covacdc the test ran that keep chose.
type processLines struct {
	n     int // 1 for the first covacdc the test started
	name  string
	lines []string
}

// startedLines returns, for every covacdc the test ran, the lines of its
// stderr for which keep is true.
func startedLines(t *testing.T, keep func(line string) bool) []processLines {
	startedMu.Lock()
	procs := started[t.Name()]
	startedMu.Unlock()
	out := make([]processLines, 0, len(procs))
	for i, p := range procs {
		pl := processLines{n: i + 1, name: p.name}
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			if keep(line) {
				pl.lines = append(pl.lines, line)
			}
		}
		out = append(out, pl)
	}
	return out
}

// logMended logs the lines in which a covacdc the test ran mended its state
// from the events topic: a broker lost a transaction's markers, and without
// the mending the scan after it would have published its events again.
func logMended(t *testing.T) {
	t.Helper()
	mended := func(line string) bool { return strings.Contains(line, "state mended") }
	for _, pl := range startedLines(t, mended) {
		for _, line := range pl.lines {
			t.Logf("covacdc #%d (%s) mended its state: %s", pl.n, pl.name, line)
		}
	}
}

// logTransactions logs, after a violation, the lines of every covacdc the test
// ran that say how its transactions ended, so that a failure seen once in CI
// can be read from its output.
func logTransactions(t *testing.T) {
	t.Helper()
	tellsFate := func(line string) bool {
		for _, w := range transactionWords {
			if strings.Contains(line, w) {
				return true
			}
		}
		return false
	}
	for _, pl := range startedLines(t, tellsFate) {
		kept := pl.lines
		if len(kept) > 80 {
			kept = append(kept[:40], append([]string{fmt.Sprintf("... %d lines ...", len(kept)-80)}, kept[len(kept)-40:]...)...)
		}
		t.Logf("covacdc #%d (%s), its transactions:\n%s", pl.n, pl.name, strings.Join(kept, "\n"))
	}
}
