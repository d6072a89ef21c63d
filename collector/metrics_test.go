package collector

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/apiwatch/apiwatch/config"
)

// metricsEpoch is 2026-03-01T12:00:00Z, 1772366400 in Unix seconds.
var metricsEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// at returns metricsEpoch plus ms milliseconds.
func at(ms int) time.Time { return metricsEpoch.Add(time.Duration(ms) * time.Millisecond) }

// metricsConfig has five endpoints: acme/api and acme/web go down at the
// first failure, globex/shop and globex/slow after three, and globex/idle is
// never probed.
func metricsConfig() *config.Config {
	return &config.Config{Companies: []*config.Company{
		{Name: "acme", Endpoints: []*config.Endpoint{
			intervalEndpoint("api", time.Minute, 1, 1),
			intervalEndpoint("web", time.Minute, 1, 1),
		}},
		{Name: "globex", Endpoints: []*config.Endpoint{
			intervalEndpoint("shop", time.Minute, 3, 1),
			intervalEndpoint("slow", time.Minute, 3, 1),
			intervalEndpoint("idle", time.Minute, 3, 1),
		}},
	}}
}

// recordMetricsResults feeds m the results behind the expected exposition:
// acme/api up over TLS, acme/web down after retries, globex/shop unknown
// after one failure, globex/slow degraded.
func recordMetricsResults(t *testing.T, m *Manager) {
	t.Helper()
	results := map[Key][]Result{
		{"acme", "api"}: {{
			Start: at(123), Duration: 250 * time.Millisecond, Success: true, StatusCode: 200,
			Redirects: 1, IPVersion: 4, TLSCertExpiry: at(90 * 24 * 3600 * 1000), TLSCertSubject: "CN=api",
			Phases: Phases{PhaseResolve: 10 * time.Millisecond, PhaseConnect: 20 * time.Millisecond,
				PhaseProcessing: 200 * time.Millisecond, PhaseTransfer: 20 * time.Millisecond},
		}},
		{"acme", "web"}: {
			{Start: at(10_123), Duration: 5 * time.Second, Reason: ReasonTimeout, Message: "timed out after 5s", IPVersion: 6,
				Phases: Phases{PhaseConnect: 10 * time.Millisecond, PhaseProcessing: 4990 * time.Millisecond}},
			{Start: at(20_123), Duration: 40 * time.Millisecond, Reason: ReasonStatus, StatusCode: 503, IPVersion: 6,
				Retries: 2, Phases: Phases{PhaseConnect: 10 * time.Millisecond, PhaseProcessing: 30 * time.Millisecond}},
		},
		{"globex", "slow"}: {{
			Start: at(40_123), Duration: 2 * time.Second, Success: true, Degraded: true, StatusCode: 200, IPVersion: 4,
			Reason: ReasonSlow, Message: "took 2s, expected at most 1s (max_duration)", Retries: 1,
			Phases: Phases{PhaseConnect: time.Millisecond, PhaseProcessing: 1999 * time.Millisecond},
		}},
		{"globex", "shop"}: {{
			Start: at(30_123), Duration: time.Millisecond, Reason: ReasonConnect, Message: "connection refused",
			Phases: Phases{PhaseConnect: time.Millisecond},
		}},
	}
	for key, rs := range results {
		e := m.endpoints[key]
		for _, r := range rs {
			if _, _, ok := e.record(r); !ok {
				t.Fatalf("%s: result not recorded", key)
			}
		}
	}
}

