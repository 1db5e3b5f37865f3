package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// validArgs are the required flags of covacdc run, all valid.
func validArgs(extra ...string) []string {
	return append([]string{
		"--kafka-brokers", "127.0.0.1:9092", "--company-id", "1",
		"--cova-client-id", "id", "--cova-client-secret", "s3cret-client",
		"--cova-username", "user", "--cova-password", "s3cret-password",
	}, extra...)
}

// without removes a flag and its value from args.
func without(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == name {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func parseRun(t *testing.T, args []string, env map[string]string) (runConfig, error) {
	t.Helper()
	var f runFlags
	c := runCommand(&f)
	if err := c.parse(args, func(k string) string { return env[k] }); err != nil {
		return runConfig{}, err
	}
	return f.validate()
}

func TestFlagsWinOverEnvironment(t *testing.T) {
	env := map[string]string{
		"COVACDC_PAGE_SIZE":     "50",
		"COVACDC_POLL_INTERVAL": "10s",
		"COVACDC_TOPIC":         "from-env",
		"COVACDC_ONCE":          "true",
	}
	cfg, err := parseRun(t, validArgs("--page-size", "20", "--topic=from-flag"), env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Poller.PageSize != 20 {
		t.Errorf("page size: flag 20 and env 50 gave %d, want the flag's 20", cfg.Poller.PageSize)
	}
	if cfg.Publisher.Topic != "from-flag" {
		t.Errorf("topic %q, want from-flag", cfg.Publisher.Topic)
	}
	if cfg.PollInterval != 10*time.Second {
		t.Errorf("poll interval from env: got %s, want 10s", cfg.PollInterval)
	}
	if !cfg.Once {
		t.Error("COVACDC_ONCE=true did not set --once")
	}
}

func TestEnvironmentAloneConfigures(t *testing.T) {
	env := map[string]string{
		"COVACDC_KAFKA_BROKERS":      "a:1,b:2",
		"COVACDC_COMPANY_ID":         "3,4",
		"COVACDC_COVA_CLIENT_ID":     "id",
		"COVACDC_COVA_CLIENT_SECRET": "s",
		"COVACDC_COVA_USERNAME":      "u",
		"COVACDC_COVA_PASSWORD":      "p",
	}
	cfg, err := parseRun(t, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.CompanyIDs; len(got) != 2 || got[0] != 3 || got[1] != 4 {
		t.Errorf("companies %v, want [3 4]", got)
	}
	if cfg.Poller.PageSize != 100 || cfg.PollInterval != 30*time.Second || cfg.Publisher.Topic != "covacdc.customers" ||
		cfg.Publisher.State.Topic != "covacdc.state" || cfg.Publisher.DLQTopic != "covacdc.dlq" || cfg.Publisher.TransactionalID != "covacdc" {
		t.Errorf("defaults not applied: %+v", cfg)
	}
}

func TestCompanyIDRepeatableAndCommaSeparated(t *testing.T) {
	args := validArgs("--company-id", "2,3", "--company-id", "4")
	cfg, err := parseRun(t, args, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{1, 2, 3, 4}
	if len(cfg.CompanyIDs) != len(want) {
		t.Fatalf("companies %v, want %v", cfg.CompanyIDs, want)
	}
	for i := range want {
		if cfg.CompanyIDs[i] != want[i] {
			t.Fatalf("companies %v, want %v", cfg.CompanyIDs, want)
		}
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	cs := filepath.Join(dir, "secret")
	for name, content := range map[string]string{pw: "from-file\n", cs: "client-from-file"} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"--kafka-brokers", "k:1", "--company-id", "1", "--cova-client-id", "id", "--cova-username", "u",
		"--cova-password-file", pw, "--cova-client-secret-file", cs}
	cfg, err := parseRun(t, args, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Poller.Password != "from-file" || cfg.Poller.ClientSecret != "client-from-file" {
		t.Errorf("secrets from files: password %q, client secret %q", cfg.Poller.Password, cfg.Poller.ClientSecret)
	}
}

// TestConfigMistakesExit2 covers the rule "a configuration mistake exits 2 with
// one line that names the flag and what is wrong", through run, as main calls it.
func TestConfigMistakesExit2(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope")
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string // the whole stderr line
	}{
		{"page size", validArgs("--page-size", "500"), nil, "covacdc: --page-size: must be between 2 and 100, got 500"},
		{"page size from env", validArgs(), map[string]string{"COVACDC_PAGE_SIZE": "abc"}, `covacdc: --page-size (from COVACDC_PAGE_SIZE): not a whole number: "abc"`},
		{"no brokers", []string{"--company-id", "1"}, nil, "covacdc: --kafka-brokers: required (host:port of at least one broker)"},
		{"no company", without(validArgs(), "--company-id"), nil, "covacdc: --company-id: required (the Cova company ids to poll)"},
		{"bad company", validArgs("--company-id", "x"), nil, `covacdc: --company-id: must be a positive whole number, got "x"`},
		{"no password", without(validArgs(), "--cova-password"), nil, "covacdc: --cova-password: required (or --cova-password-file)"},
		{"password file missing", append(without(validArgs(), "--cova-password"), "--cova-password-file", missing), nil, "covacdc: --cova-password-file: open " + missing + ": no such file or directory"},
		{"both password forms", validArgs("--cova-password-file", missing), nil, "covacdc: --cova-password-file: set either --cova-password or --cova-password-file, not both"},
		{"poll interval", validArgs("--poll-interval", "soon"), nil, `covacdc: --poll-interval: not a duration such as 30s or 2m: "soon"`},
		{"start from", validArgs("--start-from", "yesterday"), nil, `covacdc: --start-from: must be "beginning", "now" or an RFC 3339 time such as 2024-01-31T00:00:00Z, got "yesterday"`},
		{"log format", validArgs("--log-format", "xml"), nil, `covacdc: --log-format: must be json or text, got "xml"`},
		{"compression", validArgs("--compression", "brotli"), nil, `covacdc: --compression: must be one of none, gzip, snappy, lz4, zstd, got "brotli"`},
		{"sasl mechanism", validArgs("--kafka-sasl-mechanism", "GSSAPI", "--kafka-sasl-username", "u", "--kafka-sasl-password", "p"), nil, `covacdc: --kafka-sasl-mechanism: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got "GSSAPI"`},
		{"sasl without user", validArgs("--kafka-sasl-mechanism", "SCRAM-SHA-512"), nil, "covacdc: --kafka-sasl-username: required with --kafka-sasl-mechanism SCRAM-SHA-512"},
		{"tls key without cert", validArgs("--kafka-tls-key-file", missing), nil, "covacdc: --kafka-tls-cert-file: required with --kafka-tls-key-file"},
		{"unknown flag", validArgs("--pagesize", "5"), nil, "covacdc: --pagesize: unknown flag (see covacdc run --help)"},
		{"base url", validArgs("--cova-base-url", "api.covasoft.net"), nil, `covacdc: --cova-base-url: must be an http or https URL, got "api.covasoft.net"`},
		{"requests per minute", validArgs("--requests-per-minute", "0"), nil, "covacdc: --requests-per-minute: must be at least 1, got 0"},
		{"replication factor", validArgs("--state-replication-factor", "0"), nil, "covacdc: --state-replication-factor: must be -1 (the broker's default) or at least 1, got 0"},
		{"metrics addr", validArgs("--metrics-addr", "9464"), nil, `covacdc: --metrics-addr: must be host:port or :port, got "9464"`},
		{"missing value", validArgs("--topic"), nil, "covacdc: --topic: missing value"},
		{"lookback zero", validArgs("--lookback", "0s"), nil, "covacdc: --lookback: must be positive, got 0s"},
		{"overlap too big", validArgs("--page-size", "5", "--page-overlap", "5"), nil, "covacdc: --page-overlap: must be between 1 and the page size - 1 (4), got 5"},
		{"fetch ahead", validArgs("--fetch-ahead", "-1"), nil, "covacdc: --fetch-ahead: must be between 0 (no cap) and 100, got -1"},
		{"request timeout", validArgs("--request-timeout", "0s"), nil, "covacdc: --request-timeout: must be positive, got 0s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"run"}, tc.args...), &stdout, &stderr)
			if code := exitCode(err); code != 2 {
				t.Fatalf("exit code %d, want 2 (err %v)", code, err)
			}
			if got := strings.TrimSuffix(stderr.String(), "\n"); got != tc.want {
				t.Errorf("stderr:\n got %q\nwant %q", got, tc.want)
			}
			if strings.Contains(stderr.String(), "s3cret") {
				t.Errorf("a secret reached stderr: %q", stderr.String())
			}
		})
	}
}

func TestHelpListsEveryFlagWithDefaultAndEnv(t *testing.T) {
	for _, sc := range subcommands() {
		t.Run(sc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{sc.name, "--help"}, &stdout, &stderr)
			if !errors.Is(err, flag.ErrHelp) || exitCode(err) != 0 {
				t.Fatalf("--help: err %v, exit %d; want help and exit 0", err, exitCode(err))
			}
			c := commandByName(sc.name)
			if len(c.order) == 0 && sc.name != "schema" {
				t.Fatal("no flags")
			}
			help := stdout.String()
			for _, name := range c.order {
				if !strings.Contains(help, "--"+name) || !strings.Contains(help, envName(name)) {
					t.Errorf("help of %s lacks --%s or %s", sc.name, name, envName(name))
				}
			}
			if sc.name == "run" && !strings.Contains(help, "default 100, env COVACDC_PAGE_SIZE") {
				t.Errorf("run help does not state the page size default:\n%s", help)
			}
		})
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &stdout, &stdout); exitCode(err) != 0 {
		t.Fatalf("covacdc --help exit %d", exitCode(err))
	}
	for _, sc := range subcommands() {
		if !strings.Contains(stdout.String(), sc.name) {
			t.Errorf("covacdc --help does not list %s", sc.name)
		}
	}
}

func TestUnknownSubcommandExit2(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"runn"}, &stdout, &stderr)
	if exitCode(err) != 2 || !strings.Contains(stderr.String(), `unknown subcommand "runn"`) {
		t.Fatalf("exit %d, stderr %q", exitCode(err), stderr.String())
	}
}
