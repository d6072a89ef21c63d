package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiwatch/apiwatch/collector"
	"github.com/apiwatch/apiwatch/config"
	"github.com/apiwatch/apiwatch/web"
)

// testConfig has four endpoints. acme's three run every minute, on the
// minute, and globex's runs once a year, so it is never probed in a test,
// and is in maintenance on the day the synctest bubble starts.
const testConfig = `
companies:
  - name: acme
    endpoints:
      - name: api
        url: https://api.acme.example/health?api_key=k-1
        schedule: "* * * * *"
        labels:
          tier: gold
      - name: db
        url: https://db.acme.example/ping
        schedule: "* * * * *"
      - name: slow
        url: https://slow.acme.example/
        schedule: "* * * * *"
        success_threshold: 2
  - name: globex
    endpoints:
      - name: web
        url: https://www.globex.example/
        schedule: "0 0 1 1 *"
        maintenance:
          - start: 1999-12-31T00:00:00Z
            end: 2000-01-02T00:00:00Z
`

// slowMessage is the degraded message of acme/slow's probes.
const slowMessage = "took 1.2s, expected at most 800ms (max_duration)"

// healthyFrom is when acme/slow's probes turn healthy: from its second
// probe, at 00:02:00 in the synctest bubble.
var healthyFrom = time.Date(2000, 1, 1, 0, 2, 0, 0, time.UTC)

// dbRecovers is when acme/db's probe succeeds, once: its third probe, at
// 00:02:00 in the synctest bubble.
var dbRecovers = time.Date(2000, 1, 1, 0, 2, 0, 0, time.UTC)

// fakeProber returns a fixed result per endpoint name, starting at the
// current (fake) time: db fails except at dbRecovers, slow is degraded after
// one retry until healthyFrom, and the others succeed.
type fakeProber struct{}

func (fakeProber) Probe(_ context.Context, t *collector.Target) collector.Result {
	r := collector.Result{Start: time.Now(), Duration: 250 * time.Millisecond, Success: true, StatusCode: 200}
	switch t.Endpoint.Name {
	case "db":
		if time.Now().Equal(dbRecovers) {
			break
		}
		r = collector.Result{
			Start:      time.Now(),
			Duration:   1500 * time.Millisecond,
			Reason:     collector.ReasonStatus,
			Message:    "status 503, expected 2xx",
			StatusCode: 503,
		}
	case "slow":
		if !time.Now().Before(healthyFrom) {
			break
		}
		r = collector.Result{
			Start:      time.Now(),
			Duration:   1200 * time.Millisecond,
			Success:    true,
			Degraded:   true,
			Reason:     collector.ReasonSlow,
			Message:    slowMessage,
			StatusCode: 200,
			Retries:    1,
		}
	}
	return r
}

// server is a web handler over a real collector.Manager.
type server struct {
	t       *testing.T
	manager *collector.Manager
	handler http.Handler
}

func newServer(t *testing.T) *server {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := collector.New(collector.Options{Registerer: reg, Prober: fakeProber{}, HistorySize: 10})
	if err != nil {
		t.Fatalf("collector.New: %v", err)
	}
	return &server{t: t, manager: m, handler: web.New(web.Options{Manager: m, Gatherer: reg})}
}

// get serves a GET of target and returns the status code, the
// Content-Type and the body.
func (s *server) get(target string) (int, string, string) {
	s.t.Helper()
	rec := s.serve(target)
	body, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		s.t.Fatalf("reading response to %s: %v", target, err)
	}
	return rec.Code, rec.Header().Get("Content-Type"), string(body)
}

// serve serves a GET of target.
func (s *server) serve(target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

// loadConfig writes content to a file and loads it with config.LoadFile,
// which also parses cron schedules.
func loadConfig(t *testing.T, content string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "apiwatch.yml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("writing config: %v", err)
	}
	cfg, err := config.LoadFile(path)
	if err != nil {
		t.Fatalf("loading config: %v", err)
	}
	return cfg
}

// runProbes applies testConfig and runs the manager in the synctest bubble
// until one minute past the start, after the first probes of acme's
// endpoints. The bubble's clock starts at 2000-01-01T00:00:00Z. The returned
// function stops the manager.
func (s *server) runProbes() (stop func()) {
	s.t.Helper()
	s.manager.ApplyConfig(loadConfig(s.t, testConfig))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.manager.Run(ctx) }()
	time.Sleep(61 * time.Second)
	synctest.Wait()
	return func() {
		cancel()
		if err := <-done; err != nil {
			s.t.Errorf("Manager.Run: %v", err)
		}
	}
}

