package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/covacdc/covacdc/internal/pipeline"
	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/publisher"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// The defaults of covacdc's flags are the packages' own (poller.DefaultConfig,
// publisher.DefaultConfig): help, the README and the demo state them from there.
var (
	pollerDefaults    = poller.DefaultConfig()
	publisherDefaults = publisher.DefaultConfig()

	defaultTopic      = publisherDefaults.Topic
	defaultStateTopic = publisherDefaults.State.Topic
)

const (
	// defaultMetricsPort stays clear of Prometheus (9090), its Pushgateway (9091)
	// and Alertmanager (9093, 9094), and of 9100-9999, where Prometheus allocates
	// exporters' ports, so covacdc can share a host with any of them.
	defaultMetricsPort = "8477"
	// defaultMetricsAddr listens on every interface: a pod is scraped from outside.
	defaultMetricsAddr = ":" + defaultMetricsPort
)

// maxSecretFile is the most a secret file may hold. A password or client secret
// is short; the bound keeps a wrong path (/dev/zero, a log file) from
// exhausting memory.
const maxSecretFile = 64 << 10

// kafkaFlags are the flags that say how to reach Kafka; run, tail and state share them.
type kafkaFlags struct {
	Brokers               []string
	TLS                   bool
	TLSCAFile             string
	TLSCertFile           string
	TLSKeyFile            string
	TLSInsecureSkipVerify bool
	SASLMechanism         string
	SASLUsername          string
	SASLPassword          string
	SASLPasswordFile      string
}

func (k *kafkaFlags) register(c *command) {
	c.List(&k.Brokers, "kafka-brokers", "Kafka bootstrap brokers, host:port, repeatable or comma-separated. Required.")
	c.Bool(&k.TLS, "kafka-tls", false, "Connect to Kafka over TLS (implied by the other --kafka-tls-* flags).")
	c.String(&k.TLSCAFile, "kafka-tls-ca-file", "", "PEM file of the CA certificates that sign the brokers' certificates (default: the system pool).")
	c.String(&k.TLSCertFile, "kafka-tls-cert-file", "", "PEM client certificate for mutual TLS (with --kafka-tls-key-file).")
	c.String(&k.TLSKeyFile, "kafka-tls-key-file", "", "PEM private key of --kafka-tls-cert-file.")
	c.Bool(&k.TLSInsecureSkipVerify, "kafka-tls-insecure-skip-verify", false, "Do not verify the brokers' certificates (testing only).")
	c.String(&k.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL).")
	c.String(&k.SASLUsername, "kafka-sasl-username", "", "SASL username.")
	c.Secret(&k.SASLPassword, "kafka-sasl-password", "SASL password (prefer --kafka-sasl-password-file).")
	c.String(&k.SASLPasswordFile, "kafka-sasl-password-file", "", "File holding the SASL password (a mounted secret, at most 64 KiB); trailing newline ignored.")
}

