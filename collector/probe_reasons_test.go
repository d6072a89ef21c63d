package collector

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestProbeFailureReasons runs one probe per failure reason against a server
// built to fail that way, and checks the exact reason and message.
func TestProbeFailureReasons(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
	})
	mux.HandleFunc("/2k", func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 2048))
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// httptest's certificate is self-signed and not in the prober's pool.
	untrusted := httptest.NewUnstartedServer(mux)
	untrusted.Config.ErrorLog = log.New(io.Discard, "", 0)
	untrusted.StartTLS()
	defer untrusted.Close()

	ca := newTestCA(t)
	leaf := ca.issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	trusted := startTLSServer(t, &tls.Config{Certificates: []tls.Certificate{leaf}}, mux)
	_, trustedPort, _ := strings.Cut(strings.TrimPrefix(trusted, "https://"), ":")
	clientCertRequired := startTLSServer(t, &tls.Config{
		Certificates: []tls.Certificate{leaf},
		ClientAuth:   tls.RequireAnyClientCert,
	}, mux)

	garbage := startRawServer(t, func(c net.Conn) {
		io.WriteString(c, "garbage\r\n\r\n")
	})
	midHeaders := startRawServer(t, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")
	})
	midLine := startRawServer(t, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Ty")
	})
	closeAfterBody := startRawServer(t, func(c net.Conn) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
	})
	longGarbage := startRawServer(t, func(c net.Conn) {
		io.WriteString(c, strings.Repeat("x", 100<<10)+"\r\n\r\n")
	})
	refused := unusedPort(t)
	// Connections to silent complete in the kernel's accept queue, but the
	// listener never accepts them, so no byte ever comes back.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	resolver := startDNS(t, map[string][]string{
		"silent.test": {},
		"wrong.test":  {"127.0.0.1"},
	})
	prober := NewHTTPProber(HTTPProberOptions{
		Resolver:  resolver,
		TLSConfig: &tls.Config{RootCAs: ca.pool},
	})

	tests := []struct {
		name       string
		endpoint   string
		reason     Reason
		message    string
		statusCode int
		timeout    time.Duration // set for rows that must time out
	}{
		{
			name:     "hang before headers is timeout",
			endpoint: "url: " + srv.URL + "/hang\ntimeout: 200ms",
			reason:   ReasonTimeout,
			message:  "timed out after 200ms while waiting for the response headers",
			timeout:  200 * time.Millisecond,
		},
		{
			name:     "unknown name is dns",
			endpoint: "url: http://nx.test/",
			reason:   ReasonDNS,
			message:  "resolving nx.test: no such host",
		},
		{
			name:     "silent DNS server is timeout",
			endpoint: "url: http://silent.test/\ntimeout: 200ms",
			reason:   ReasonTimeout,
			message:  "timed out after 200ms while resolving the host",
			timeout:  200 * time.Millisecond,
		},
		{
			name:     "refused port is connect",
			endpoint: "url: http://" + refused + "/",
			reason:   ReasonConnect,
			message:  "connecting to " + refused + ": connection refused",
		},
		{
			name:     "untrusted certificate is tls",
			endpoint: "url: " + untrusted.URL + "/",
			reason:   ReasonTLS,
			message:  "TLS handshake: tls: failed to verify certificate: x509: certificate signed by unknown authority",
		},
		{
			name:     "wrong host name is tls",
			endpoint: "url: https://wrong.test:" + trustedPort + "/",
			reason:   ReasonTLS,
			message:  "TLS handshake: tls: failed to verify certificate: x509: certificate is valid for localhost, not wrong.test",
		},
		{
			name:     "silent TLS server is timeout",
			endpoint: "url: https://" + silent.Addr().String() + "/\ntimeout: 200ms",
			reason:   ReasonTimeout,
			message:  "timed out after 200ms while in the TLS handshake",
			timeout:  200 * time.Millisecond,
		},
		{
			name:     "HTTP to HTTPS port is tls",
			endpoint: "url: " + strings.Replace(srv.URL, "http:", "https:", 1) + "/",
			reason:   ReasonTLS,
			message:  "TLS handshake: the server sent a plain HTTP response: check the URL's scheme and port",
		},
		{
			// With TLS 1.3 the server's alert arrives after the client has
			// finished its side of the handshake.
			name:     "missing client certificate is tls",
			endpoint: "url: " + clientCertRequired + "/",
			reason:   ReasonTLS,
			message:  "waiting for the response headers: remote error: tls: certificate required",
		},
		{
			name:     "garbage response is http",
			endpoint: "url: http://" + garbage + "/",
			reason:   ReasonHTTP,
			message:  `waiting for the response headers: malformed HTTP response "garbage"`,
		},
		{
			name:     "close mid-headers is http",
			endpoint: "url: http://" + midHeaders + "/",
			reason:   ReasonHTTP,
			message:  "connection closed while waiting for the response headers",
		},
		{
			name:     "close mid-line is http",
			endpoint: "url: http://" + midLine + "/",
			reason:   ReasonHTTP,
			message:  `waiting for the response headers: malformed MIME header: missing colon: "Content-Ty"`,
		},
		{
			name:       "close before Content-Length is http",
			endpoint:   "url: http://" + closeAfterBody + "/",
			reason:     ReasonHTTP,
			message:    "connection closed while reading the body",
			statusCode: 200,
		},
		{
			name:     "long garbage message is capped",
			endpoint: "url: http://" + longGarbage + "/",
			reason:   ReasonHTTP,
			message: `waiting for the response headers: malformed HTTP response "` +
				strings.Repeat("x", maxMessageLen-len(`waiting for the response headers: malformed HTTP response "...`)) + "...",
		},
		{
			name:       "500 is status",
			endpoint:   "url: " + srv.URL + "/status/500",
			reason:     ReasonStatus,
			message:    "status 500, expected 2xx",
			statusCode: 500,
		},
		{
			name:       "503 is status",
			endpoint:   "url: " + srv.URL + "/status/503",
			reason:     ReasonStatus,
			message:    "status 503, expected 2xx",
			statusCode: 503,
		},
		{
			name:       "404 is status",
			endpoint:   "url: " + srv.URL + "/status/404",
			reason:     ReasonStatus,
			message:    "status 404, expected 2xx",
			statusCode: 404,
		},
		{
			name:       "200 outside expected list is status",
			endpoint:   "url: " + srv.URL + "/status/200\nexpect:\n  status: [204, 4xx]",
			reason:     ReasonStatus,
			message:    "status 200, expected 204, 4xx",
			statusCode: 200,
		},
		{
			name:       "large body with fail_if_body_too_large",
			endpoint:   "url: " + srv.URL + "/2k\nbody_size_limit: 1KiB\nexpect:\n  fail_if_body_too_large: true",
			reason:     ReasonBodyTooLarge,
			message:    "body is larger than body_size_limit 1KiB",
			statusCode: 200,
		},
		{
			name:       "redirect loop is redirect_limit",
			endpoint:   "url: " + srv.URL + "/loop\nmax_redirects: 3",
			reason:     ReasonRedirectLimit,
			message:    "stopped after 3 redirects (max_redirects)",
			statusCode: 302,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := prober.Probe(context.Background(), loadTarget(t, tt.endpoint))
			checkResult(t, res, false, tt.reason, tt.message)
			if res.StatusCode != tt.statusCode {
				t.Errorf("StatusCode = %d, want %d", res.StatusCode, tt.statusCode)
			}
			if tt.timeout > 0 && (res.Duration < tt.timeout || res.Duration > tt.timeout+200*time.Millisecond) {
				t.Errorf("Duration = %v, want between %v and %v", res.Duration, tt.timeout, tt.timeout+200*time.Millisecond)
			}
		})
	}
}

