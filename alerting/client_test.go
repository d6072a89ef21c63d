package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/prometheus/alertmanager/api/v2/models"
	commoncfg "github.com/prometheus/common/config"

	"github.com/apiwatch/apiwatch/collector"
)

// request is what a test Alertmanager server received.
type request struct {
	method, path, contentType, auth string
	body                            []byte
}

// recordingServer starts an httptest server that answers code and sends
// every request to the returned channel.
func recordingServer(t *testing.T, code int, answer string) (*httptest.Server, chan request) {
	t.Helper()
	reqs := make(chan request, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		reqs <- request{
			method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"),
			auth: r.Header.Get("Authorization"), body: body,
		}
		w.WriteHeader(code)
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, reqs
}

func receive(t *testing.T, reqs chan request) request {
	t.Helper()
	select {
	case r := <-reqs:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no request reached the Alertmanager within 5s")
		return request{}
	}
}

// TestWireFormat fires an alert through a notifier at a real HTTP server
// and checks the request against Alertmanager's v2 API.
func TestWireFormat(t *testing.T) {
	srv, reqs := recordingServer(t, http.StatusOK, "")
	base, _ := url.Parse(srv.URL + "/alertmanager/")
	external, _ := url.Parse("https://apiwatch.example.com/status")
	h := newHarness(t, "", nil, Options{ExternalURL: external})
	h.n.SetAlertmanagers([]Alertmanager{{URL: base, Name: base.String(), Client: srv.Client(), Timeout: 5 * time.Second}})
	pol := policy()
	pol.Labels = map[string]string{"team": "payments", "tier": "gold"}
	h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: pol})
	h.start()

	downAt := time.Now().Add(-time.Hour).Truncate(time.Second)
	st := down(downAt, time.Now())
	st.FailureReason, st.LastStatusCode, st.FailureMessage = collector.ReasonStatus, 503, "status 503"
	before := time.Now()
	h.transition(apiKey, st)
	r := receive(t, reqs)
	after := time.Now()

	if r.method != http.MethodPost || r.path != "/alertmanager/api/v2/alerts" {
		t.Errorf("request = %s %s, want POST /alertmanager/api/v2/alerts", r.method, r.path)
	}
	if r.contentType != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", r.contentType)
	}
	var alerts models.PostableAlerts
	if err := json.Unmarshal(r.body, &alerts); err != nil {
		t.Fatalf("body is not a list of PostableAlert: %v\n%s", err, r.body)
	}
	if err := alerts.Validate(strfmt.Default); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts, want 1", len(alerts))
	}
	a := alerts[0]
	wantLabels := models.LabelSet{
		"alertname": "EndpointDown", "company": "acme", "endpoint": "api", "severity": "critical",
		"team": "payments", "tier": "gold",
	}
	if !maps.Equal(a.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", a.Labels, wantLabels)
	}
	wantAnnotations := models.LabelSet{
		"summary":     "acme/api is down",
		"description": "Probe of https://api.example.com/health failed (status): status 503",
		"url":         "https://api.example.com/health",
		"reason":      "status",
		"status_code": "503",
		"error":       "status 503",
		"runbook_url": "https://wiki.example.com/runbooks/api",
	}
	if !maps.Equal(a.Annotations, wantAnnotations) {
		t.Errorf("annotations = %v, want %v", a.Annotations, wantAnnotations)
	}
	if got := time.Time(a.StartsAt); !got.Equal(downAt) {
		t.Errorf("startsAt = %s, want %s", got, downAt)
	}
	// Sent between before and after, with a lease of four resend intervals;
	// the wire format keeps milliseconds.
	lease := leaseFactor * DefaultResendInterval
	endsAt := time.Time(a.EndsAt)
	if endsAt.Before(before.Add(lease).Truncate(time.Millisecond)) || endsAt.After(after.Add(lease)) {
		t.Errorf("endsAt = %s, want %s after the send", endsAt, lease)
	}
	if got, want := string(a.GeneratorURL), "https://apiwatch.example.com/status/endpoints/acme/api"; got != want {
		t.Errorf("generatorURL = %q, want %q", got, want)
	}
}

