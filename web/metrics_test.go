package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestMetricsHandlerStreamsEndpointMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "apiwatch_test_total", Help: "A test counter."}))
	h := New(Options{
		Gatherer: reg,
		EndpointMetrics: func(w io.Writer) error {
			_, err := io.WriteString(w, "# HELP probe_up Up.\n# TYPE probe_up gauge\nprobe_up{company=\"acme\",endpoint=\"api\"} 1\n")
			return err
		},
	})
	want := "# HELP apiwatch_test_total A test counter.\n# TYPE apiwatch_test_total counter\napiwatch_test_total 0\n" +
		"# HELP probe_up Up.\n# TYPE probe_up gauge\nprobe_up{company=\"acme\",endpoint=\"api\"} 1\n"
	for _, gz := range []bool{false, true} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if gz {
			req.Header.Set("Accept-Encoding", "deflate, gzip;q=1.0")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Errorf("Content-Type = %q, want the text format 0.0.4", ct)
		}
		body := rec.Body.String()
		if gz {
			if got := rec.Header().Get("Content-Encoding"); got != "gzip" {
				t.Fatalf("Content-Encoding = %q, want gzip", got)
			}
			zr, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			body = string(b)
		}
		if body != want {
			t.Errorf("gzip %v: body\n%s\nwant\n%s", gz, body, want)
		}
	}
}

func TestPprofServed(t *testing.T) {
	h := New(Options{Gatherer: prometheus.NewRegistry()})
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=1"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("%s: status %d, want 200", path, rec.Code)
		}
	}
}
