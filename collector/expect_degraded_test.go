package collector

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/storage"
)

func TestJudgeDegraded(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const both = "url: https://127.0.0.1:1/\ntimeout: 5s\nexpect: {max_duration: 800ms, tls_cert_min_days: 30}"
	tests := []struct {
		name     string
		endpoint string
		duration time.Duration
		// certLeft is the time from the probe's end to the certificate's
		// expiry; 0 means no TLS.
		certLeft time.Duration
		failed   bool
		reason   Reason
		message  string
	}{
		{name: "fast with a fresh certificate", endpoint: both, duration: 200 * time.Millisecond, certLeft: 90 * certDay},
		{
			name: "slow", endpoint: both, duration: 1203400 * time.Microsecond, certLeft: 90 * certDay,
			reason: ReasonSlow, message: "took 1.203s, expected at most 800ms (max_duration)",
		},
		{
			name: "just over max_duration", endpoint: both, duration: 800400 * time.Microsecond,
			reason: ReasonSlow, message: "took 800.4ms, expected at most 800ms (max_duration)",
		},
		{name: "exactly max_duration", endpoint: both, duration: 800 * time.Millisecond},
		{
			name: "certificate within min days", endpoint: both, duration: 100 * time.Millisecond, certLeft: 10*certDay + time.Hour,
			reason:  ReasonCertExpiry,
			message: `certificate "CN=intermediate" expires in 10 days (2026-03-11T13:00:00Z), expected at least 30 days (tls_cert_min_days)`,
		},
		{
			name: "days rounded down", endpoint: both, duration: 100 * time.Millisecond, certLeft: 30*certDay - time.Second,
			reason:  ReasonCertExpiry,
			message: `certificate "CN=intermediate" expires in 29 days (2026-03-31T11:59:59Z), expected at least 30 days (tls_cert_min_days)`,
		},
		{name: "exactly min days", endpoint: both, duration: 100 * time.Millisecond, certLeft: 30 * certDay},
		{
			name: "less than a day", endpoint: both, duration: 100 * time.Millisecond, certLeft: 5 * time.Hour,
			reason:  ReasonCertExpiry,
			message: `certificate "CN=intermediate" expires in less than a day (2026-03-01T17:00:00Z), expected at least 30 days (tls_cert_min_days)`,
		},
		{
			name: "expired without verification", endpoint: both, duration: 100 * time.Millisecond, certLeft: -3*certDay - time.Hour,
			reason:  ReasonCertExpiry,
			message: `certificate "CN=intermediate" expired 3 days ago (2026-02-26T11:00:00Z), expected at least 30 days (tls_cert_min_days)`,
		},
		{
			name: "expired within the day", endpoint: both, duration: 100 * time.Millisecond, certLeft: -time.Minute,
			reason:  ReasonCertExpiry,
			message: `certificate "CN=intermediate" expired less than a day ago (2026-03-01T11:59:00Z), expected at least 30 days (tls_cert_min_days)`,
		},
		{
			name: "certificate wins over slow", endpoint: both, duration: 2 * time.Second, certLeft: certDay,
			reason:  ReasonCertExpiry,
			message: `certificate "CN=intermediate" expires in 1 day (2026-03-02T12:00:02Z), expected at least 30 days (tls_cert_min_days)`,
		},
		{
			name: "failure stays a failure", endpoint: both, duration: 2 * time.Second, certLeft: certDay, failed: true,
			reason: ReasonStatus, message: "status 503, expected 2xx",
		},
		{
			name: "no checks configured", endpoint: "url: https://127.0.0.1:1/", duration: 4 * time.Second, certLeft: certDay,
		},
		{
			name: "no certificate without TLS", endpoint: both, duration: 100 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := loadTarget(t, tt.endpoint)
			res := Result{Start: start, Duration: tt.duration, Success: true}
			if tt.certLeft != 0 {
				res.TLSCertExpiry = start.Add(tt.duration).Add(tt.certLeft)
				res.TLSCertSubject = "CN=intermediate"
			}
			if tt.failed {
				res.Success = false
				res.fail(ReasonStatus, "status 503, expected 2xx")
			}
			judgeDegraded(target.Endpoint, &res)
			if wantDegraded := !tt.failed && tt.reason != ReasonNone; res.Degraded != wantDegraded {
				t.Errorf("Degraded = %t, want %t", res.Degraded, wantDegraded)
			}
			if res.Success == tt.failed {
				t.Errorf("Success = %t, want %t", res.Success, !tt.failed)
			}
			if res.Reason != tt.reason {
				t.Errorf("Reason = %q, want %q", res.Reason, tt.reason)
			}
			if res.Message != tt.message {
				t.Errorf("Message = %q\nwant      %q", res.Message, tt.message)
			}
		})
	}
}