// TestProbeSuccess checks the fields of a plain successful probe.
func TestProbeSuccess(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	}))
	defer srv.Close()
	prober := NewHTTPProber(HTTPProberOptions{})

	before := time.Now()
	res := prober.Probe(context.Background(), loadTarget(t, "url: "+srv.URL+"/"))

	checkResult(t, res, true, ReasonNone, "")
	if res.StatusCode != 200 || res.FirstStatusCode != 200 {
		t.Errorf("StatusCode, FirstStatusCode = %d, %d, want 200, 200", res.StatusCode, res.FirstStatusCode)
	}
	if res.Redirects != 0 {
		t.Errorf("Redirects = %d, want 0", res.Redirects)
	}
	if res.BodySize != 3 || res.BodyTruncated {
		t.Errorf("BodySize, BodyTruncated = %d, %v, want 3, false", res.BodySize, res.BodyTruncated)
	}
	if res.IPVersion != 4 {
		t.Errorf("IPVersion = %d, want 4", res.IPVersion)
	}
	if res.Start.Before(before) || res.Start.After(time.Now()) {
		t.Errorf("Start = %v, want between %v and now", res.Start, before)
	}
	if res.Duration <= 0 || res.Duration > time.Second {
		t.Errorf("Duration = %v, want above 0 and below 1s", res.Duration)
	}
}

// TestProbeUserAgent checks that the configured User-Agent is sent.
func TestProbeUserAgent(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.UserAgent()
	}))
	defer srv.Close()
	prober := NewHTTPProber(HTTPProberOptions{UserAgent: "apiwatch/test"})

	res := prober.Probe(context.Background(), loadTarget(t, "url: "+srv.URL+"/"))

	checkResult(t, res, true, ReasonNone, "")
	if ua := <-got; ua != "apiwatch/test" {
		t.Errorf("User-Agent = %q, want %q", ua, "apiwatch/test")
	}
}
