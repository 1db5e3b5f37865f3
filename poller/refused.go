package poller

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"strconv"
)

// What the client refuses to go on with, at once and without a retry: a
// redirect (it would carry the credentials elsewhere) and a TLS certificate
// that does not verify (retrying cannot change it).

// redirected is the error for a 3xx answer of endpoint, naming the host the
// redirect points to but nothing more of its URL.
func redirected(endpoint string, resp *http.Response) error {
	where := "nowhere (no Location)"
	if loc, err := resp.Location(); err == nil {
		where = loc.Host
	} else if resp.Header.Get("Location") != "" {
		where = "an address that does not parse"
	}
	msg := endpoint + " answered HTTP " + strconv.Itoa(resp.StatusCode) + ", a redirect to " + where + ", which is not followed"
	if endpoint == endpointToken {
		msg += ": credentials go only to --cova-token-url"
	} else {
		msg += " (check --cova-base-url)"
	}
	return &hintError{msg: msg, err: &StatusError{Code: resp.StatusCode, Endpoint: endpoint}, final: true}
}

// certificateRefused returns the error for a request whose TLS certificate did
// not verify (unknown authority, another host name, expired), or nil when err
// is something else. host is the address the request went to; flag the one
// that sets it.
func certificateRefused(err error, endpoint, host, flag string) error {
	var (
		cve      *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		reason   error
	)
	switch {
	case errors.As(err, &cve):
		reason = cve.Err
	case errors.As(err, &unknown):
		reason = unknown
	case errors.As(err, &hostname):
		reason = hostname
	case errors.As(err, &invalid):
		reason = invalid
	default:
		return nil
	}
	return &hintError{
		msg:   endpoint + ": the TLS certificate of " + host + " was refused: " + reason.Error() + " (check " + flag + " and this machine's CA certificates)",
		err:   err,
		final: true,
	}
}
