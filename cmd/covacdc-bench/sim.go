package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/covacdc/covacdc/poller/covatest"
)

// simulator is a running `covacdc simulate`.
type simulator struct {
	*child
	BaseURL, TokenURL string
	Ready             time.Duration // from start until it served (data generated)
}

// startSimulator starts `covacdc simulate` on a free loopback port with no
// trickle unless args say otherwise, and waits until it listens.
func (b *bench) startSimulator(ctx context.Context, customers, companies int, args ...string) (*simulator, error) {
	all := append([]string{"simulate", "--addr", "127.0.0.1:0",
		"--customers", strconv.Itoa(customers), "--companies", strconv.Itoa(companies),
		"--seed", strconv.FormatInt(b.cfg.Seed, 10), "--trickle", "0"}, args...)
	urls := make(chan [2]string, 1)
	c, err := startChild("covacdc simulate", b.simBin, all, func(line string) {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == "--cova-base-url" && f[2] == "--cova-token-url" {
			select {
			case urls <- [2]string{f[1], f[3]}:
			default:
			}
		}
	})
	if err != nil {
		return nil, err
	}
	s := &simulator{child: c}
	select {
	case u := <-urls:
		s.BaseURL, s.TokenURL = u[0], u[1]
		s.Ready = time.Since(c.start)
		return s, nil
	case <-c.done:
		return nil, fmt.Errorf("covacdc simulate exited (%s):\n%s", exitStatus(c.exitErr()), c.tailText())
	case <-ctx.Done():
		c.kill()
		return nil, ctx.Err()
	case <-time.After(10 * time.Minute):
		c.kill()
		return nil, fmt.Errorf("covacdc simulate did not listen within 10 minutes")
	}
}

// simStats is what the simulator logged when it stopped.
type simStats struct {
	TokenRequests        int
	CustomerFullRequests int
	RowsServed           int
	Status429            int
	MaxInFlight          int // the most CustomerFull requests answered at once
	Abandoned            int // requests whose client went away during their latency
}

// stopSimulator stops it and returns its own counts of what it answered.
func (s *simulator) stopSimulator() (simStats, error) {
	if _, err := s.stop(30 * time.Second); err != nil {
		return simStats{}, err
	}
	ls := s.logs(func(l logLine) bool { return l.str("msg") == "simulator stopped" })
	if len(ls) == 0 {
		return simStats{}, fmt.Errorf("covacdc simulate logged no stats:\n%s", s.tailText())
	}
	l := ls[len(ls)-1]
	return simStats{
		TokenRequests:        int(l.num("token_requests")),
		CustomerFullRequests: int(l.num("customerfull_requests")),
		RowsServed:           int(l.num("rows_served")),
		Status429:            int(l.num("status_429")),
		MaxInFlight:          int(l.num("max_in_flight")),
		Abandoned:            int(l.num("abandoned")),
	}, nil
}

// fetched is every customer of one company as CustomerFull served it, page by
// page without overlap, kept for the decode-only ceiling.
type fetched struct {
	File      string           // the pages' JSON arrays, one per line
	Customers int              // elements
	Pages     int              // requests made
	Bytes     int64            // JSON bytes
	Truth     map[string]int64 // "company/Id" -> Version
	Mix       map[string][4]int
}

// fetchAll reads every customer of the companies from the simulator with $top=100
// pages (before covacdc runs, so the two never compete), writes the pages to a
// file and learns each customer's Version and the mix of its collections.
func (b *bench) fetchAll(ctx context.Context, s *simulator, companies int) (*fetched, error) {
	tok, err := token(ctx, s.TokenURL)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(b.tmp, "pages-*.jsonl")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	out := &fetched{File: f.Name(), Truth: map[string]int64{}, Mix: map[string][4]int{}}
	filter := strings.ReplaceAll(url.QueryEscape("LastModifiedDateUtc ge datetime'1900-01-01T00:00:00.0000000Z'"), "+", "%20")
	for company := 1; company <= companies; company++ {
		for skip := 0; ; skip += 100 {
			u := fmt.Sprintf("%s/v1/Companies(%d)/CustomerFull?$filter=%s&$top=100&$skip=%d", s.BaseURL, company, filter, skip)
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return nil, err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return nil, err
			}
			if resp.StatusCode != http.StatusOK {
				return nil, fmt.Errorf("CustomerFull: HTTP %d: %.200s", resp.StatusCode, body)
			}
			var page []struct {
				Id                 string
				Version            int64
				Addresses          []json.RawMessage
				ContactMethods     []json.RawMessage
				CustomerExtensions []json.RawMessage
			}
			if err := json.Unmarshal(body, &page); err != nil {
				return nil, fmt.Errorf("CustomerFull page: %w", err)
			}
			for _, c := range page {
				out.Truth[fmt.Sprintf("%d/%s", company, c.Id)] = c.Version
				for i, n := range []int{len(c.Addresses), len(c.ContactMethods), len(c.CustomerExtensions)} {
					name := [...]string{"addresses", "contact_methods", "extensions"}[i]
					m := out.Mix[name]
					m[min(n, 3)]++
					out.Mix[name] = m
				}
			}
			out.Customers += len(page)
			out.Pages++
			out.Bytes += int64(len(body))
			if _, err := w.Write(body); err != nil {
				return nil, err
			}
			_ = w.WriteByte('\n')
			if len(page) < 100 {
				break
			}
		}
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return out, f.Close()
}

func token(ctx context.Context, tokenURL string) (string, error) {
	form := url.Values{
		"grant_type": {"password"}, "client_id": {covatest.DefaultClientID}, "client_secret": {covatest.DefaultClientSecret},
		"username": {covatest.DefaultUsername}, "password": {covatest.DefaultPassword},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("token: HTTP %d, no access token (decoding: %s)", resp.StatusCode, orNone(err))
	}
	return tr.AccessToken, nil
}

// simArgs are the credentials `covacdc run` needs for the simulator.
func (s *simulator) runArgs() []string {
	return []string{"--cova-base-url", s.BaseURL, "--cova-token-url", s.TokenURL,
		"--cova-client-id", covatest.DefaultClientID, "--cova-client-secret", covatest.DefaultClientSecret,
		"--cova-username", covatest.DefaultUsername, "--cova-password", covatest.DefaultPassword}
}
