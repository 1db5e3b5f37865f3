package kafkatest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CheckerPython is the interpreter that runs check_events.py: Debian's, where
// python3-confluent-kafka is installed, not whichever python3 comes first on PATH.
const CheckerPython = "/usr/bin/python3"

// CheckReport is what the independent consumer (deploy/kafka-local/check_events.py) found
// on an events topic read with read_committed.
type CheckReport struct {
	Customers         int    `json:"customers"`          // distinct keys on the topic
	ExpectedCustomers int    `json:"expected_customers"` // entries of the truth
	Events            int    `json:"events"`             // committed records read
	Duplicates        int    `json:"duplicates"`         // (customer, version) seen again
	Regressions       int    `json:"regressions"`        // a version below an earlier one of its key
	Missing           int    `json:"missing"`            // customers whose final version is absent
	Unexpected        int    `json:"unexpected"`         // keys not in the truth, versions above the final
	Malformed         int    `json:"malformed"`          // no key or no decimal covacdc-version header
	Partitions        int    `json:"partitions"`
	OK                bool   `json:"ok"`
	Output            string `json:"-"` // the checker's human-readable lines
}

// CheckerAvailable reports whether check_events.py can run here, and why not.
func CheckerAvailable() (bool, string) {
	if _, err := os.Stat(CheckerPython); err != nil {
		return false, CheckerPython + " not found"
	}
	out, err := exec.Command(CheckerPython, "-c", "import confluent_kafka").CombinedOutput()
	if err != nil {
		return false, fmt.Sprintf("%s cannot import confluent_kafka (apt-get install python3-confluent-kafka): %s",
			CheckerPython, strings.TrimSpace(string(out)))
	}
	return true, ""
}

// CheckEvents runs the independent consumer over topic on this cluster and compares it
// with truth (customer id → final Version). It returns the report whether or not it found
// violations (Report.OK says), and an error only when the topic could not be read. It
// blocks until the checker has read every partition to its last stable offset, at most
// timeout. The checker's output is logged.
func (c *Cluster) CheckEvents(t testing.TB, topic string, truth map[string]int64, timeout time.Duration) (CheckReport, error) {
	t.Helper()
	scripts, err := scriptsDir()
	if err != nil {
		return CheckReport{}, err
	}
	f, err := os.CreateTemp(t.TempDir(), "truth-*.json")
	if err != nil {
		return CheckReport{}, err
	}
	if err := json.NewEncoder(f).Encode(truth); err != nil {
		f.Close()
		return CheckReport{}, err
	}
	if err := f.Close(); err != nil {
		return CheckReport{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, CheckerPython, filepath.Join(scripts, "check_events.py"),
		"--brokers", strings.Join(c.Brokers, ","), "--topic", topic, "--truth", f.Name(),
		"--timeout", fmt.Sprint(timeout.Seconds()), "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return CheckReport{}, fmt.Errorf("check_events.py: %w: %s%s", err, stdout.String(), stderr.String())
	}
	text := strings.TrimSpace(stdout.String())
	last := text[strings.LastIndexByte(text, '\n')+1:]
	var r CheckReport
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		return CheckReport{}, fmt.Errorf("check_events.py summary %q: %w", last, err)
	}
	r.Output = strings.TrimSpace(strings.TrimSuffix(text, last))
	t.Logf("independent consumer on %s:\n%s", topic, r.Output)
	return r, nil
}