// opts validates the flags and returns the client options that reach the cluster.
func (k *kafkaFlags) opts() ([]kgo.Opt, error) {
	if len(k.Brokers) == 0 {
		return nil, usagef("--kafka-brokers: required (host:port of at least one broker)")
	}
	for _, b := range k.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return nil, usagef("--kafka-brokers: %q is not host:port", b)
		}
	}
	opts := []kgo.Opt{kgo.SeedBrokers(k.Brokers...)}

	if k.tlsOn() {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: k.TLSInsecureSkipVerify} //nolint:gosec // an explicit operator choice
		if k.TLSCAFile != "" {
			pem, err := os.ReadFile(k.TLSCAFile)
			if err != nil {
				return nil, usagef("--kafka-tls-ca-file: %v", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, usagef("--kafka-tls-ca-file: no PEM certificate in %s", k.TLSCAFile)
			}
			cfg.RootCAs = pool
		}
		switch {
		case k.TLSCertFile != "" && k.TLSKeyFile == "":
			return nil, usagef("--kafka-tls-key-file: required with --kafka-tls-cert-file")
		case k.TLSCertFile == "" && k.TLSKeyFile != "":
			return nil, usagef("--kafka-tls-cert-file: required with --kafka-tls-key-file")
		case k.TLSCertFile != "":
			cert, err := tls.LoadX509KeyPair(k.TLSCertFile, k.TLSKeyFile)
			if err != nil {
				return nil, usagef("--kafka-tls-cert-file: %v", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}

	password, err := secretValue(k.SASLPassword, "kafka-sasl-password", k.SASLPasswordFile, "kafka-sasl-password-file")
	if err != nil {
		return nil, err
	}
	mech := strings.ToUpper(strings.TrimSpace(k.SASLMechanism))
	if mech == "" {
		if k.SASLUsername != "" || password != "" {
			return nil, usagef("--kafka-sasl-mechanism: required with a SASL username or password (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
		return opts, nil
	}
	if k.SASLUsername == "" {
		return nil, usagef("--kafka-sasl-username: required with --kafka-sasl-mechanism %s", mech)
	}
	if password == "" {
		return nil, usagef("--kafka-sasl-password: required with --kafka-sasl-mechanism %s (or --kafka-sasl-password-file)", mech)
	}
	switch mech {
	case "PLAIN":
		opts = append(opts, kgo.SASL(plain.Auth{User: k.SASLUsername, Pass: password}.AsMechanism()))
	case "SCRAM-SHA-256":
		opts = append(opts, kgo.SASL(scram.Auth{User: k.SASLUsername, Pass: password}.AsSha256Mechanism()))
	case "SCRAM-SHA-512":
		opts = append(opts, kgo.SASL(scram.Auth{User: k.SASLUsername, Pass: password}.AsSha512Mechanism()))
	default:
		return nil, usagef("--kafka-sasl-mechanism: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got %q", k.SASLMechanism)
	}
	return opts, nil
}

// tlsOn says whether covacdc reaches Kafka over TLS.
func (k *kafkaFlags) tlsOn() bool {
	return k.TLS || k.TLSCAFile != "" || k.TLSCertFile != "" || k.TLSKeyFile != "" || k.TLSInsecureSkipVerify
}

// warnings lists the Kafka settings that work but expose the SASL password or
// trust any broker, for one WARN line each at start-up.
func (k *kafkaFlags) warnings() []string {
	var w []string
	if strings.EqualFold(strings.TrimSpace(k.SASLMechanism), "PLAIN") && !k.tlsOn() {
		w = append(w, "--kafka-sasl-mechanism PLAIN without TLS: the SASL password crosses the network unencrypted (add --kafka-tls)")
	}
	if k.TLSInsecureSkipVerify {
		w = append(w, "--kafka-tls-insecure-skip-verify: the brokers' certificates are not verified, so anyone on the network path can pose as Kafka")
	}
	return w
}

// secretValue returns the value of a secret given either directly or as a file.
func secretValue(value, flagName, file, fileFlag string) (string, error) {
	if file == "" {
		return value, nil
	}
	if value != "" {
		return "", usagef("--%s: set either --%s or --%s, not both", fileFlag, flagName, fileFlag)
	}
	b, err := readSecretFile(file)
	if err != nil {
		return "", usagef("--%s: %v", fileFlag, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", usagef("--%s: %s is empty", fileFlag, file)
	}
	return s, nil
}

// readSecretFile reads at most one byte more than maxSecretFile, so that a
// larger file is refused without being read whole.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%s is larger than %d KiB; it must hold the secret alone", path, maxSecretFile>>10)
	}
	return b, nil
}

// runFlags are the raw flags of covacdc run.
type runFlags struct {
	Kafka             kafkaFlags
	CompanyIDs        []string
	BaseURL           string
	TokenURL          string
	ClientID          string
	ClientSecret      string
	ClientSecretFile  string
	Username          string
	Password          string
	PasswordFile      string
	Topic             string
	StateTopic        string
	DLQTopic          string
	TransactionalID   string
	PageSize          int
	Lookback          time.Duration
	PollInterval      time.Duration
	StartFrom         string
	Once              bool
	SchemaRegistryURL string
	MetricsAddr       string
	LogFormat         string
	LogLevel          string
	RequestsPerMinute int
	MaxInFlight       int
	FetchAhead        int
	PageOverlap       int
	RequestTimeout    time.Duration
	MaxRetries        int
	InitialBackoff    time.Duration
	MaxBackoff        time.Duration
	Partitions        int
	ReplicationFactor int
	StatePartitions   int
	StateRF           int
	StateMinISR       int
	MaxEventsPerTxn   int
	AllowNewState     bool
	AllowMixed        bool
	Compression       string
	SignalTopic       string
	MaxDeadLetters    int
}

func runCommand(f *runFlags) *command {
	c := newCommand("run", "Poll Cova for changed customers and publish them to Kafka, exactly once, until stopped.")
	f.register(c)
	c.Bool(&f.Once, "once", false, "Scan every company once, commit, and exit (0 if every scan succeeded, 1 otherwise).")
	return c
}

// register registers the flags of a running covacdc, but for --once: those
// of run, and of resync, which may do a resync itself.
func (f *runFlags) register(c *command) {
	f.Kafka.register(c)
	c.List(&f.CompanyIDs, "company-id", "Cova company id to poll, repeatable or comma-separated. Required.")
	c.String(&f.BaseURL, "cova-base-url", pollerDefaults.BaseURL, "Cova CRM API base URL.")
	c.String(&f.TokenURL, "cova-token-url", pollerDefaults.TokenURL, "Cova OAuth2 token URL.")
	c.String(&f.ClientID, "cova-client-id", "", "OAuth2 client id from the Cova onboarding package. Required.")
	c.Secret(&f.ClientSecret, "cova-client-secret", "OAuth2 client secret. Required (or --cova-client-secret-file).")
	c.String(&f.ClientSecretFile, "cova-client-secret-file", "", "File holding the OAuth2 client secret (a mounted secret, at most 64 KiB); trailing newline ignored.")
	c.String(&f.Username, "cova-username", "", "Cova API username. Required.")
	c.Secret(&f.Password, "cova-password", "Cova API password. Required (or --cova-password-file).")
	c.String(&f.PasswordFile, "cova-password-file", "", "File holding the Cova API password (a mounted secret, at most 64 KiB); trailing newline ignored.")
	c.String(&f.Topic, "topic", publisherDefaults.Topic, "Kafka topic of CustomerChanged events.")
	c.String(&f.StateTopic, "state-topic", publisherDefaults.State.Topic, "Compacted Kafka topic of cursors and published versions.")
	c.String(&f.DLQTopic, "dlq-topic", publisherDefaults.DLQTopic, "Kafka topic of records that cannot be published: undecodable, with an implausible Version, or too large for the events topic.")
	c.String(&f.TransactionalID, "transactional-id", publisherDefaults.TransactionalID, "Kafka transactional id; a second instance with the same id fences the first.")
	c.Int(&f.PageSize, "page-size", pollerDefaults.PageSize, "Customers per CustomerFull request ($top), 2 to 100.")
	c.Int(&f.PageOverlap, "page-overlap", pollerDefaults.PageOverlap, "Rows each page re-reads from the previous page's tail at the start of a scan, to prove no row was skipped while Cova's result shifted; a scan that sees a shift widens it for the rest of the scan. 1 to page size - 1.")
	c.Duration(&f.Lookback, "lookback", pollerDefaults.Lookback, "How far before a scan's start the next scan begins, to catch rows Cova makes visible late.")
	c.Duration(&f.PollInterval, "poll-interval", 30*time.Second, "Time between the starts of two scans of a company.")
	c.String(&f.StartFrom, "start-from", "", "Cursor of a company with no state: empty or \"beginning\" (a full initial load), \"now\", or an RFC 3339 time in the past (a later one is refused: it would skip the changes until then).")
	c.String(&f.SchemaRegistryURL, "schema-registry-url", "", "Confluent Schema Registry URL (user:password@ for basic auth); empty: Avro single-object encoding, no registry.")
	c.String(&f.MetricsAddr, "metrics-addr", defaultMetricsAddr, "Address of the HTTP server for /metrics, /healthz and /readyz; empty: no server. The default listens on every interface, as a pod scraped from outside needs (127.0.0.1:"+defaultMetricsPort+" keeps it to this host); port "+defaultMetricsPort+" is clear of Prometheus's 9090 and of the exporters' 9100-9999.")
	c.String(&f.LogFormat, "log-format", "json", "Log format: json or text.")
	c.String(&f.LogLevel, "log-level", "info", "Log level: debug, info, warn or error.")
	c.Int(&f.RequestsPerMinute, "requests-per-minute", pollerDefaults.RequestsPerMinute, "Budget of Cova requests per minute for the whole process, all companies together.")
	c.Int(&f.MaxInFlight, "max-in-flight", pollerDefaults.MaxInFlight, "Most Cova requests in flight at once for the whole process: a safety cap. How many are in flight follows the budget and Cova's latency (the budget's rate times the latency, with a margin), shared by the companies with pages to read.")
	c.Int(&f.FetchAhead, "fetch-ahead", pollerDefaults.FetchAhead, "Most pages of one scan requested at once while earlier pages are published; 0: no cap but the scan's share of the requests in flight (1: one page at a time).")
	c.Duration(&f.RequestTimeout, "request-timeout", pollerDefaults.RequestTimeout, "Time limit of one Cova request, body included.")
	c.Int(&f.MaxRetries, "max-retries", pollerDefaults.MaxRetries, "Retries of one page before its scan fails, shared by every fault (429, 5xx, timeouts, a body cut short, a token renewed); 0: no retry.")
	c.Duration(&f.InitialBackoff, "initial-backoff", pollerDefaults.InitialBackoff, "First pause before retrying a page; each retry doubles it up to --max-backoff, with full jitter. A 429 that says how long to wait waits that long instead.")
	c.Duration(&f.MaxBackoff, "max-backoff", pollerDefaults.MaxBackoff, "Longest pause between two retries of a page.")
	c.Int(&f.Partitions, "partitions", int(publisherDefaults.TopicPartitions), "Partitions of the events and dead-letter topics when covacdc creates them.")
	c.Int(&f.ReplicationFactor, "replication-factor", int(publisherDefaults.TopicReplicationFactor), "Replication factor of the events and dead-letter topics when created; -1: the broker's default.")
	c.Int(&f.StatePartitions, "state-partitions", int(publisherDefaults.State.Partitions), "Partitions of the state topic when created.")
	c.Int(&f.StateRF, "state-replication-factor", int(publisherDefaults.State.ReplicationFactor), "Replication factor of the state topic when created; -1: the broker's default.")
	c.Int(&f.StateMinISR, "state-min-insync-replicas", publisherDefaults.State.MinInsyncReplicas, "min.insync.replicas of the state topic when created; 0: the broker's default.")
	c.Int(&f.MaxEventsPerTxn, "max-events-per-transaction", publisherDefaults.MaxEventsPerTransaction, "Most events in one Kafka transaction; a scan spans several when larger.")
	c.Int(&f.MaxDeadLetters, "max-dead-letters-per-scan", publisherDefaults.MaxDeadLettersPerScan, "Most dead letters one scan may meet (records that cannot be published, already dead-lettered ones included); past it the scan fails and the company's cursor stays.")
	c.String(&f.Compression, "compression", publisherDefaults.Compression, "Compression of the record batches covacdc produces: "+strings.Join(publisher.CompressionNames(), ", ")+".")
	c.Bool(&f.AllowNewState, "allow-new-state-topic", false, "Create a missing state topic even though the events topic already has events, publishing every customer again (a deliberate resync, or a new instance sharing the events topic). Without it covacdc refuses to start.")
	c.Bool(&f.AllowMixed, "allow-mixed-encodings", false, "Publish even though the last events on --topic are in the other encoding (with or without --schema-registry-url); without it covacdc refuses to start. Set it once every consumer of the topic reads both.")
	c.String(&f.SignalTopic, "signal-topic", pipeline.DefaultSignalTopic, "Kafka topic where covacdc resync asks a running covacdc (records keyed by its --transactional-id) to publish a company again; created with one partition when missing. covacdc reads it as a member of the consumer group <transactional-id>.signals; without the rights to, it warns and runs without resyncs.")
}

// runConfig is covacdc run's validated configuration.
type runConfig struct {
	CompanyIDs   []int64
	Poller       poller.Config
	Publisher    publisher.Config // KafkaOpts without metrics hooks
	PollInterval time.Duration
	Once         bool
	RegistryURL  string
	MetricsAddr  string
	SignalTopic  string // where resync requests are read
	// requireSignals: covacdc resync does the work itself. A signal topic
	// that cannot be read fails the run instead of a warning, and requests
	// for the deployment's other companies are accepted for it to carry out
	// when it next runs, not passed over.
	requireSignals bool
	LogFormat      string
	LogLevel       string
	// Warnings are settings that work but send a secret in clear or trust any
	// peer; covacdc run logs each once at start-up.
	Warnings []string
}

// validate turns the flags into a runConfig, or returns the first mistake as a
// usageError naming its flag.
func (f *runFlags) validate() (runConfig, error) {
	var cfg runConfig
	kopts, err := f.Kafka.opts()
	if err != nil {
		return cfg, err
	}
	if len(f.CompanyIDs) == 0 {
		return cfg, usagef("--company-id: required (the Cova company ids to poll)")
	}
	seen := map[int64]bool{}
	for _, s := range f.CompanyIDs {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return cfg, usagef("--company-id: must be a positive whole number, got %q", s)
		}
		if seen[id] {
			return cfg, usagef("--company-id: %d is given twice", id)
		}
		seen[id] = true
		cfg.CompanyIDs = append(cfg.CompanyIDs, id)
	}
	for _, u := range []struct{ flag, value string }{{"cova-base-url", f.BaseURL}, {"cova-token-url", f.TokenURL}} {
		if err := checkURL(u.flag, u.value); err != nil {
			return cfg, err
		}
	}
	secret, err := secretValue(f.ClientSecret, "cova-client-secret", f.ClientSecretFile, "cova-client-secret-file")
	if err != nil {
		return cfg, err
	}
	password, err := secretValue(f.Password, "cova-password", f.PasswordFile, "cova-password-file")
	if err != nil {
		return cfg, err
	}
	switch {
	case f.ClientID == "":
		return cfg, usagef("--cova-client-id: required")
	case secret == "":
		return cfg, usagef("--cova-client-secret: required (or --cova-client-secret-file)")
	case f.Username == "":
		return cfg, usagef("--cova-username: required")
	case password == "":
		return cfg, usagef("--cova-password: required (or --cova-password-file)")
	}
	if f.PollInterval < 100*time.Millisecond {
		return cfg, usagef("--poll-interval: must be at least 100ms, got %s", f.PollInterval)
	}
	startFrom, err := parseStartFrom(f.StartFrom)
	if err != nil {
		return cfg, err
	}
	if err := checkTopics([]topicFlag{{"topic", f.Topic}, {"state-topic", f.StateTopic}, {"dlq-topic", f.DLQTopic}, {"signal-topic", f.SignalTopic}}); err != nil {
		return cfg, err
	}
	if f.SchemaRegistryURL != "" {
		if err := checkURL("schema-registry-url", f.SchemaRegistryURL); err != nil {
			return cfg, err
		}
	}
	if f.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(f.MetricsAddr); err != nil {
			return cfg, usagef("--metrics-addr: must be host:port or :port, got %q", f.MetricsAddr)
		}
	}
	if f.LogFormat != "json" && f.LogFormat != "text" {
		return cfg, usagef("--log-format: must be json or text, got %q", f.LogFormat)
	}
	if _, err := parseLevel(f.LogLevel); err != nil {
		return cfg, err
	}
	// The flags that narrow to int32 or int16 must fit before the packages judge them.
	for _, n := range []struct {
		flag string
		v    int
		max  int
	}{
		{"partitions", f.Partitions, math.MaxInt32},
		{"state-partitions", f.StatePartitions, math.MaxInt32},
		{"replication-factor", f.ReplicationFactor, math.MaxInt16},
		{"state-replication-factor", f.StateRF, math.MaxInt16},
	} {
		// Within the range, the packages say what is accepted.
		if n.v > n.max || n.v < -n.max {
			return cfg, usagef("--%s: %d is out of range: at most %d", n.flag, n.v, n.max)
		}
	}

	pc := poller.DefaultConfig()
	pc.BaseURL = strings.TrimRight(f.BaseURL, "/")
	pc.TokenURL = f.TokenURL
	pc.ClientID, pc.ClientSecret = f.ClientID, secret
	pc.Username, pc.Password = f.Username, password
	pc.PageSize = f.PageSize
	pc.PageOverlap = f.PageOverlap
	pc.Lookback = f.Lookback
	pc.RequestTimeout = f.RequestTimeout
	pc.RequestsPerMinute = f.RequestsPerMinute
	pc.MaxInFlight = f.MaxInFlight
	pc.FetchAhead = f.FetchAhead
	pc.MaxRetries = f.MaxRetries
	pc.InitialBackoff = f.InitialBackoff
	pc.MaxBackoff = f.MaxBackoff
	if err := pc.Validate(); err != nil {
		return cfg, flagError(pollerFlags, err)
	}
	cfg.Poller = pc

	bc := publisher.DefaultConfig()
	bc.KafkaOpts = kopts
	bc.Topic, bc.DLQTopic, bc.State.Topic = f.Topic, f.DLQTopic, f.StateTopic
	bc.TransactionalID = f.TransactionalID
	bc.MaxEventsPerTransaction = f.MaxEventsPerTxn
	bc.TopicPartitions = int32(f.Partitions)
	bc.TopicReplicationFactor = int16(f.ReplicationFactor)
	bc.State.Partitions = int32(f.StatePartitions)
	bc.State.ReplicationFactor = int16(f.StateRF)
	bc.State.MinInsyncReplicas = f.StateMinISR
	bc.StartFrom = startFrom
	bc.AllowNewStateTopic = f.AllowNewState
	bc.AllowMixedEncodings = f.AllowMixed
	bc.Compression = f.Compression
	bc.MaxDeadLettersPerScan = f.MaxDeadLetters
	if err := bc.Validate(); err != nil {
		return cfg, flagError(publisherFlags, err)
	}
	cfg.Publisher = bc
	cfg.PollInterval = f.PollInterval
	cfg.Once = f.Once
	cfg.RegistryURL = f.SchemaRegistryURL
	cfg.MetricsAddr = f.MetricsAddr
	cfg.SignalTopic = f.SignalTopic
	cfg.LogFormat = f.LogFormat
	cfg.LogLevel = f.LogLevel
	cfg.Warnings = append(f.urlWarnings(), f.Kafka.warnings()...)
	return cfg, nil
}

// urlWarnings lists the Cova URLs that send a secret in clear.
func (f *runFlags) urlWarnings() []string {
	var w []string
	if isPlainHTTP(f.TokenURL) {
		w = append(w, "--cova-token-url is plain http: the Cova password and client secret cross the network unencrypted")
	}
	if isPlainHTTP(f.BaseURL) {
		w = append(w, "--cova-base-url is plain http: the bearer token and every customer cross the network unencrypted")
	}
	return w
}

func isPlainHTTP(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && strings.EqualFold(u.Scheme, "http")
}

func checkURL(flagName, value string) error {
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--%s: must be an http or https URL, got %q", flagName, redactURL(value))
	}
	return nil
}

