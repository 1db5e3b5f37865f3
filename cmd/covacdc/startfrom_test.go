package main

import (
	"testing"
	"time"
)

func TestStartFromInTheFutureExits2(t *testing.T) {
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	code, line := runLine(t, nil, append([]string{"run"}, validArgs("--start-from", future)...)...)
	want := `covacdc: --start-from: ` + future + ` is in the future; a cursor ahead of Cova's clock would skip every change until then (use "now" to start at the present)`
	if code != 2 || line != want {
		t.Errorf("exit %d, stderr %q\nwant exit 2, %q", code, line, want)
	}

	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	cfg, err := parseRun(t, validArgs("--start-from", past.Format(time.RFC3339)), nil)
	if err != nil || !cfg.Publisher.StartFrom.Equal(past) {
		t.Errorf("a past --start-from: cursor %s, err %v; want %s", cfg.Publisher.StartFrom, err, past)
	}
}
