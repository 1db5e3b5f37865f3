package main

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/internal/testenv"

	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// newSchemaRegistry is an in-process Schema Registry for one test.
func newSchemaRegistry(t *testing.T) string {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	return reg.URL()
}

// once runs covacdc run --once with extra flags and returns its exit code and stderr.
func (e *testEnv) once(t *testing.T, extra ...string) (int, string) {
	t.Helper()
	p := start(t, passwordEnv(), append(e.runArgs("1", "--once"), extra...)...)
	code := p.wait(t, 60*time.Second)
	return code, p.stderr.String()
}

// tail runs covacdc tail on the events topic with extra flags and returns its
// exit code, stdout and stderr.
func (e *testEnv) tail(t *testing.T, extra ...string) (int, string, string) {
	t.Helper()
	p := start(t, nil, append([]string{"tail", "--kafka-brokers", strings.Join(e.kafka.Brokers, ","), "--topic", e.topic}, extra...)...)
	code := p.wait(t, 60*time.Second)
	return code, p.stdout.String(), p.stderr.String()
}

// Starting with --schema-registry-url on a topic of single-object events, or
// without it on a topic of registry-framed events, exits 2 with one line that
// names the topic, the encoding found and the ways out; --allow-mixed-encodings
// starts anyway.
func TestMixedEncodingsExit2(t *testing.T) {
	for _, tc := range []struct {
		name          string
		first, second []string
		found, wayOut string
	}{
		{"registry on single-object", nil, []string{"--schema-registry-url", ""},
			"single-object encoding", "new --topic"},
		{"single-object on registry", []string{"--schema-registry-url", ""}, nil,
			"Confluent Schema Registry wire format", "set --schema-registry-url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, covatest.Config{Seed: 21})
			e.sim.Generate(1, 30)
			url := newSchemaRegistry(t)
			withURL := func(args []string) []string {
				if len(args) == 0 {
					return nil
				}
				return []string{args[0], url}
			}
			if code, stderr := e.once(t, withURL(tc.first)...); code != 0 {
				t.Fatalf("first run exited %d\n%s", code, stderr)
			}
			e.sim.Modify(1, 5)
			code, stderr := e.once(t, withURL(tc.second)...)
			if code != 2 {
				t.Fatalf("second run with the other encoding exited %d, want 2\n%s", code, stderr)
			}
			line := lastLine(stderr)
			t.Logf("refused: %s", line)
			for _, want := range []string{`"` + e.topic + `"`, tc.found, tc.wayOut, "--allow-mixed-encodings"} {
				if !strings.Contains(line, want) {
					t.Errorf("last line %q does not mention %q", line, want)
				}
			}
			if strings.Contains(stderr, "scan committed") {
				t.Errorf("a scan ran although the start was refused:\n%s", stderr)
			}
			if code, stderr := e.once(t, append(withURL(tc.second), "--allow-mixed-encodings")...); code != 0 {
				t.Fatalf("--allow-mixed-encodings: exited %d\n%s", code, stderr)
			}
		})
	}
}

// covacdc tail on a topic in the other encoding stops at the first such event
// with one line naming the flag to add or remove; --allow-mixed-encodings
// reads a topic holding both.
func TestTailStopsOnTheOtherEncoding(t *testing.T) {
	e := newTestEnv(t, covatest.Config{Seed: 22})
	e.sim.Generate(1, 30)
	url := newSchemaRegistry(t)
	if code, stderr := e.once(t, "--schema-registry-url", url); code != 0 {
		t.Fatalf("run with a registry exited %d\n%s", code, stderr)
	}

	code, stdout, stderr := e.tail(t)
	if code != 2 {
		t.Fatalf("tail without --schema-registry-url on registry-framed events exited %d, want 2\n%s", code, stderr)
	}
	t.Logf("tail without a registry: %s", stderr)
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 ||
		!strings.Contains(lines[0], "add --schema-registry-url") || !strings.Contains(lines[0], e.topic) {
		t.Errorf("stderr %q: want one line naming the topic and --schema-registry-url to add", stderr)
	}
	if stdout != "" {
		t.Errorf("tail printed events it could not have decoded:\n%s", stdout)
	}
	if code, stdout, stderr := e.tail(t, "--schema-registry-url", url); code != 0 || strings.Count(stdout, "\n") != 30 {
		t.Fatalf("tail with the registry: exit %d, %d events, want 0 and 30\n%s", code, strings.Count(stdout, "\n"), stderr)
	}

	// Now single-object events too, on a topic whose consumers read both.
	e.sim.Modify(1, 5)
	if code, stderr := e.once(t, "--allow-mixed-encodings"); code != 0 {
		t.Fatalf("run without a registry, --allow-mixed-encodings: exited %d\n%s", code, stderr)
	}
	code, _, stderr = e.tail(t, "--schema-registry-url", url)
	if code != 2 {
		t.Fatalf("tail with --schema-registry-url on single-object events exited %d, want 2\n%s", code, stderr)
	}
	t.Logf("tail with a registry: %s", stderr)
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 ||
		!strings.Contains(lines[0], "remove --schema-registry-url") || !strings.Contains(lines[0], "--allow-mixed-encodings") {
		t.Errorf("stderr %q: want one line naming --schema-registry-url to remove and --allow-mixed-encodings", stderr)
	}
	if code, stdout, stderr := e.tail(t, "--schema-registry-url", url, "--allow-mixed-encodings"); code != 0 || strings.Count(stdout, "\n") != 35 {
		t.Fatalf("tail --allow-mixed-encodings: exit %d, %d events, want 0 and 35\n%s", code, strings.Count(stdout, "\n"), stderr)
	}
}

// covacdc tail whose stdout cannot be written (here /dev/full: no space left)
// exits 1 and says why, instead of reporting success with nothing printed.
func TestTailReportsWriteErrors(t *testing.T) {
	e := newTestEnv(t, covatest.Config{Seed: 22})
	e.sim.Generate(1, 30)
	if code, stderr := e.once(t); code != 0 {
		t.Fatalf("run --once exited %d\n%s", code, stderr)
	}
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("this system has no /dev/full: %v", err)
	}
	defer full.Close()
	cmd := exec.Command(testenv.Covacdc(t), "tail", "--kafka-brokers", strings.Join(e.kafka.Brokers, ","), "--topic", e.topic)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = full, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("tail into a full device: %v, want exit 1\n%s", err, stderr.String())
	}
	for _, want := range []string{"stdout", "no space left on device"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("tail's error %q does not mention %q", stderr.String(), want)
		}
	}
}