const wantEndpointMetrics = `
# HELP apiwatch_endpoints Configured endpoints by state.
# TYPE apiwatch_endpoints gauge
apiwatch_endpoints{state="degraded"} 1
apiwatch_endpoints{state="down"} 1
apiwatch_endpoints{state="unknown"} 2
apiwatch_endpoints{state="up"} 1
# HELP probe_degraded Whether the endpoint is degraded (1), that is up but slow or with a certificate close to expiry, or not (0); absent until the first verdict.
# TYPE probe_degraded gauge
probe_degraded{company="acme",endpoint="api"} 0
probe_degraded{company="acme",endpoint="web"} 0
probe_degraded{company="globex",endpoint="slow"} 1
# HELP probe_duration_seconds Duration of probes, from the DNS lookup to the last body byte, including redirects.
# TYPE probe_duration_seconds histogram
probe_duration_seconds_bucket{company="acme",endpoint="api",le="0.01"} 0
probe_duration_seconds_bucket{company="acme",endpoint="api",le="0.025"} 0
probe_duration_seconds_bucket{company="acme",endpoint="api",le="0.05"} 0
probe_duration_seconds_bucket{company="acme",endpoint="api",le="0.1"} 0
probe_duration_seconds_bucket{company="acme",endpoint="api",le="0.25"} 1
probe_duration_seconds_bucket{company="acme",endpoint="api",le="0.5"} 1
probe_duration_seconds_bucket{company="acme",endpoint="api",le="1"} 1
probe_duration_seconds_bucket{company="acme",endpoint="api",le="2.5"} 1
probe_duration_seconds_bucket{company="acme",endpoint="api",le="5"} 1
probe_duration_seconds_bucket{company="acme",endpoint="api",le="10"} 1
probe_duration_seconds_bucket{company="acme",endpoint="api",le="+Inf"} 1
probe_duration_seconds_sum{company="acme",endpoint="api"} 0.25
probe_duration_seconds_count{company="acme",endpoint="api"} 1
probe_duration_seconds_bucket{company="acme",endpoint="web",le="0.01"} 0
probe_duration_seconds_bucket{company="acme",endpoint="web",le="0.025"} 0
probe_duration_seconds_bucket{company="acme",endpoint="web",le="0.05"} 1
probe_duration_seconds_bucket{company="acme",endpoint="web",le="0.1"} 1
probe_duration_seconds_bucket{company="acme",endpoint="web",le="0.25"} 1
probe_duration_seconds_bucket{company="acme",endpoint="web",le="0.5"} 1
probe_duration_seconds_bucket{company="acme",endpoint="web",le="1"} 1
probe_duration_seconds_bucket{company="acme",endpoint="web",le="2.5"} 1
probe_duration_seconds_bucket{company="acme",endpoint="web",le="5"} 2
probe_duration_seconds_bucket{company="acme",endpoint="web",le="10"} 2
probe_duration_seconds_bucket{company="acme",endpoint="web",le="+Inf"} 2
probe_duration_seconds_sum{company="acme",endpoint="web"} 5.04
probe_duration_seconds_count{company="acme",endpoint="web"} 2
probe_duration_seconds_bucket{company="globex",endpoint="shop",le="0.01"} 1
probe_duration_seconds_bucket{company="globex",endpoint="shop",le="0.025"} 1
probe_duration_seconds_bucket{company="globex",endpoint="shop",le="0.05"} 1
probe_duration_seconds_bucket{company="globex",endpoint="shop",le="0.1"} 1
probe_duration_seconds_bucket{company="globex",endpoint="shop",le="0.25"} 1
probe_duration_seconds_bucket{company="globex",endpoint="shop",le="0.5"} 1
probe_duration_seconds_bucket{company="globex",endpoint="shop",le="1"} 1
probe_duration_seconds_bucket{company="globex",endpoint="shop",le="2.5"} 1
probe_duration_seconds_bucket{company="globex",endpoint="shop",le="5"} 1
probe_duration_seconds_bucket{company="globex",endpoint="shop",le="10"} 1
probe_duration_seconds_bucket{company="globex",endpoint="shop",le="+Inf"} 1
probe_duration_seconds_sum{company="globex",endpoint="shop"} 0.001
probe_duration_seconds_count{company="globex",endpoint="shop"} 1
probe_duration_seconds_bucket{company="globex",endpoint="slow",le="0.01"} 0
probe_duration_seconds_bucket{company="globex",endpoint="slow",le="0.025"} 0
probe_duration_seconds_bucket{company="globex",endpoint="slow",le="0.05"} 0
probe_duration_seconds_bucket{company="globex",endpoint="slow",le="0.1"} 0
probe_duration_seconds_bucket{company="globex",endpoint="slow",le="0.25"} 0
probe_duration_seconds_bucket{company="globex",endpoint="slow",le="0.5"} 0
probe_duration_seconds_bucket{company="globex",endpoint="slow",le="1"} 0
probe_duration_seconds_bucket{company="globex",endpoint="slow",le="2.5"} 1
probe_duration_seconds_bucket{company="globex",endpoint="slow",le="5"} 1
probe_duration_seconds_bucket{company="globex",endpoint="slow",le="10"} 1
probe_duration_seconds_bucket{company="globex",endpoint="slow",le="+Inf"} 1
probe_duration_seconds_sum{company="globex",endpoint="slow"} 2
probe_duration_seconds_count{company="globex",endpoint="slow"} 1
# HELP probe_failures_total Failed probes by reason. A reason appears once it has happened.
# TYPE probe_failures_total counter
probe_failures_total{company="acme",endpoint="web",reason="status"} 1
probe_failures_total{company="acme",endpoint="web",reason="timeout"} 1
probe_failures_total{company="globex",endpoint="shop",reason="connect"} 1
# HELP probe_http_redirects Redirects followed by the last probe.
# TYPE probe_http_redirects gauge
probe_http_redirects{company="acme",endpoint="api"} 1
probe_http_redirects{company="acme",endpoint="web"} 0
probe_http_redirects{company="globex",endpoint="shop"} 0
probe_http_redirects{company="globex",endpoint="slow"} 0
# HELP probe_http_status_code HTTP status code of the last probe's final response, or 0 if none arrived.
# TYPE probe_http_status_code gauge
probe_http_status_code{company="acme",endpoint="api"} 200
probe_http_status_code{company="acme",endpoint="web"} 503
probe_http_status_code{company="globex",endpoint="shop"} 0
probe_http_status_code{company="globex",endpoint="slow"} 200
# HELP probe_ip_protocol IP version (4 or 6) of the last probe's connection, or 0 if none was made.
# TYPE probe_ip_protocol gauge
probe_ip_protocol{company="acme",endpoint="api"} 4
probe_ip_protocol{company="acme",endpoint="web"} 6
probe_ip_protocol{company="globex",endpoint="shop"} 0
probe_ip_protocol{company="globex",endpoint="slow"} 4
# HELP probe_last_check_timestamp_seconds When the last probe finished, in seconds since the Unix epoch.
# TYPE probe_last_check_timestamp_seconds gauge
probe_last_check_timestamp_seconds{company="acme",endpoint="api"} 1772366400.373
probe_last_check_timestamp_seconds{company="acme",endpoint="web"} 1772366420.163
probe_last_check_timestamp_seconds{company="globex",endpoint="shop"} 1772366430.124
probe_last_check_timestamp_seconds{company="globex",endpoint="slow"} 1772366442.123
# HELP probe_last_failure_timestamp_seconds When the last failed probe finished, in seconds since the Unix epoch.
# TYPE probe_last_failure_timestamp_seconds gauge
probe_last_failure_timestamp_seconds{company="acme",endpoint="web"} 1772366420.163
probe_last_failure_timestamp_seconds{company="globex",endpoint="shop"} 1772366430.124
# HELP probe_last_success_timestamp_seconds When the last successful probe finished, in seconds since the Unix epoch.
# TYPE probe_last_success_timestamp_seconds gauge
probe_last_success_timestamp_seconds{company="acme",endpoint="api"} 1772366400.373
probe_last_success_timestamp_seconds{company="globex",endpoint="slow"} 1772366442.123
# HELP probe_phase_duration_seconds Duration of each phase of the last probe, summed over redirects.
# TYPE probe_phase_duration_seconds gauge
probe_phase_duration_seconds{company="acme",endpoint="api",phase="connect"} 0.02
probe_phase_duration_seconds{company="acme",endpoint="api",phase="processing"} 0.2
probe_phase_duration_seconds{company="acme",endpoint="api",phase="resolve"} 0.01
probe_phase_duration_seconds{company="acme",endpoint="api",phase="tls"} 0
probe_phase_duration_seconds{company="acme",endpoint="api",phase="transfer"} 0.02
probe_phase_duration_seconds{company="acme",endpoint="web",phase="connect"} 0.01
probe_phase_duration_seconds{company="acme",endpoint="web",phase="processing"} 0.03
probe_phase_duration_seconds{company="acme",endpoint="web",phase="resolve"} 0
probe_phase_duration_seconds{company="acme",endpoint="web",phase="tls"} 0
probe_phase_duration_seconds{company="acme",endpoint="web",phase="transfer"} 0
probe_phase_duration_seconds{company="globex",endpoint="shop",phase="connect"} 0.001
probe_phase_duration_seconds{company="globex",endpoint="shop",phase="processing"} 0
probe_phase_duration_seconds{company="globex",endpoint="shop",phase="resolve"} 0
probe_phase_duration_seconds{company="globex",endpoint="shop",phase="tls"} 0
probe_phase_duration_seconds{company="globex",endpoint="shop",phase="transfer"} 0
probe_phase_duration_seconds{company="globex",endpoint="slow",phase="connect"} 0.001
probe_phase_duration_seconds{company="globex",endpoint="slow",phase="processing"} 1.999
probe_phase_duration_seconds{company="globex",endpoint="slow",phase="resolve"} 0
probe_phase_duration_seconds{company="globex",endpoint="slow",phase="tls"} 0
probe_phase_duration_seconds{company="globex",endpoint="slow",phase="transfer"} 0
# HELP probe_retries_total Attempts made after a failed first attempt of a probe.
# TYPE probe_retries_total counter
probe_retries_total{company="acme",endpoint="api"} 0
probe_retries_total{company="acme",endpoint="web"} 2
probe_retries_total{company="globex",endpoint="shop"} 0
probe_retries_total{company="globex",endpoint="slow"} 1
# HELP probe_state_change_timestamp_seconds When the endpoint last changed state, in seconds since the Unix epoch.
# TYPE probe_state_change_timestamp_seconds gauge
probe_state_change_timestamp_seconds{company="acme",endpoint="api"} 1772366400.373
probe_state_change_timestamp_seconds{company="acme",endpoint="web"} 1772366415.123
probe_state_change_timestamp_seconds{company="globex",endpoint="slow"} 1772366442.123
# HELP probe_success Whether the last probe succeeded (1), also when it found the endpoint degraded.
# TYPE probe_success gauge
probe_success{company="acme",endpoint="api"} 1
probe_success{company="acme",endpoint="web"} 0
probe_success{company="globex",endpoint="shop"} 0
probe_success{company="globex",endpoint="slow"} 1
# HELP probe_tls_cert_expiry_timestamp_seconds Expiry of the certificate that expires first in the last probe's verified TLS chain, or in the chain the server sent when verification is off, in seconds since the Unix epoch.
# TYPE probe_tls_cert_expiry_timestamp_seconds gauge
probe_tls_cert_expiry_timestamp_seconds{company="acme",endpoint="api"} 1780142400
# HELP probe_up Whether the endpoint is up (1) or down (0) after thresholds; absent until the first verdict.
# TYPE probe_up gauge
probe_up{company="acme",endpoint="api"} 1
probe_up{company="acme",endpoint="web"} 0
probe_up{company="globex",endpoint="slow"} 1
`

