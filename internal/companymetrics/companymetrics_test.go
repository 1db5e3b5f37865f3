package companymetrics

import (
	"bytes"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// TestExposedAsClientGolangWould: the same counts and observations give the
// same /metrics text as client_golang's CounterVec and HistogramVec.
func TestExposedAsClientGolangWould(t *testing.T) {
	copts := prometheus.CounterOpts{Name: "x_requests_total", Help: "Requests."}
	hopts := prometheus.HistogramOpts{Name: "x_scan_seconds", Help: "Scans.", Buckets: []float64{0.5, 1, 5}}
	// change_type sorts before company_id: the pairs must come out sorted.
	labels := []string{"company_id", "change_type"}
	ours, theirs := prometheus.NewRegistry(), prometheus.NewRegistry()
	oc, tc := NewCounterVec(copts, labels), prometheus.NewCounterVec(copts, labels)
	oh, th := NewHistogramVec(hopts, labels), prometheus.NewHistogramVec(hopts, labels)
	ours.MustRegister(oc, oh)
	theirs.MustRegister(tc, th)
	for _, op := range []struct {
		company, typ string
		add, obs     float64
	}{
		{"17", "created", 3, 0.2}, {"17", "updated", 0, 0.5}, {"2", "created", 1.5, 7},
		{"17", "created", 2, 1}, {"2", "snapshot", 0, 0.7},
	} {
		oc.WithLabelValues(op.company, op.typ).Add(op.add)
		tc.WithLabelValues(op.company, op.typ).Add(op.add)
		oh.WithLabelValues(op.company, op.typ).Observe(op.obs)
		th.WithLabelValues(op.company, op.typ).Observe(op.obs)
	}
	got, want := exposition(t, ours), exposition(t, theirs)
	if got != want {
		t.Errorf("exposed\n%s\nclient_golang exposes\n%s", got, want)
	}
	if v := testutil.ToFloat64(oc.WithLabelValues("17", "created")); v != 5 {
		t.Errorf("counter of 17/created = %v, want 5", v)
	}
}

func exposition(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return strings.TrimSpace(b.String())
}

// TestCounterPanicsOnDecrease: a counter only goes up, as client_golang's.
func TestCounterPanicsOnDecrease(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Add(-1) did not panic")
		}
	}()
	NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "X."}, []string{"company_id"}).WithLabelValues("1").Add(-1)
}
