package collector

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestProbeNewConnectionPerProbe checks that a server which stops accepting
// connections but keeps serving open ones is seen as down at once, because
// every probe dials anew.
func TestProbeNewConnectionPerProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	var accepted, requests atomic.Int32
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if requests.Add(1) == 2 {
				// Stop accepting, while this and any other open
				// connection go on being served.
				ln.Close()
			}
		}),
		ConnState: func(_ net.Conn, state http.ConnState) {
			if state == http.StateNew {
				accepted.Add(1)
			}
		},
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	defer func() {
		srv.Close()
		<-done
	}()
	prober := NewHTTPProber(HTTPProberOptions{})
	target := loadTarget(t, "url: http://"+addr+"/")

	for i := range 2 {
		res := prober.Probe(context.Background(), target)
		checkResult(t, res, true, ReasonNone, "")
		if got := accepted.Load(); got != int32(i+1) {
			t.Errorf("after probe %d the server accepted %d connections, want %d", i+1, got, i+1)
		}
	}
	res := prober.Probe(context.Background(), target)

	checkResult(t, res, false, ReasonConnect, "connecting to "+addr+": connection refused")
	if got := requests.Load(); got != 2 {
		t.Errorf("server handled %d requests, want 2", got)
	}
}

// TestProbeTLSCertificateChange checks that a certificate which expires
// between probes is seen at once: every probe runs a full handshake, even
// when the caller's TLS config carries a session cache that would resume
// the earlier session.
func TestProbeTLSCertificateChange(t *testing.T) {
	ca := newTestCA(t)
	now := time.Now()
	valid := ca.issue(t, now.Add(-time.Hour), now.Add(time.Hour))
	expired := ca.issue(t, now.Add(-2*time.Hour), now.Add(-time.Hour))
	var handshakes atomic.Int32
	url := startTLSServer(t, &tls.Config{
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			if handshakes.Add(1) <= 2 {
				return &valid, nil
			}
			return &expired, nil
		},
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	prober := NewHTTPProber(HTTPProberOptions{TLSConfig: &tls.Config{
		RootCAs:            ca.pool,
		ClientSessionCache: tls.NewLRUClientSessionCache(4),
	}})
	target := loadTarget(t, "url: "+url+"/")

	for i := range 2 {
		res := prober.Probe(context.Background(), target)
		checkResult(t, res, true, ReasonNone, "")
		if res.Phases[PhaseTLS] <= 0 {
			t.Errorf("probe %d: TLS phase = %v, want above 0", i+1, res.Phases[PhaseTLS])
		}
	}
	res := prober.Probe(context.Background(), target)

	if res.Success || res.Reason != ReasonTLS {
		t.Errorf("Success, Reason = %v, %q (%s), want false, tls", res.Success, res.Reason, res.Message)
	}
	const prefix = "TLS handshake: tls: failed to verify certificate: x509: certificate has expired or is not yet valid: "
	if !strings.HasPrefix(res.Message, prefix) {
		t.Errorf("Message = %q, want prefix %q", res.Message, prefix)
	}
	if got := handshakes.Load(); got != 3 {
		t.Errorf("server saw %d full handshakes, want 3", got)
	}
}

// listenOnBothLoopbacks starts srv on 127.0.0.1:P for a port P that is also
// free on [::1], and returns P.
func listenOnBothLoopbacks(t *testing.T, srv *httptest.Server) int {
	t.Helper()
	for range 10 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		probe6, err := net.Listen("tcp6", "[::1]:"+strconv.Itoa(port))
		if err != nil {
			ln.Close()
			continue
		}
		probe6.Close()
		srv.Listener.Close()
		srv.Listener = ln
		srv.Start()
		return port
	}
	t.Fatal("found no port free on both 127.0.0.1 and ::1")
	return 0
}

