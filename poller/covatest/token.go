package covatest

import (
	"crypto/rand"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// refreshTTL is how long a refresh token lasts (iQmetrix: 7 days).
const refreshTTL = 7 * 24 * time.Hour

type accessToken struct {
	issued  time.Time
	expires time.Time // what expires_in said, unless the token died sooner
	revoked bool
}

type refreshToken struct {
	access  string // the access token it revokes when used
	expires time.Time
}

// RevokeTokens revokes every access and refresh token issued so far: the next
// CustomerFull request of a client holding one is answered 401.
func (s *Simulator) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokeLocked()
}

func (s *Simulator) revokeLocked() {
	for _, t := range s.tokens {
		t.revoked = true
	}
	clear(s.refreshes)
}

// serveToken is the iQmetrix OAuth2 token endpoint: the password and refresh_token
// grants, with the documented 400 errors and a response without token_type.
func (s *Simulator) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.writeMessage(w, http.StatusMethodNotAllowed, "The requested resource does not support http method '"+r.Method+"'.")
		return
	}
	// Only the form body counts: credentials in the query string are not accepted.
	_ = r.ParseForm()
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.TokenRequests++
	now := s.now()
	oauthError := func(code string) { s.writeJSON(w, now, http.StatusBadRequest, `{"error":"`+code+`"}`) }
	grant := f.Get("grant_type")
	if grant != "password" && grant != "refresh_token" {
		oauthError("unsupported_grant_type")
		return
	}
	if f.Get("client_id") != s.cfg.ClientID || f.Get("client_secret") != s.cfg.ClientSecret {
		oauthError("invalid_client")
		return
	}
	switch grant {
	case "password":
		if f.Get("username") != s.cfg.Username || f.Get("password") != s.cfg.Password {
			oauthError("invalid_grant")
			return
		}
	case "refresh_token":
		rt := s.refreshes[f.Get("refresh_token")]
		if rt == nil || !now.Before(rt.expires) {
			oauthError("invalid_grant")
			return
		}
		delete(s.refreshes, f.Get("refresh_token"))
		if old := s.tokens[rt.access]; old != nil {
			old.revoked = true
		}
	}
	access, refresh := rand.Text()+rand.Text(), rand.Text()+rand.Text()
	s.tokens[access] = &accessToken{issued: now, expires: now.Add(s.cfg.TokenTTL)}
	s.refreshes[refresh] = &refreshToken{access: access, expires: now.Add(refreshTTL)}
	w.Header().Set("Cache-Control", "no-store")
	s.writeJSON(w, now, http.StatusOK, `{"access_token":"`+access+`","expires_in":`+
		strconv.FormatInt(int64(s.cfg.TokenTTL/time.Second), 10)+`,"refresh_token":"`+refresh+`"}`)
}

// authorizedLocked reports whether the request carries a live bearer token:
// issued here, not revoked, not expired, and younger than Hazards.TokenLifetime.
func (s *Simulator) authorizedLocked(r *http.Request, now time.Time) bool {
	t := s.tokens[bearer(r)]
	if t == nil || t.revoked || !now.Before(t.expires) {
		return false
	}
	return s.hz.TokenLifetime <= 0 || now.Before(t.issued.Add(s.hz.TokenLifetime))
}

// bearer is the request's bearer token, or "".
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}
