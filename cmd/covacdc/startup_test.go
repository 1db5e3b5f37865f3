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
