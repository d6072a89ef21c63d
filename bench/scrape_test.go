package main

import (
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const exposition = `# HELP apiwatch_probes_skipped_total Skipped probes.
# TYPE apiwatch_probes_skipped_total counter
apiwatch_probes_skipped_total 3
# HELP apiwatch_probes_total Probes finished, by result.
# TYPE apiwatch_probes_total counter
apiwatch_probes_total{result="failure"} 5
apiwatch_probes_total{result="success"} 95
# HELP apiwatch_scheduler_lag_seconds How late probes started.
# TYPE apiwatch_scheduler_lag_seconds histogram
apiwatch_scheduler_lag_seconds_bucket{le="0.001"} 60
apiwatch_scheduler_lag_seconds_bucket{le="0.01"} 99
apiwatch_scheduler_lag_seconds_bucket{le="+Inf"} 100
apiwatch_scheduler_lag_seconds_sum 0.5
apiwatch_scheduler_lag_seconds_count 100
# HELP probe_up Whether the endpoint is up.
# TYPE probe_up gauge
probe_up{company="a",endpoint="apiwatch_lookalike"} 1
probe_up{company="a",endpoint="y"} 0
# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 12
`

func TestSelectOwnMetrics(t *testing.T) {
	own, series := selectOwnMetrics([]byte(exposition))
	if series != 11 {
		t.Errorf("series = %d, want 11", series)
	}
	for line := range strings.Lines(string(own)) {
		if strings.Contains(line, "probe_up") || strings.Contains(line, "go_goroutines") {
			t.Errorf("selected a line of another family: %q", line)
		}
	}
	if got := strings.Count(string(own), "\n"); got != 14 {
		t.Errorf("selected %d lines, want the 14 of the apiwatch_ families", got)
	}
}

func TestParseFigures(t *testing.T) {
	own, _ := selectOwnMetrics([]byte(exposition))
	f, err := parseFigures(own)
	if err != nil {
		t.Fatalf("parseFigures: %v", err)
	}
	wantLag := []bucket{{0.001, 60}, {0.01, 99}, {math.Inf(+1), 100}}
	if !reflect.DeepEqual(f.Lag, wantLag) {
		t.Errorf("Lag = %v, want %v", f.Lag, wantLag)
	}
	if f.Probes != 100 {
		t.Errorf("Probes = %v, want 100 (success plus failure)", f.Probes)
	}
	if f.Skipped != 3 {
		t.Errorf("Skipped = %v, want 3", f.Skipped)
	}
	if missing := f.describeMissing(); missing != "" {
		t.Errorf("describeMissing = %q, want nothing", missing)
	}
}

func TestParseFiguresNotifications(t *testing.T) {
	const text = `# TYPE apiwatch_notifications_sent_total counter
apiwatch_notifications_sent_total{alertmanager="http://a"} 40
apiwatch_notifications_sent_total{alertmanager="http://b"} 2
# TYPE apiwatch_notifications_errors_total counter
apiwatch_notifications_errors_total{alertmanager="http://a"} 1
# TYPE apiwatch_notifications_dropped_total counter
apiwatch_notifications_dropped_total{alertmanager="http://a"} 3
apiwatch_notifications_dropped_total{alertmanager="http://b"} 4
`
	f, err := parseFigures([]byte(text))
	if err != nil {
		t.Fatalf("parseFigures: %v", err)
	}
	if f.NotificationsSent != 42 || f.NotificationsErrors != 1 || f.NotificationsDropped != 7 {
		t.Errorf("sent, errors, dropped = %v, %v, %v; want the sums 42, 1 and 7",
			f.NotificationsSent, f.NotificationsErrors, f.NotificationsDropped)
	}
}

func TestParseFiguresWithoutOwnMetrics(t *testing.T) {
	f, err := parseFigures(nil)
	if err != nil {
		t.Fatalf("parseFigures: %v", err)
	}
	if want := "apiwatch_scheduler_lag_seconds, apiwatch_probes_total"; f.describeMissing() != want {
		t.Errorf("describeMissing = %q, want %q", f.describeMissing(), want)
	}
}

// TestScrapeMetricsFromPromhttp scrapes a real client_golang handler, which
// gzips its answer, and checks sizes, series and figures.
func TestScrapeMetricsFromPromhttp(t *testing.T) {
	reg := prometheus.NewRegistry()
	lag := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "apiwatch_scheduler_lag_seconds",
		Help:    "How late probes started.",
		Buckets: []float64{0.001, 0.01},
	})
	probes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "apiwatch_probes_total",
		Help: "Probes finished, by result.",
	}, []string{"result"})
	up := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "probe_up", Help: "Up."}, []string{"endpoint"})
	reg.MustRegister(lag, probes, up)
	for i := range 100 {
		lag.Observe(0.0005)
		up.WithLabelValues(strings.Repeat("e", i+1)).Set(1)
	}
	lag.Observe(0.005)
	lag.Observe(1)
	probes.WithLabelValues("success").Add(40)
	probes.WithLabelValues("failure").Add(2)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	s, err := scrapeMetrics(&http.Client{Transport: &http.Transport{Proxy: nil}}, srv.URL)
	if err != nil {
		t.Fatalf("scrapeMetrics: %v", err)
	}
	// 100 probe_up, 2 apiwatch_probes_total, and 3 buckets + sum + count.
	if s.Series != 107 {
		t.Errorf("Series = %d, want 107", s.Series)
	}
	if s.GzipBytes <= 0 || s.GzipBytes >= s.Bytes {
		t.Errorf("GzipBytes = %d, Bytes = %d: want a compressed body smaller than the text", s.GzipBytes, s.Bytes)
	}
	wantLag := []bucket{{0.001, 100}, {0.01, 101}, {math.Inf(+1), 102}}
	if !reflect.DeepEqual(s.Lag, wantLag) {
		t.Errorf("Lag = %v, want %v", s.Lag, wantLag)
	}
	if s.Probes != 42 {
		t.Errorf("Probes = %v, want 42", s.Probes)
	}
}

func TestScrapeMetricsRejectsErrorStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	}))
	defer srv.Close()
	_, err := scrapeMetrics(&http.Client{Transport: &http.Transport{Proxy: nil}}, srv.URL)
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("scrapeMetrics error = %v, want one naming status 500", err)
	}
}