// endpointMetricNames are the per-endpoint metrics and apiwatch_endpoints.
var endpointMetricNames = []string{
	"apiwatch_endpoints",
	"probe_duration_seconds",
	"probe_failures_total",
	"probe_http_redirects",
	"probe_http_status_code",
	"probe_degraded",
	"probe_ip_protocol",
	"probe_last_check_timestamp_seconds",
	"probe_last_failure_timestamp_seconds",
	"probe_last_success_timestamp_seconds",
	"probe_phase_duration_seconds",
	"probe_retries_total",
	"probe_state_change_timestamp_seconds",
	"probe_success",
	"probe_tls_cert_expiry_timestamp_seconds",
	"probe_up",
}

func TestMetricsExposition(t *testing.T) {
	m, reg := newTestManager(t, Options{Prober: newFakeProber(nil)})
	m.ApplyConfig(metricsConfig())
	recordMetricsResults(t, m)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(wantEndpointMetrics), endpointMetricNames...); err != nil {
		t.Error(err)
	}
}

func TestMetricsReload(t *testing.T) {
	m, reg := newTestManager(t, Options{Prober: newFakeProber(nil)})
	m.ApplyConfig(metricsConfig())
	recordMetricsResults(t, m)

	// An identical configuration, built anew, keeps every series as it was.
	m.ApplyConfig(metricsConfig())
	if err := testutil.GatherAndCompare(reg, strings.NewReader(wantEndpointMetrics), endpointMetricNames...); err != nil {
		t.Errorf("after reloading the same configuration:\n%v", err)
	}

	// Dropping acme/web removes all of its series.
	cfg := metricsConfig()
	cfg.Companies[0].Endpoints = cfg.Companies[0].Endpoints[:1]
	m.ApplyConfig(cfg)
	got, err := testutil.GatherAndFormat(reg, expfmt.TypeTextPlain, endpointMetricNames...)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got, []byte(`endpoint="web"`)) {
		t.Errorf("series of the removed acme/web remain:\n%s", got)
	}
	byState := `
# HELP apiwatch_endpoints Configured endpoints by state.
# TYPE apiwatch_endpoints gauge
apiwatch_endpoints{state="degraded"} 1
apiwatch_endpoints{state="down"} 0
apiwatch_endpoints{state="unknown"} 2
apiwatch_endpoints{state="up"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(byState), "apiwatch_endpoints"); err != nil {
		t.Error(err)
	}
	failures := `
