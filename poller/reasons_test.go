package poller

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

// TestDecodeReasonsListsEveryReason reads the decoder's source: every reason
// it can fail with is in DecodeReasons, so the dead-letter series made at
// zero from that list cover every reason a dead letter can carry.
func TestDecodeReasonsListsEveryReason(t *testing.T) {
	src, err := os.ReadFile("decode.go")
	if err != nil {
		t.Fatal(err)
	}
	found := regexp.MustCompile(`(?:fail\(|reason := )"([a-z_]+)"`).FindAllSubmatch(src, -1)
	if len(found) < 5 {
		t.Fatalf("found %d reasons in decode.go: the pattern no longer matches its code", len(found))
	}
	for _, m := range found {
		if r := string(m[1]); !slices.Contains(DecodeReasons(), r) {
			t.Errorf("decode.go fails with reason %q, which DecodeReasons does not list", r)
		}
	}
}