// TestClientAuthorization checks that the credentials of the HTTP client
// settings, and those in the URL, reach the Alertmanager.
func TestClientAuthorization(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      commoncfg.HTTPClientConfig
		userinfo *url.Userinfo
		want     string
	}{
		{
			name: "basic auth",
			cfg:  commoncfg.HTTPClientConfig{BasicAuth: &commoncfg.BasicAuth{Username: "apiwatch", Password: "S3cr3t-PW"}},
			want: "Basic YXBpd2F0Y2g6UzNjcjN0LVBX",
		},
		{
			name: "bearer token",
			cfg: commoncfg.HTTPClientConfig{Authorization: &commoncfg.Authorization{
				Type: "Bearer", Credentials: "S3cr3t-T0ken",
			}},
			want: "Bearer S3cr3t-T0ken",
		},
		{
			name:     "credentials in the URL",
			userinfo: url.UserPassword("apiwatch", "S3cr3t-PW"),
			want:     "Basic YXBpd2F0Y2g6UzNjcjN0LVBX",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, reqs := recordingServer(t, http.StatusOK, "")
			httpClient, err := commoncfg.NewClientFromConfig(tc.cfg, "alertmanager")
			if err != nil {
				t.Fatal(err)
			}
			base, _ := url.Parse(srv.URL)
			base.User = tc.userinfo
			c := newClient(base, httpClient, 5*time.Second)
			if err := c.post(context.Background(), models.PostableAlerts{}); err != nil {
				t.Fatalf("post: %v", err)
			}
			if got := receive(t, reqs).auth; got != tc.want {
				t.Errorf("Authorization = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestClientErrorsHideCredentials makes posts fail in several ways to a
// URL with a password and checks that no error shows it.
func TestClientErrorsHideCredentials(t *testing.T) {
	const password = "S3cr3t-PW"
	refused := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return "http://" + addr
	}
	for _, tc := range []struct {
		name      string
		base      func(t *testing.T) string
		retryable bool
		wantText  string
	}{
		{"refused", refused, true, "connection refused"},
		{"server error", func(t *testing.T) string {
			srv, _ := recordingServer(t, http.StatusInternalServerError, "try later")
			return srv.URL
		}, true, "Alertmanager answered 500: try later"},
		{"rejected", func(t *testing.T) string {
			srv, _ := recordingServer(t, http.StatusBadRequest, `{"message":"bad alert"}`)
			return srv.URL
		}, false, `Alertmanager answered 400: {"message":"bad alert"}`},
		{"timeout", func(t *testing.T) string {
			block := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }))
			t.Cleanup(srv.Close)
			t.Cleanup(func() { close(block) })
			return srv.URL
		}, true, "no answer within the timeout of 200ms: context deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, err := url.Parse(tc.base(t))
			if err != nil {
				t.Fatal(err)
			}
			base.User = url.UserPassword("apiwatch", password)
			c := newClient(base, &http.Client{}, 200*time.Millisecond)
			err = c.post(context.Background(), models.PostableAlerts{})
			var se *sendError
			if !errors.As(err, &se) {
				t.Fatalf("post error = %v, want a *sendError", err)
			}
			if se.retryable != tc.retryable {
				t.Errorf("retryable = %v, want %v", se.retryable, tc.retryable)
			}
			if msg := err.Error(); strings.Contains(msg, password) || !strings.Contains(msg, tc.wantText) {
				t.Errorf("error = %q, want it to contain %q and not the password", msg, tc.wantText)
			}
		})
	}
}

func TestClientRetryableStatus(t *testing.T) {
	for code, want := range map[int]bool{
		http.StatusBadRequest: false, http.StatusUnauthorized: false, http.StatusNotFound: false,
		http.StatusRequestTimeout: true, http.StatusTooManyRequests: true,
		http.StatusInternalServerError: true, http.StatusBadGateway: true, http.StatusServiceUnavailable: true,
	} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			srv, _ := recordingServer(t, code, "")
			base, _ := url.Parse(srv.URL)
			err := newClient(base, srv.Client(), 5*time.Second).post(context.Background(), models.PostableAlerts{})
			var se *sendError
			if !errors.As(err, &se) || se.status != code || se.retryable != want {
				t.Errorf("post error = %#v, want status %d with retryable %v", err, code, want)
			}
		})
	}
}