// Expected JSON of each endpoint after runProbes. The probe of acme/api
// started at 00:01:00 and took 250ms; the probe of acme/db took 1.5s and
// that of acme/slow 1.2s.
const (
	apiJSON = `{
  "company": "acme", "endpoint": "api",
  "url": "https://api.acme.example/health?api_key=xxxxx",
  "labels": {"tier": "gold"},
  "state": "up",
  "since": "2000-01-01T00:01:00.25Z",
  "last_check": "2000-01-01T00:01:00.25Z",
  "last_success": "2000-01-01T00:01:00.25Z",
  "last_failure": null,
  "last_status_code": 200, "last_reason": "", "last_error": "",
  "latency_seconds": 0.25,
  "failure_reason": "", "failure_message": "",
  "degraded_reason": "", "degraded_message": "",
  "consecutive_failures": 0, "consecutive_successes": 1,
  "in_maintenance": false,
  "probes": 1, "successful_probes": 1
}`
	dbJSON = `{
  "company": "acme", "endpoint": "db",
  "url": "https://db.acme.example/ping",
  "state": "down",
  "since": "2000-01-01T00:01:01.5Z",
  "last_check": "2000-01-01T00:01:01.5Z",
  "last_success": null,
  "last_failure": "2000-01-01T00:01:01.5Z",
  "last_status_code": 503, "last_reason": "status", "last_error": "status 503, expected 2xx",
  "latency_seconds": 1.5,
  "failure_reason": "status", "failure_message": "status 503, expected 2xx",
  "degraded_reason": "", "degraded_message": "",
  "consecutive_failures": 1, "consecutive_successes": 0,
  "in_maintenance": false,
  "probes": 1, "successful_probes": 0
}`
	slowJSON = `{
  "company": "acme", "endpoint": "slow",
  "url": "https://slow.acme.example/",
  "state": "degraded",
  "since": "2000-01-01T00:01:01.2Z",
  "last_check": "2000-01-01T00:01:01.2Z",
  "last_success": "2000-01-01T00:01:01.2Z",
  "last_failure": null,
  "last_status_code": 200, "last_reason": "slow", "last_error": "` + slowMessage + `",
  "latency_seconds": 1.2,
  "failure_reason": "", "failure_message": "",
  "degraded_reason": "slow", "degraded_message": "` + slowMessage + `",
  "consecutive_failures": 0, "consecutive_successes": 1,
  "in_maintenance": false,
  "probes": 1, "successful_probes": 1
}`
	webJSON = `{
  "company": "globex", "endpoint": "web",
  "url": "https://www.globex.example/",
  "state": "unknown",
  "since": null, "last_check": null, "last_success": null, "last_failure": null,
  "last_status_code": 0, "last_reason": "", "last_error": "",
  "latency_seconds": 0,
  "failure_reason": "", "failure_message": "",
  "degraded_reason": "", "degraded_message": "",
  "consecutive_failures": 0, "consecutive_successes": 0,
  "in_maintenance": true,
  "probes": 0, "successful_probes": 0
}`
)