# HELP probe_failures_total Failed probes by reason. A reason appears once it has happened.
# TYPE probe_failures_total counter
probe_failures_total{company="globex",endpoint="shop",reason="connect"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(failures), "probe_failures_total"); err != nil {
		t.Error(err)
	}
}

func TestMetricsProbeUpAndDegraded(t *testing.T) {
	m, reg := newTestManager(t, Options{Prober: newFakeProber(nil)})
	m.ApplyConfig(singleEndpointConfig("acme", "api", time.Minute, 2, 1))
	e := m.endpoints[Key{"acme", "api"}]
	steps := []struct {
		name  string
		probe rune // o = healthy, d = degraded, x = failure
		// wantUp and wantDegraded are the values, empty for no series.
		wantUp, wantDegraded string
	}{
		{"first failure", 'x', "", ""},
		{"second failure", 'x', "0", "0"},
		{"success", 'o', "1", "0"},
		{"degraded below threshold", 'd', "1", "0"},
		{"degraded at threshold", 'd', "1", "1"},
		{"failure below threshold", 'x', "1", "1"},
		{"down from degraded", 'x', "0", "0"},
		{"back degraded", 'd', "1", "1"},
		{"healthy", 'o', "1", "0"},
	}
	for i, step := range steps {
		e.record(letterResult(i, step.probe))
		want := ""
		if step.wantUp != "" {
			want = `
# HELP probe_up Whether the endpoint is up (1) or down (0) after thresholds; absent until the first verdict.
# TYPE probe_up gauge
probe_up{company="acme",endpoint="api"} ` + step.wantUp + `
# HELP probe_degraded Whether the endpoint is degraded (1), that is up but slow or with a certificate close to expiry, or not (0); absent until the first verdict.
# TYPE probe_degraded gauge
probe_degraded{company="acme",endpoint="api"} ` + step.wantDegraded + "\n"
		}
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "probe_up", "probe_degraded"); err != nil {
			t.Errorf("%s: %v", step.name, err)
		}
	}
}