// TestProbeSlowIsDegraded probes a server that responds after 300 ms with
// max_duration 100ms: the probe succeeds and is degraded with reason slow.
func TestProbeSlowIsDegraded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pause(r, 300*time.Millisecond)
	}))
	defer srv.Close()
	target := loadTarget(t, "url: "+srv.URL+"/\ntimeout: 2s\nexpect: {max_duration: 100ms}")
	prober := NewHTTPProber(HTTPProberOptions{})

	res := prober.Probe(context.Background(), target)

	if !res.Success || !res.Degraded || res.Reason != ReasonSlow {
		t.Fatalf("Success %t, Degraded %t, Reason %q (%s), want a degraded success with reason slow",
			res.Success, res.Degraded, res.Reason, res.Message)
	}
	want := "took " + res.Duration.Round(time.Millisecond).String() + ", expected at most 100ms (max_duration)"
	if res.Message != want {
		t.Errorf("Message = %q, want %q", res.Message, want)
	}
	if res.Duration < 300*time.Millisecond {
		t.Errorf("Duration = %v, want at least the server's 300ms", res.Duration)
	}
}

// TestManagerDegradedLoggedAndSaved runs an endpoint through unknown,
// degraded and up, and checks that each transition is logged at info level
// and that a restart restores the degraded state with its reason.
func TestManagerDegradedLoggedAndSaved(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	db, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	probes := "dod" // degraded, healthy, degraded
	prober := newFakeProber(func(_ context.Context, _ *Target, n int) Result {
		return letterResult(n, rune(probes[n]))
	})
	cfg := singleEndpointConfig("acme", "api", time.Minute, 1, 1)
	key := Key{"acme", "api"}
	m, _ := newTestManager(t, Options{Prober: prober, Logger: logger, DB: db})
	m.ApplyConfig(cfg)
	for range probes {
		m.probe(context.Background(), m.endpoints[key], time.Now())
	}
	if err := m.save(); err != nil {
		t.Fatalf("saving: %v", err)
	}

	want := []string{
		`level=INFO msg="Endpoint state changed" company=acme endpoint=api from=unknown to=degraded reason=slow status_code=200 message="` + slowMessage + `"`,
		`level=INFO msg="Endpoint state changed" company=acme endpoint=api from=degraded to=up reason="" status_code=200 message=""`,
		`level=INFO msg="Endpoint state changed" company=acme endpoint=api from=up to=degraded reason=slow status_code=200 message="` + slowMessage + `"`,
	}
	got := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	restarted, _ := newTestManager(t, Options{Prober: prober, DB: db})
	restarted.ApplyConfig(cfg)
	st, ok := restarted.Status(key)
	if !ok {
		t.Fatalf("no status for %s after the restart", key)
	}
	if st.State != StateDegraded || !st.Since.Equal(resultEnd(letterResult(2, 'd'))) {
		t.Errorf("restored state %s since %v, want degraded since the end of probe 2", st.State, st.Since)
	}
	if st.DegradedReason != ReasonSlow || st.DegradedMessage != slowMessage || st.LastReason != ReasonSlow {
		t.Errorf("restored DegradedReason, DegradedMessage, LastReason = %q, %q, %q, want slow, %q, slow",
			st.DegradedReason, st.DegradedMessage, st.LastReason, slowMessage)
	}
}
