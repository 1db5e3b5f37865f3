package poller

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// expiredCert is a self-signed certificate for 127.0.0.1 that expired yesterday.
func expiredCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "expired"},
		NotBefore:             time.Now().Add(-48 * time.Hour),
		NotAfter:              time.Now().Add(-24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestCertificateRefusedIsNotRetried: a certificate that does not verify
// (unknown authority, another host name, expired) fails the scan at once, on
// the token endpoint and on CustomerFull, with an error that says so.
func TestCertificateRefusedIsNotRetried(t *testing.T) {
	type setup struct {
		srv  *httptest.Server
		host string // how the client addresses the server
		opts []Option
	}
	kinds := map[string]struct {
		make   func(t *testing.T, h http.Handler, conns *atomic.Int32) setup
		reason string
	}{
		"unknown authority": {func(t *testing.T, h http.Handler, conns *atomic.Int32) setup {
			srv := httptest.NewUnstartedServer(h)
			srv.Config.ConnState = countNew(conns)
			srv.StartTLS()
			return setup{srv: srv, host: srv.Listener.Addr().String()}
		}, "x509: certificate signed by unknown authority"},
		"host name mismatch": {func(t *testing.T, h http.Handler, conns *atomic.Int32) setup {
			srv := httptest.NewUnstartedServer(h)
			srv.Config.ConnState = countNew(conns)
			srv.StartTLS()
			pool := x509.NewCertPool()
			pool.AddCert(srv.Certificate())
			_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			return setup{srv: srv, host: "localhost:" + port, opts: []Option{WithHTTPClient(hc)}}
		}, "x509: certificate is valid for example.com, "},
		"expired": {func(t *testing.T, h http.Handler, conns *atomic.Int32) setup {
			cert, pool := expiredCert(t)
			srv := httptest.NewUnstartedServer(h)
			srv.Config.ConnState = countNew(conns)
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
			srv.StartTLS()
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
			return setup{srv: srv, host: srv.Listener.Addr().String(), opts: []Option{WithHTTPClient(hc)}}
		}, "x509: certificate has expired or is not yet valid"},
	}
	for name, kind := range kinds {
		for _, endpoint := range []string{"token endpoint", "CustomerFull"} {
			t.Run(name+"/"+endpoint, func(t *testing.T) {
				f := newFakeCova(t, 5)
				var conns atomic.Int32
				s := kind.make(t, f, &conns)
				s.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes it refuses
				defer s.srv.Close()
				plain := httptest.NewServer(f)
				defer plain.Close()
				var logs bytes.Buffer
				opts := append(s.opts, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
				c, _ := newTestClient(t, f, func(cfg *Config) {
					if endpoint == "token endpoint" {
						cfg.TokenURL = "https://" + s.host + "/token"
					} else {
						cfg.TokenURL, cfg.BaseURL = plain.URL+"/token", "https://"+s.host+"/crm"
					}
				}, opts...)
				_, err := c.Scan(context.Background(), 42, time.Time{}, func(context.Context, Batch) error { return nil })
				flag := "--cova-token-url"
				if endpoint == "CustomerFull" {
					flag = "--cova-base-url"
				}
				prefix := "page at row 0: " + endpoint + ": the TLS certificate of " + s.host + " was refused: " + kind.reason
				suffix := "(check " + flag + " and this machine's CA certificates)"
				if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.HasSuffix(err.Error(), suffix) {
					t.Fatalf("error\n got %v\nwant %s ... %s", err, prefix, suffix)
				}
				if IsRetryable(err) {
					t.Error("a refused certificate is retryable")
				}
				if n := conns.Load(); n != 1 {
					t.Errorf("%d connections to the server whose certificate was refused, want 1", n)
				}
			})
		}
	}
}

func countNew(n *atomic.Int32) func(net.Conn, http.ConnState) {
	return func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
}

// TestTokenEndpointRetriesLoggedAtWarn: each retry of a failing token request
// is a WARN line naming the endpoint, the attempt and the cause.
func TestTokenEndpointRetriesLoggedAtWarn(t *testing.T) {
	f := newFakeCova(t, 5)
	fails := 2
	f.tokenStatus = func(w http.ResponseWriter) bool {
		if fails == 0 {
			return false
		}
		fails--
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("<html>Service Unavailable</html>"))
		return true
	}
	var logs bytes.Buffer
	c, _ := newTestClient(t, f, nil, WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	got, _, err := collect(t, c, time.Time{})
	if err != nil || len(got) != 5 {
		t.Fatalf("%d customers, %v", len(got), err)
	}
	var warns []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if strings.Contains(line, "level=WARN") {
			warns = append(warns, line)
		}
	}
	if len(warns) != 2 {
		t.Fatalf("%d WARN lines, want one per retry (2):\n%s", len(warns), logs.String())
	}
	for i, line := range warns {
		for _, want := range []string{`msg="Cova token endpoint failed; retrying"`, "company_id=42", "attempt=" + string(rune('1'+i)), `err="token endpoint answered HTTP 503"`, "retry_in="} {
			if !strings.Contains(line, want) {
				t.Errorf("WARN line %q lacks %s", line, want)
			}
		}
	}
}