func TestStatusAPI(t *testing.T) {
	tests := []struct {
		name   string
		target string
		want   string
	}{
		{"all companies", "/api/v1/status", `{"endpoints": [` + apiJSON + `,` + dbJSON + `,` + slowJSON + `,` + webJSON + `]}`},
		{"company filter", "/api/v1/status?company=globex", `{"endpoints": [` + webJSON + `]}`},
		{"unknown company", "/api/v1/status?company=initech", `{"endpoints": []}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newServer(t)
				defer s.runProbes()()
				code, contentType, body := s.get(tt.target)
				if code != http.StatusOK {
					t.Fatalf("status %d, want 200: %s", code, body)
				}
				if contentType != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", contentType)
				}
				checkJSON(t, body, tt.want)
			})
		})
	}
}

func TestEndpointAPI(t *testing.T) {
	tests := []struct {
		name     string
		target   string
		wantCode int
		want     string
	}{
		{
			name:     "failing endpoint with its checks",
			target:   "/api/v1/endpoints/acme/db",
			wantCode: http.StatusOK,
			want: strings.TrimSuffix(dbJSON, "}") + `, "checks": [{
			  "time": "2000-01-01T00:01:00Z", "duration_seconds": 1.5, "success": false, "degraded": false,
			  "status_code": 503, "reason": "status", "retries": 0, "state": "down"}]}`,
		},
		{
			name:     "degraded endpoint with its checks",
			target:   "/api/v1/endpoints/acme/slow",
			wantCode: http.StatusOK,
			want: strings.TrimSuffix(slowJSON, "}") + `, "checks": [{
			  "time": "2000-01-01T00:01:00Z", "duration_seconds": 1.2, "success": true, "degraded": true,
			  "status_code": 200, "reason": "slow", "retries": 1, "state": "degraded"}]}`,
		},
		{
			name:     "endpoint never probed",
			target:   "/api/v1/endpoints/globex/web",
			wantCode: http.StatusOK,
			want:     strings.TrimSuffix(webJSON, "}") + `, "checks": []}`,
		},
		{
			name:     "unknown endpoint",
			target:   "/api/v1/endpoints/acme/nope",
			wantCode: http.StatusNotFound,
			want:     `{"error": "endpoint \"nope\" of company \"acme\" not found"}`,
		},
		{
			name:     "unknown company",
			target:   "/api/v1/endpoints/initech/api",
			wantCode: http.StatusNotFound,
			want:     `{"error": "endpoint \"api\" of company \"initech\" not found"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newServer(t)
				defer s.runProbes()()
				code, contentType, body := s.get(tt.target)
				if code != tt.wantCode {
					t.Errorf("status %d, want %d", code, tt.wantCode)
				}
				if contentType != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", contentType)
				}
				checkJSON(t, body, tt.want)
			})
		})
	}
}

// checkJSON compares two JSON documents, ignoring layout.
func checkJSON(t *testing.T, got, want string) {
	t.Helper()
	gotNorm, err := normalizeJSON(got)
	if err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, got)
	}
	wantNorm, err := normalizeJSON(want)
	if err != nil {
		t.Fatalf("expected value is not JSON: %v\n%s", err, want)
	}
	if gotNorm != wantNorm {
		t.Errorf("JSON differs\ngot:\n%s\nwant:\n%s", gotNorm, wantNorm)
	}
}

// normalizeJSON decodes and re-encodes s with sorted keys and indentation.
func normalizeJSON(s string) (string, error) {
	var v any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return buf.String(), nil
}

func TestReadyAndHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t)
		if code, _, body := s.get("/-/ready"); code != http.StatusServiceUnavailable {
			t.Errorf("/-/ready before ApplyConfig: status %d, want 503: %q", code, body)
		}
		const healthy = "apiwatch is healthy.\n"
		if code, _, body := s.get("/-/healthy"); code != http.StatusOK || body != healthy {
			t.Errorf("/-/healthy before ApplyConfig: status %d body %q, want 200 %q", code, body, healthy)
		}
		s.manager.ApplyConfig(loadConfig(t, testConfig))
		if code, _, body := s.get("/-/ready"); code != http.StatusOK || body != "apiwatch is ready.\n" {
			t.Errorf("/-/ready after ApplyConfig: status %d body %q, want 200 %q", code, body, "apiwatch is ready.\n")
		}
		if code, _, body := s.get("/-/healthy"); code != http.StatusOK {
			t.Errorf("/-/healthy after ApplyConfig: status %d: %q", code, body)
		}
	})
}

func TestUnknownPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t)
		for _, target := range []string{"/nope", "/api/v1/endpoints/acme", "/api/v2/status"} {
			if code, _, _ := s.get(target); code != http.StatusNotFound {
				t.Errorf("GET %s: status %d, want 404", target, code)
			}
		}
	})
}

func TestMetricsEndpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t)
		defer s.runProbes()()
		code, _, body := s.get("/metrics")
		if code != http.StatusOK {
			t.Fatalf("status %d, want 200", code)
		}
		for _, line := range []string{
			`probe_up{company="acme",endpoint="api"} 1`,
			`probe_up{company="acme",endpoint="db"} 0`,
			`probe_up{company="acme",endpoint="slow"} 1`,
			`probe_degraded{company="acme",endpoint="api"} 0`,
			`probe_degraded{company="acme",endpoint="slow"} 1`,
			`probe_retries_total{company="acme",endpoint="slow"} 1`,
			`apiwatch_endpoints{state="degraded"} 1`,
		} {
			if !strings.Contains(body, line+"\n") {
				t.Errorf("/metrics lacks the line %q", line)
			}
		}
		if strings.Contains(body, `probe_up{company="globex"`) {
			t.Errorf("/metrics has probe_up for globex/web, which has no verdict yet")
		}
	})
}