// TestMetricsCertExpiryFollowsLastProbe checks that the certificate expiry
// describes the last probe: it goes away when a probe completes no TLS
// handshake and comes back with the next one that does.
func TestMetricsCertExpiryFollowsLastProbe(t *testing.T) {
	m, reg := newTestManager(t, Options{Prober: newFakeProber(nil)})
	m.ApplyConfig(singleEndpointConfig("acme", "api", time.Minute, 1, 1))
	e := m.endpoints[Key{"acme", "api"}]
	expiry := func(ms int) string {
		return `
# HELP probe_tls_cert_expiry_timestamp_seconds Expiry of the certificate that expires first in the last probe's verified TLS chain, or in the chain the server sent when verification is off, in seconds since the Unix epoch.
# TYPE probe_tls_cert_expiry_timestamp_seconds gauge
probe_tls_cert_expiry_timestamp_seconds{company="acme",endpoint="api"} ` + strconv.FormatFloat(unixSeconds(at(ms)), 'f', -1, 64) + "\n"
	}
	steps := []struct {
		name   string
		result Result
		want   string
	}{
		{"before any probe", Result{}, ""},
		{"handshake", Result{Start: at(0), Success: true, TLSCertExpiry: at(5_000_500)}, expiry(5_000_500)},
		{"connection refused", Result{Start: at(10_000), Reason: ReasonConnect}, ""},
		{"renewed certificate", Result{Start: at(20_000), Success: true, TLSCertExpiry: at(9_000_000)}, expiry(9_000_000)},
	}
	for _, step := range steps {
		if !step.result.Start.IsZero() {
			e.record(step.result)
		}
		if err := testutil.GatherAndCompare(reg, strings.NewReader(step.want), "probe_tls_cert_expiry_timestamp_seconds"); err != nil {
			t.Errorf("%s: %v", step.name, err)
		}
	}
}

