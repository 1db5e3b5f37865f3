package covatest

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is a Simulator listening on a loopback port, like httptest.Server.
type Server struct {
	*Simulator
	URL string // e.g. http://127.0.0.1:41234

	srv       *http.Server
	done      chan struct{}
	closeOnce sync.Once
}

// NewServer starts a Simulator on 127.0.0.1 with a random port. It panics if it
// cannot listen, as httptest.NewServer does. Close it when done.
func NewServer(cfg Config) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("covatest: listen on a loopback port: " + err.Error())
	}
	sim := New(cfg)
	s := &Server{
		Simulator: sim,
		URL:       "http://" + ln.Addr().String(),
		srv:       &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second},
		done:      make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			panic("covatest: serve: " + err.Error())
		}
	}()
	return s
}

// BaseURL is the client's Cova base URL: URL + "/crm".
func (s *Server) BaseURL() string { return s.URL + "/crm" }

// TokenURL is the client's token URL: URL + "/v1/oauth2/token".
func (s *Server) TokenURL() string { return s.URL + "/v1/oauth2/token" }

// Close shuts the server down, cutting open connections, and waits for its
// serving goroutine; safe to call twice.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		_ = s.srv.Close()
		<-s.done
	})
}
