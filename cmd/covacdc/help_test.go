package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestSchemaHelpHasNoEmptyFlagsHeader(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"schema", "--help"}, &stdout, &stderr)
	if exitCode(err) != 0 {
		t.Fatalf("exit %d", exitCode(err))
	}
	help := stdout.String()
	if strings.Contains(help, "Flags") {
		t.Errorf("schema --help shows a Flags header with no flag under it:\n%s", help)
	}
	if !strings.HasPrefix(help, "Usage: covacdc schema\n") {
		t.Errorf("schema --help:\n%s", help)
	}
}

func TestSimulatorBannerCountsCompanies(t *testing.T) {
	for _, tc := range []struct{ companies, want string }{
		{"1", "Cova simulator: 1 company (id 1) with 3 customers, 0 changes/s"},
		{"2", "Cova simulator: 2 companies (ids 1-2) with 3 customers each, 0 changes/s"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // print the banner, then stop
		var stdout, stderr bytes.Buffer
		if err := run(ctx, []string{"simulate", "--addr", "127.0.0.1:0", "--companies", tc.companies, "--customers", "3", "--trickle", "0", "--log-level", "error"}, &stdout, &stderr); err != nil {
			t.Fatalf("simulate: %v\n%s", err, stderr.String())
		}
		if got, _, _ := strings.Cut(stdout.String(), "\n"); got != tc.want {
			t.Errorf("banner %q, want %q", got, tc.want)
		}
	}
}