// fullRegistry returns a registry like the daemon's, with a manager whose
// endpoints have been probed over HTTP and HTTPS: up, down, degraded,
// refused and never probed.
func fullRegistry(t *testing.T) *prometheus.Registry {
	t.Helper()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/slow":
			pause(r, 30*time.Millisecond)
		}
	})
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)
	tlsServer := httptest.NewTLSServer(handler)
	t.Cleanup(tlsServer.Close)
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector("apiwatch"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m, err := New(Options{Prober: NewHTTPProber(HTTPProberOptions{}), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	m.ApplyConfig(loadYAMLConfig(t, `
companies:
  - name: acme
    endpoints:
      - name: up
        url: `+server.URL+`/up
      - name: down
        url: `+server.URL+`/down
      - name: refused
        url: http://127.0.0.1:1/
      - name: slow
        url: `+server.URL+`/slow
        expect: {max_duration: 10ms}
      - name: tls
        url: `+tlsServer.URL+`/
        tls_config: {insecure_skip_verify: true}
      - name: unprobed
        url: `+server.URL+`/
`))
	for _, name := range []string{"up", "down", "refused", "slow", "tls"} {
		m.probe(context.Background(), m.endpoints[Key{"acme", name}], time.Now())
	}
	return reg
}

func TestMetricsPromlint(t *testing.T) {
	problems, err := testutil.GatherAndLint(fullRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestMetricsPromtoolCheck(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("APIWATCH_SKIP_PROMTOOL") == "1" {
			t.Skip("promtool not installed and APIWATCH_SKIP_PROMTOOL=1")
		}
		t.Fatalf("promtool not found (install Debian's prometheus package, or set APIWATCH_SKIP_PROMTOOL=1 to skip): %v", err)
	}
	// Dump /metrics through the same handler the web package serves.
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(fullRegistry(t), promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics returned %d", rec.Code)
	}
	dump := rec.Body.String()
	for _, name := range []string{"probe_up", "probe_degraded", "probe_duration_seconds_bucket", "probe_failures_total",
		"probe_retries_total", "probe_tls_cert_expiry_timestamp_seconds", "apiwatch_endpoints", "go_goroutines"} {
		if !strings.Contains(dump, "\n"+name) {
			t.Errorf("/metrics dump lacks %s", name)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(dump)
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("running promtool: %v", err)
	}
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestMetricsCollectDoesNotBlockRecord(t *testing.T) {
	m, _ := newTestManager(t, Options{Prober: newFakeProber(nil)})
	m.ApplyConfig(singleEndpointConfig("acme", "api", time.Minute, 1, 1))
	e := m.endpoints[Key{"acme", "api"}]
	e.record(syntheticResult(0, true))

	// A scrape that stops reading after the first metric, as a slow
	// registry would.
	ch := make(chan prometheus.Metric)
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		m.metrics.Collect(ch)
	}()
	<-ch

	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		e.record(syntheticResult(1, false))
	}()
	select {
	case <-recorded:
	case <-time.After(5 * time.Second):
		t.Errorf("recording a result waited for a stalled scrape")
	}
	// Drain the scrape so that its goroutine ends.
	for {
		select {
		case <-ch:
		case <-collected:
			<-recorded
			return
		}
	}
}
