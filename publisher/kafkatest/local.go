package kafkatest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Environment variables shared with deploy/kafka-local (see its env.sh).
const (
	// RunDirEnv names the run directory of the local broker; by default the scripts use
	// ${TMPDIR:-/tmp}/covacdc-kafka-<port>.
	RunDirEnv = "COVACDC_KAFKA_RUN_DIR"
	// ScriptsEnv overrides where deploy/kafka-local is found (default: from this
	// package's source location).
	ScriptsEnv = "COVACDC_KAFKA_LOCAL"
	// FaultSuiteEnv set to "1" runs the fault suite (see FaultSuite).
	FaultSuiteEnv = "COVACDC_FAULT_SUITE"
)

// scriptsDir returns deploy/kafka-local of this checkout.
func scriptsDir() (string, error) {
	if d := os.Getenv(ScriptsEnv); d != "" {
		return d, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("cannot locate deploy/kafka-local: set %s", ScriptsEnv)
	}
	d := filepath.Join(filepath.Dir(file), "..", "..", "deploy", "kafka-local")
	if _, err := os.Stat(filepath.Join(d, "start.sh")); err != nil {
		return "", fmt.Errorf("cannot locate deploy/kafka-local (set %s): %w", ScriptsEnv, err)
	}
	return filepath.Clean(d), nil
}

// localRunDir returns the run directory of the deploy/kafka-local broker serving this
// cluster, or an error saying why the cluster is not one. The run directory's bootstrap
// file, written by start.sh once the broker is ready, must name one of the cluster's brokers.
func (c *Cluster) localRunDir() (dir, port string, err error) {
	if c.Kind != External || len(c.Brokers) == 0 {
		return "", "", fmt.Errorf("cluster is %s, not the broker of deploy/kafka-local", c.Kind)
	}
	_, port, err = net.SplitHostPort(c.Brokers[0])
	if err != nil {
		return "", "", fmt.Errorf("broker %q: %w", c.Brokers[0], err)
	}
	dir = os.Getenv(RunDirEnv)
	if dir == "" {
		tmp := os.Getenv("TMPDIR")
		if tmp == "" {
			tmp = "/tmp"
		}
		dir = filepath.Join(tmp, "covacdc-kafka-"+port)
	}
	b, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
	if err != nil {
		return "", "", fmt.Errorf("no deploy/kafka-local broker running in %s (set %s): %w", dir, RunDirEnv, err)
	}
	got := strings.TrimSpace(string(b))
	for _, br := range c.Brokers {
		if br == got {
			return dir, port, nil
		}
	}
	return "", "", fmt.Errorf("%s serves %s, not %s", dir, got, strings.Join(c.Brokers, ","))
}

// Restartable reports whether Restart can restart this cluster's broker, and why not.
// Only the broker of deploy/kafka-local (an External cluster whose run directory is
// found) can be restarted; kfake and the shared container cannot.
func (c *Cluster) Restartable() (bool, string) {
	if _, _, err := c.localRunDir(); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// RestartOptions say how Restart takes the broker down.
type RestartOptions struct {
	Down time.Duration // how long no broker runs. Default 0.
	Kill bool          // SIGKILL instead of a clean shutdown. Default false.
}

// Restart restarts the local broker keeping its data, with deploy/kafka-local/restart.sh,
// and returns once the broker answers again (or fails the test). It blocks for the
// shutdown, the Down pause and the startup: typically 10 to 20 seconds. Clients keep their
// connections' state; franz-go reconnects by itself. Not safe to call concurrently.
func (c *Cluster) Restart(t testing.TB, o RestartOptions) {
	t.Helper()
	dir, port, err := c.localRunDir()
	if err != nil {
		t.Fatalf("kafka: cannot restart: %v", err)
	}
	scripts, err := scriptsDir()
	if err != nil {
		t.Fatalf("kafka: cannot restart: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(scripts, "restart.sh"))
	kill := "0"
	if o.Kill {
		kill = "1"
	}
	cmd.Env = append(os.Environ(),
		RunDirEnv+"="+dir,
		"COVACDC_KAFKA_PORT="+port,
		"COVACDC_KAFKA_DOWN_FOR="+strconv.FormatFloat(o.Down.Seconds(), 'f', 3, 64),
		"COVACDC_KAFKA_KILL="+kill,
	)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kafka: restart.sh: %v\n%s", err, out)
	}
	t.Logf("kafka: broker %s restarted in %v (down %v, kill %v)", strings.Join(c.Brokers, ","),
		time.Since(start).Round(100*time.Millisecond), o.Down, o.Kill)
}

// FaultSuite gates the fault suite: it skips the test, saying so, unless
// COVACDC_FAULT_SUITE=1, and then returns a real broker, failing the test when there is
// none (the suite proves guarantees against Apache Kafka; kfake proves nothing there).
func FaultSuite(t testing.TB) *Cluster {
	t.Helper()
	if os.Getenv(FaultSuiteEnv) != "1" {
		t.Skipf("fault suite: set %s=1 and %s (deploy/kafka-local/start.sh starts a broker)", FaultSuiteEnv, BrokersEnv)
	}
	c := New(t)
	if !c.Real() {
		t.Fatalf("fault suite: %s=1 needs a real broker: set %s", FaultSuiteEnv, BrokersEnv)
	}
	return c
}
