package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/covacdc/covacdc/poller/covatest"
)

// TestRegistryRefusalSaysSoOnce starts covacdc against a Schema Registry
// that answers 500: the last line names the registry and the subject once,
// with no package name in between.
func TestRegistryRefusalSaysSoOnce(t *testing.T) {
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error_code":50001,"message":"store unavailable"}`))
	}))
	defer reg.Close()
	e := newTestEnv(t, covatest.Config{})
	p := start(t, passwordEnv(), append(e.runArgs("1", "--once"), "--schema-registry-url", reg.URL)...)
	if code := p.wait(t, 60*time.Second); code != 1 {
		t.Fatalf("exit %d, want 1\nstderr:\n%s", code, p.stderr)
	}
	got := lastLine(p.stderr.String())
	want := `covacdc: schema registry ` + reg.URL + `: registering the writer schema under subject "` + e.topic + `-value": `
	if !strings.HasPrefix(got, want) || strings.Contains(got, "schema: ") {
		t.Errorf("last line\n got %s\nwant %s...", got, want)
	}
}
