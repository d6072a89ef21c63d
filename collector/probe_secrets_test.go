package collector

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Markers in the test URLs that must never reach a message.
const (
	secretPassword = "S3cr3t-PW-1"
	secretToken    = "q-456"
)

// withSecrets returns base (scheme://host:port) with userinfo, a path and a
// secret query.
func withSecrets(base string) string {
	scheme, host, _ := strings.Cut(base, "://")
	return scheme + "://user:" + secretPassword + "@" + host + "/x?token=" + secretToken
}

// TestProbeMessagesHideURLSecrets checks that failure messages carry
// neither the password nor the query of the URL.
func TestProbeMessagesHideURLSecrets(t *testing.T) {
	unauthorized := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	})
	srv := httptest.NewServer(unauthorized)
	defer srv.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer hang.Close()
	untrusted := httptest.NewUnstartedServer(unauthorized)
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0)
	untrusted.StartTLS()
	defer untrusted.Close()
	resolver := startDNS(t, nil)
	prober := NewHTTPProber(HTTPProberOptions{Resolver: resolver})

	tests := []struct {
		name    string
		url     string
		timeout string
		reason  Reason
	}{
		{name: "refused", url: withSecrets("http://" + unusedPort(t)), timeout: "5s", reason: ReasonConnect},
		{name: "401", url: withSecrets(srv.URL), timeout: "5s", reason: ReasonStatus},
		{name: "TLS error", url: withSecrets(untrusted.URL), timeout: "5s", reason: ReasonTLS},
		{name: "timeout", url: withSecrets(hang.URL), timeout: "200ms", reason: ReasonTimeout},
		{name: "unknown name", url: withSecrets("http://nx.test"), timeout: "5s", reason: ReasonDNS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := prober.Probe(context.Background(), loadTarget(t, "url: "+tt.url+"\ntimeout: "+tt.timeout))

			if res.Success || res.Reason != tt.reason {
				t.Errorf("Success, Reason = %v, %q (%s), want false, %q", res.Success, res.Reason, res.Message, tt.reason)
			}
			for _, secret := range []string{secretPassword, secretToken} {
				if strings.Contains(res.Message, secret) {
					t.Errorf("Message %q contains %q from the URL", res.Message, secret)
				}
			}
		})
	}
}

// TestProbeSendsUserinfoAsBasicAuth checks that credentials in the URL are
// sent as basic auth, as http.Client sends them, so that a protected
// endpoint can be probed.
func TestProbeSendsUserinfoAsBasicAuth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		if !ok || user != "user" || password != secretPassword || r.URL.Query().Get("token") != secretToken {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	prober := NewHTTPProber(HTTPProberOptions{})

	res := prober.Probe(context.Background(), loadTarget(t, "url: "+withSecrets(srv.URL)))

	checkResult(t, res, true, ReasonNone, "")
}
