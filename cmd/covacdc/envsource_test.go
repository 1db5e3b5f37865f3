package main

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"
)

// runLine runs covacdc with args (and env set with t.Setenv) and returns the
// exit code and the last line it printed on stderr.
func runLine(t *testing.T, env map[string]string, args ...string) (int, string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	// Nothing here needs a broker: a command that got past its configuration
	// (a defect) gives up within 5 s.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, &stdout, &stderr)
	return exitCode(err), lastLine(stderr.String())
}

// TestErrorsNameTheEnvironmentVariable: a bad value that came from COVACDC_*
// is reported with its variable, whether parsing or a later check finds it,
// and a flag on the command line is reported as the flag alone.
func TestErrorsNameTheEnvironmentVariable(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"parse error", map[string]string{"COVACDC_PAGE_SIZE": "abc"}, append([]string{"run"}, validArgs()...),
			`covacdc: --page-size (from COVACDC_PAGE_SIZE): not a whole number: "abc"`},
		{"validation error", map[string]string{"COVACDC_PAGE_SIZE": "500"}, append([]string{"run"}, validArgs()...),
			`covacdc: --page-size (from COVACDC_PAGE_SIZE): must be between 2 and 100, got 500`},
		{"flag wins and is named alone", map[string]string{"COVACDC_PAGE_SIZE": "50"}, append([]string{"run"}, validArgs("--page-size", "500")...),
			`covacdc: --page-size: must be between 2 and 100, got 500`},
		{"state, from a variable", map[string]string{"COVACDC_KAFKA_BROKERS": "kafka"}, []string{"state"},
			`covacdc: --kafka-brokers (from COVACDC_KAFKA_BROKERS): "kafka" is not host:port`},
		{"error found at start-up", map[string]string{"COVACDC_METRICS_ADDR": busy.Addr().String()}, append([]string{"run"}, validArgs()...),
			`covacdc: --metrics-addr (from COVACDC_METRICS_ADDR): listen tcp ` + busy.Addr().String() + `: bind: address already in use`},
		{"demo", map[string]string{"COVACDC_COMPANIES": "0"}, []string{"demo"},
			`covacdc: --companies (from COVACDC_COMPANIES): must be between 1 and 100, got 0`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, line := runLine(t, tc.env, tc.args...)
			if code != 2 || line != tc.want {
				t.Errorf("exit %d, stderr %q\nwant exit 2, %q", code, line, tc.want)
			}
		})
	}
}
