package schema

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// A consumer imports this package to decode events: it must not drag in the
// Cova client (poller), the rest of covacdc or Prometheus.
func TestConsumerDependencies(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list this package's dependencies: %v", err)
	}
	const self = "github.com/covacdc/covacdc/schema"
	out, err := exec.Command(goCmd, "list", "-deps", self).Output()
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		t.Fatalf("go list -deps %s: %v\n%s", self, err, ee.Stderr)
	} else if err != nil {
		t.Fatalf("go list -deps %s: %v", self, err)
	}
	var bad []string
	for dep := range strings.FieldsSeq(string(out)) {
		switch {
		case dep == self:
		case strings.HasPrefix(dep, "github.com/covacdc/covacdc/"),
			strings.HasPrefix(dep, "github.com/prometheus/"):
			bad = append(bad, dep)
		}
	}
	if len(bad) > 0 {
		t.Errorf("a consumer importing %s also gets %d packages it must not:\n\t%s", self, len(bad), strings.Join(bad, "\n\t"))
	}
}
