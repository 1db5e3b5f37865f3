package covatest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestTokenPasswordGrant(t *testing.T) {
	s := newTestServer(t, Config{TokenTTL: 90 * time.Minute})
	code, body := postToken(t, s, passwordForm())
	if code != http.StatusOK {
		t.Fatalf("HTTP %d", code)
	}
	if len(body) != 3 || body["access_token"] == nil || body["refresh_token"] == nil || body["expires_in"] == nil {
		t.Fatalf("fields %v, want exactly access_token, expires_in, refresh_token", body)
	}
	if _, ok := body["token_type"]; ok {
		t.Error("token_type present; iQmetrix sends none")
	}
	if string(body["expires_in"]) != "5400" {
		t.Errorf("expires_in = %s, want 5400", body["expires_in"])
	}
	if s.Stats().TokenRequests != 1 {
		t.Errorf("TokenRequests = %d, want 1", s.Stats().TokenRequests)
	}
}

func TestTokenErrors(t *testing.T) {
	s := newTestServer(t, Config{})
	with := func(k, v string) url.Values {
		f := passwordForm()
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"wrong client id", with("client_id", "nope"), "invalid_client"},
		{"wrong client secret", with("client_secret", "nope"), "invalid_client"},
		{"wrong username", with("username", "nope"), "invalid_grant"},
		{"wrong password", with("password", "nope"), "invalid_grant"},
		{"client credentials grant", with("grant_type", "client_credentials"), "unsupported_grant_type"},
		{"no grant type", with("grant_type", ""), "unsupported_grant_type"},
		{"unknown refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"forged"},
			"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}, "invalid_grant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postToken(t, s, tc.form)
			var got string
			_ = json.Unmarshal(body["error"], &got)
			if code != http.StatusBadRequest || got != tc.want {
				t.Fatalf("HTTP %d error %q, want 400 %q", code, got, tc.want)
			}
			if body["access_token"] != nil {
				t.Fatal("an error response carried a token")
			}
		})
	}
}

func TestRefreshRevokesOldToken(t *testing.T) {
	s := newTestServer(t, Config{})
	s.Generate(1, 3)
	code, first := postToken(t, s, passwordForm())
	if code != http.StatusOK {
		t.Fatalf("HTTP %d", code)
	}
	var access1, refresh1 string
	_ = json.Unmarshal(first["access_token"], &access1)
	_ = json.Unmarshal(first["refresh_token"], &refresh1)
	if resp, _ := get(t, s, access1, 1, query(epoch, -1, -1)); resp.StatusCode != http.StatusOK {
		t.Fatalf("first token: HTTP %d", resp.StatusCode)
	}
	refreshForm := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh1},
		"client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret}}
	code, second := postToken(t, s, refreshForm)
	if code != http.StatusOK {
		t.Fatalf("refresh: HTTP %d %v", code, second)
	}
	var access2 string
	_ = json.Unmarshal(second["access_token"], &access2)
	if access2 == access1 || second["refresh_token"] == nil {
		t.Fatalf("refresh did not return a new pair: %v", second)
	}
	if resp, _ := get(t, s, access1, 1, query(epoch, -1, -1)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("old access token after refresh: HTTP %d, want 401", resp.StatusCode)
	}
	if resp, _ := get(t, s, access2, 1, query(epoch, -1, -1)); resp.StatusCode != http.StatusOK {
		t.Errorf("new access token: HTTP %d, want 200", resp.StatusCode)
	}
	if code, body := postToken(t, s, refreshForm); code != http.StatusBadRequest || string(body["error"]) != `"invalid_grant"` {
		t.Errorf("reusing the refresh token: HTTP %d %s, want 400 invalid_grant", code, body["error"])
	}
	refreshForm.Set("client_secret", "nope")
	if code, body := postToken(t, s, refreshForm); code != http.StatusBadRequest || string(body["error"]) != `"invalid_client"` {
		t.Errorf("refresh with a wrong secret: HTTP %d %s, want 400 invalid_client", code, body["error"])
	}
}

func TestUnauthorized(t *testing.T) {
	clock := newFakeClock(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	s := newTestServer(t, Config{Now: clock.Now, TokenTTL: time.Hour})
	s.Generate(1, 2)
	tok := token(t, s)
	check := func(name, tok string, want int) {
		t.Helper()
		resp, body := get(t, s, tok, 1, query(epoch, -1, -1))
		if resp.StatusCode != want {
			t.Fatalf("%s: HTTP %d, want %d", name, resp.StatusCode, want)
		}
		if want == http.StatusUnauthorized {
			var msg struct{ Message string }
			if err := json.Unmarshal(body, &msg); err != nil || msg.Message != "Authorization has been denied for this request." {
				t.Fatalf("%s: body %s", name, body)
			}
		}
	}
	check("no token", "", http.StatusUnauthorized)
	check("unknown token", "not-a-token", http.StatusUnauthorized)
	check("valid token", tok, http.StatusOK)
	clock.Advance(time.Hour - time.Second)
	check("a second before expiry", tok, http.StatusOK)
	clock.Advance(time.Second)
	check("expired token", tok, http.StatusUnauthorized)
	tok = token(t, s)
	check("fresh token", tok, http.StatusOK)
	s.RevokeTokens()
	check("revoked token", tok, http.StatusUnauthorized)
}
