package covatest

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// BenchmarkGenerate measures loading customers: b.N customers per run.
func BenchmarkGenerate(b *testing.B) {
	s := New(Config{})
	b.ReportAllocs()
	b.ResetTimer()
	s.Generate(1, b.N)
}

// BenchmarkGenerateMillion loads the largest company the benchmarks use.
func BenchmarkGenerateMillion(b *testing.B) {
	for b.Loop() {
		New(Config{}).Generate(1, 1_000_000)
	}
}

// benchServe measures CustomerFull requests against n customers over loopback.
func benchServe(b *testing.B, n int, hz Hazards, q string) {
	s := NewServer(Config{NoServedLog: true})
	defer s.Close()
	s.Generate(1, n)
	s.SetHazards(hz)
	tok := func() string {
		resp, err := http.PostForm(s.TokenURL(), passwordForm())
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var t struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
			b.Fatal(err)
		}
		return t.AccessToken
	}()
	url := s.BaseURL() + "/v1/Companies(1)/CustomerFull?" + q
	do := func() int64 {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("HTTP %d", resp.StatusCode)
		}
		return n
	}
	do() // the first request sorts the freshly generated company
	var bytes int64
	for b.Loop() {
		bytes += do()
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/response")
}

// BenchmarkPage serves one 100-row page deep in a 1,000,000-customer company.
func BenchmarkPage(b *testing.B) {
	benchServe(b, 1_000_000, Hazards{}, query(epoch, 500_000, 100))
}

// BenchmarkPageFiltered serves a page whose filter matches part of the company
// (the filter result is cached while the data does not change).
func BenchmarkPageFiltered(b *testing.B) {
	benchServe(b, 1_000_000, Hazards{}, query("2026-01-01T00:00:00", 1000, 100))
}

// BenchmarkPageWhileModified changes a customer before every page, so every
// request pays for re-filtering the company.
func BenchmarkPageWhileModified(b *testing.B) {
	benchServe(b, 200_000, Hazards{ModifyPerPage: 1}, query("2026-01-01T00:00:00", 1000, 100))
}

// BenchmarkUnpaged streams a whole 200,000-customer company in one response.
func BenchmarkUnpaged(b *testing.B) {
	benchServe(b, 200_000, Hazards{IgnorePaging: true}, query(epoch, 0, 100))
}