// blackholeIPv6 makes [::1]:port drop new SYNs: a listener with a backlog of
// 0 whose accept queue is filled with connections that are never accepted.
// It reports false if the kernel keeps responding to SYNs anyway.
func blackholeIPv6(t *testing.T, port int) bool {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet6{Port: port, Addr: [16]byte{15: 1}}); err != nil {
		t.Fatalf("binding [::1]:%d: %v", port, err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("[::1]:%d", port)
	for range 8 {
		c, err := net.DialTimeout("tcp6", addr, 200*time.Millisecond)
		if err != nil {
			// This dial's SYN went unanswered: the queue is full.
			return true
		}
		t.Cleanup(func() { c.Close() })
	}
	return false
}

// TestProbeIPv6Fallback checks that a name with an IPv6 and an IPv4 address
// is reached over IPv4 when IPv6 fails, quickly whether the IPv6 connection
// is refused or its SYNs are dropped.
func TestProbeIPv6Fallback(t *testing.T) {
	resolver := startDNS(t, map[string][]string{"dual.test": {"::1", "127.0.0.1"}})
	prober := NewHTTPProber(HTTPProberOptions{Resolver: resolver})

	tests := []struct {
		name       string
		blackhole  bool
		minConnect time.Duration
		maxConnect time.Duration
	}{
		{
			// The dialer starts the IPv4 attempt as soon as IPv6 fails.
			name:       "IPv6 refused",
			maxConnect: 200 * time.Millisecond,
		},
		{
			// The dialer starts the IPv4 attempt after its fallback delay,
			// 300ms in Go 1.26, while the IPv6 attempt hangs.
			name:       "IPv6 blackholed",
			blackhole:  true,
			minConnect: 250 * time.Millisecond,
			maxConnect: time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var requests atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
			}))
			defer srv.Close()
			port := listenOnBothLoopbacks(t, srv)
			if tt.blackhole && !blackholeIPv6(t, port) {
				t.Skip("cannot make [::1] drop SYNs here: the kernel completes handshakes past a full accept queue")
			}

			res := prober.Probe(context.Background(), loadTarget(t, "url: http://dual.test:"+strconv.Itoa(port)+"/\ntimeout: 5s"))

			checkResult(t, res, true, ReasonNone, "")
			if res.IPVersion != 4 {
				t.Errorf("IPVersion = %d, want 4", res.IPVersion)
			}
			if c := res.Phases[PhaseConnect]; c < tt.minConnect || c > tt.maxConnect {
				t.Errorf("connect phase = %v, want between %v and %v", c, tt.minConnect, tt.maxConnect)
			}
			if res.Duration > tt.maxConnect+200*time.Millisecond {
				t.Errorf("Duration = %v, want below %v", res.Duration, tt.maxConnect+200*time.Millisecond)
			}
			if got := requests.Load(); got != 1 {
				t.Errorf("IPv4 server handled %d requests, want 1", got)
			}
		})
	}
}

// TestProbeIgnoresEnvironmentProxy checks that proxy variables do not
// divert probes. The target is named through the test resolver because Go
// never proxies requests to loopback addresses.
func TestProbeIgnoresEnvironmentProxy(t *testing.T) {
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
	}))
	defer proxy.Close()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer target.Close()
	for _, name := range []string{"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"} {
		t.Setenv(name, proxy.URL)
	}
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	_, port, _ := net.SplitHostPort(target.Listener.Addr().String())
	resolver := startDNS(t, map[string][]string{"api.test": {"127.0.0.1"}})
	prober := NewHTTPProber(HTTPProberOptions{Resolver: resolver})

	res := prober.Probe(context.Background(), loadTarget(t, "url: http://api.test:"+port+"/"))

	checkResult(t, res, false, ReasonStatus, "status 503, expected 2xx")
	if got := proxied.Load(); got != 0 {
		t.Errorf("proxy received %d requests, want 0", got)
	}
}

// TestProbeUsesHTTP1 checks that probes speak HTTP/1.1 even to a server
// that offers HTTP/2 through ALPN.
func TestProbeUsesHTTP1(t *testing.T) {
	protos := make(chan string, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos <- r.Proto
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	prober := NewHTTPProber(HTTPProberOptions{TLSConfig: &tls.Config{RootCAs: roots}})

	res := prober.Probe(context.Background(), loadTarget(t, "url: "+srv.URL+"/"))

	checkResult(t, res, true, ReasonNone, "")
	if proto := <-protos; proto != "HTTP/1.1" {
		t.Errorf("server saw %s, want HTTP/1.1", proto)
	}
}
