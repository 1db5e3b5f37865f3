package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestSecretFilesAreCappedAt64KiB(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte("p"), n), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fits := write("fits", 64<<10)
	big := write("big", 64<<10+1)
	// Clipped, so that each append below makes a slice of its own.
	base := slices.Clip(without(validArgs(), "--cova-password"))

	cfg, err := parseRun(t, append(base, "--cova-password-file", fits), nil)
	if err != nil || len(cfg.Poller.Password) != 64<<10 {
		t.Fatalf("a 64 KiB password file: %d bytes read, err %v", len(cfg.Poller.Password), err)
	}

	cases := []struct {
		name string
		args []string
		want string
	}{
		{"cova password", append(base, "--cova-password-file", big), "covacdc: --cova-password-file: " + big + " is larger than 64 KiB; it must hold the secret alone"},
		{"client secret", append(without(validArgs(), "--cova-client-secret"), "--cova-client-secret-file", big), "covacdc: --cova-client-secret-file: " + big + " is larger than 64 KiB; it must hold the secret alone"},
		{"sasl password", validArgs("--kafka-sasl-mechanism", "PLAIN", "--kafka-sasl-username", "u", "--kafka-sasl-password-file", big), "covacdc: --kafka-sasl-password-file: " + big + " is larger than 64 KiB; it must hold the secret alone"},
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		cases = append(cases, struct {
			name string
			args []string
			want string
		}{"endless file", append(base, "--cova-password-file", "/dev/zero"), "covacdc: --cova-password-file: /dev/zero is larger than 64 KiB; it must hold the secret alone"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, line := runLine(t, nil, append([]string{"run"}, tc.args...)...)
			if code != 2 || line != tc.want {
				t.Errorf("exit %d, stderr %q\nwant exit 2, %q", code, line, tc.want)
			}
		})
	}
}