// redactURL hides a password embedded in a URL before it reaches an error or a log.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

// parseStartFrom reads --start-from; the zero time means the beginning.
func parseStartFrom(s string) (time.Time, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "beginning":
		return time.Time{}, nil
	case "now":
		return time.Now().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, usagef("--start-from: must be \"beginning\", \"now\" or an RFC 3339 time such as 2024-01-31T00:00:00Z, got %q", s)
	}
	// No allowance for clock skew: the next scan starts at the later of this
	// cursor and Cova's clock minus the lookback, so any cursor ahead of Cova
	// hides the changes made before it for good. "now" is the present.
	if t.After(time.Now()) {
		return time.Time{}, usagef("--start-from: %s is in the future; a cursor ahead of Cova's clock would skip every change until then (use \"now\" to start at the present)", strings.TrimSpace(s))
	}
	return t.UTC(), nil
}

// describe lists the non-secret settings for the startup log line.
func (c runConfig) describe() []any {
	return []any{
		"companies", c.CompanyIDs,
		"cova_base_url", redactURL(c.Poller.BaseURL),
		"cova_token_url", redactURL(c.Poller.TokenURL),
		"topic", c.Publisher.Topic,
		"state_topic", c.Publisher.State.Topic,
		"dlq_topic", c.Publisher.DLQTopic,
		"transactional_id", c.Publisher.TransactionalID,
		"poll_interval", c.PollInterval.String(),
		"page_size", c.Poller.PageSize,
		"requests_per_minute", c.Poller.RequestsPerMinute,
		"max_in_flight", c.Poller.MaxInFlight,
		"fetch_ahead", c.Poller.FetchAhead,
		"once", c.Once,
		"schema_registry", redactURL(c.RegistryURL),
	}
}
