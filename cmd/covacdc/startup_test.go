package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// startupLog runs covacdc run with args until the Kafka client would start
// (its context is already cancelled, so nothing connects) and returns its log.
func startupLog(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	all := append([]string{"run"}, validArgs(append([]string{"--metrics-addr", "", "--log-format", "text"}, args...)...)...)
	if err := run(ctx, all, &stdout, &stderr); err != nil {
		t.Fatalf("covacdc %s: %v\nstderr:\n%s", strings.Join(all, " "), err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "starting covacdc") {
		t.Fatalf("no start-up line in the log:\n%s", stderr.String())
	}
	return stderr.String()
}

func TestStartupLineRedactsCovaURLPasswords(t *testing.T) {
	log := startupLog(t,
		"--cova-base-url", "https://crm-user:b4se-s3cret@cova.example/crm",
		"--cova-token-url", "https://tok-user:t0ken-s3cret@accounts.example/v1/oauth2/token")
	for _, secret := range []string{"b4se-s3cret", "t0ken-s3cret"} {
		if strings.Contains(log, secret) {
			t.Errorf("the password %q of a Cova URL reached the log:\n%s", secret, log)
		}
	}
	for _, want := range []string{"cova_base_url=https://crm-user:xxxxx@cova.example/crm", "cova_token_url=https://tok-user:xxxxx@accounts.example/v1/oauth2/token"} {
		if !strings.Contains(log, want) {
			t.Errorf("start-up line lacks %s:\n%s", want, log)
		}
	}
}

// TestStartupWarnsOfInsecureSettings: each setting that sends a secret in
// clear or trusts any broker gets one WARN line at start-up, and a secure
// configuration none.
func TestStartupWarnsOfInsecureSettings(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want []string // the WARN lines' messages, in order
	}{
		{"secure defaults", nil, nil},
		{"plain http token url", []string{"--cova-token-url", "http://accounts.example/v1/oauth2/token"},
			[]string{`--cova-token-url is plain http`}},
		{"plain http base url", []string{"--cova-base-url", "http://cova.example/crm"},
			[]string{`--cova-base-url is plain http`}},
		{"sasl plain without tls", []string{"--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-username", "u", "--kafka-sasl-password", "p"},
			[]string{`--kafka-sasl-mechanism PLAIN without TLS`}},
		{"sasl plain with tls", []string{"--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-username", "u", "--kafka-sasl-password", "p", "--kafka-tls"}, nil},
		{"scram without tls", []string{"--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-username", "u", "--kafka-sasl-password", "p"}, nil},
		{"insecure skip verify", []string{"--kafka-tls-insecure-skip-verify"},
			[]string{`--kafka-tls-insecure-skip-verify`}},
		{"all at once", []string{"--cova-token-url", "http://a.example/t", "--cova-base-url", "http://a.example/crm",
			"--kafka-sasl-mechanism", "plain", "--kafka-sasl-username", "u", "--kafka-sasl-password", "p"},
			[]string{`--cova-token-url is plain http`, `--cova-base-url is plain http`, `--kafka-sasl-mechanism PLAIN without TLS`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log := startupLog(t, tc.args...)
			var warns []string
			for _, line := range strings.Split(log, "\n") {
				if strings.Contains(line, "level=WARN") {
					warns = append(warns, line)
				}
			}
			if len(warns) != len(tc.want) {
				t.Fatalf("%d WARN lines, want %d (%q):\n%s", len(warns), len(tc.want), tc.want, log)
			}
			for i, w := range tc.want {
				if !strings.Contains(warns[i], w) {
					t.Errorf("WARN line %d %q does not say %q", i, warns[i], w)
				}
			}
		})
	}
}
