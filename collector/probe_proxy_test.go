package collector

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// forwardProxy is an HTTP forward proxy for tests. It maps host names that
// the probe's resolver cannot resolve to loopback addresses, and logs
// every request it receives as "METHOD HOST" such as "GET internal.only:80"
// or "CONNECT internal.only:443".
type forwardProxy struct {
	// hosts maps the host and port of each request the proxy serves to the
	// address it connects to.
	hosts map[string]string
	// auth, if set, is the Proxy-Authorization the proxy requires.
	auth string
	// refuseConnect makes the proxy reject CONNECT with 403.
	refuseConnect bool

	mu   sync.Mutex
	seen []string
	wg   sync.WaitGroup
}

func (p *forwardProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.seen = append(p.seen, r.Method+" "+r.Host)
	p.mu.Unlock()
	if p.auth != "" && r.Header.Get("Proxy-Authorization") != p.auth {
		w.WriteHeader(http.StatusProxyAuthRequired)
		return
	}
	addr, ok := p.hosts[r.Host]
	if !ok {
		http.Error(w, "unknown host", http.StatusBadGateway)
		return
	}
	if r.Method == http.MethodConnect {
		p.tunnel(w, addr)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Header.Del("Proxy-Authorization")
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		},
		DisableKeepAlives: true,
	}
	resp, err := transport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// tunnel accepts a CONNECT and copies bytes both ways between the client
// and addr.
func (p *forwardProxy) tunnel(w http.ResponseWriter, addr string) {
	if p.refuseConnect {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	upstream, err := net.Dial("tcp", addr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusOK)
	client, buffered, err := http.NewResponseController(w).Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	// The response's 200 is still in the buffer.
	buffered.Flush()
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		io.Copy(upstream, buffered)
		upstream.(*net.TCPConn).CloseWrite()
	}()
	go func() {
		defer p.wg.Done()
		io.Copy(client, upstream)
		client.Close()
		upstream.Close()
	}()
}

// take returns the requests logged so far and clears the log.
func (p *forwardProxy) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := p.seen
	p.seen = nil
	return seen
}

// startProxy serves p on 127.0.0.1 and returns its URL. Cleanup waits for
// the tunnels to close.
func startProxy(t *testing.T, p *forwardProxy) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(p)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		p.wg.Wait()
	})
	return srv.URL
}

// TestProbeThroughProxy checks proxy_url, no_proxy and
// proxy_from_environment against a forward proxy that alone can resolve
// the name internal.only. The probe's resolver does not, so a probe that tried to
// resolve it would fail with reason dns.
func TestProbeThroughProxy(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("via " + r.Host))
	}))
	defer target.Close()
	ca := newTestCA(t)
	now := time.Now()
	cert := ca.issue(t, now.Add(-time.Hour), now.Add(time.Hour))
	secure := startTLSServer(t, &tls.Config{Certificates: []tls.Certificate{cert}},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secure " + r.Host)) }))
	secureAddr := strings.TrimPrefix(secure, "https://")
	caFile := writeTempFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})))
	targetAddr := target.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(targetAddr)
	_, securePort, _ := net.SplitHostPort(secureAddr)

	proxy := &forwardProxy{hosts: map[string]string{
		"internal.only:" + port:       targetAddr,
		"internal.only:" + securePort: secureAddr,
	}}
	proxyURL := startProxy(t, proxy)
	authProxy := &forwardProxy{hosts: proxy.hosts, auth: "Basic dTpw"}
	authProxyURL := startProxy(t, authProxy)
	refusing := &forwardProxy{hosts: proxy.hosts, refuseConnect: true}
	refusingURL := startProxy(t, refusing)
	down := unusedPort(t)
	resolver, queries := startLoggingDNS(t, map[string][]string{"direct.test": {"127.0.0.1"}})

	internal := "http://internal.only:" + port + "/"
	internalTLS := "https://internal.only:" + securePort + "/"
	tlsSettings := "\ntls_config:\n  ca_file: " + caFile + "\n  server_name: localhost"
	tests := []struct {
		name     string
		env      map[string]string
		endpoint string
		reason   Reason
		message  string
		// proxy is what the proxy must have logged.
		proxy []string
		// queries are the DNS questions the probe must have asked.
		queries []string
	}{
		{
			name:     "proxy_url over HTTP",
			endpoint: "url: " + internal + "\nproxy_url: " + proxyURL + "\nexpect:\n  body_contains: via internal.only",
			proxy:    []string{"GET internal.only:" + port},
		},
		{
			name:     "proxy_url with CONNECT for HTTPS",
			endpoint: "url: " + internalTLS + "\nproxy_url: " + proxyURL + tlsSettings + "\nexpect:\n  body_contains: secure internal.only",
			proxy:    []string{"CONNECT internal.only:" + securePort},
		},
		{
			name:     "proxy credentials from the proxy URL",
			endpoint: "url: " + internal + "\nproxy_url: http://u:p@" + strings.TrimPrefix(authProxyURL, "http://"),
		},
		{
			name:     "no_proxy bypasses proxy_url",
			endpoint: "url: http://direct.test:" + port + "/\nproxy_url: " + proxyURL + "\nno_proxy: direct.test",
			queries:  []string{"direct.test A", "direct.test AAAA"},
		},
		{
			name:     "no_proxy leaves other hosts proxied",
			endpoint: "url: " + internal + "\nproxy_url: " + proxyURL + "\nno_proxy: direct.test",
			proxy:    []string{"GET internal.only:" + port},
		},
		{
			name:     "proxy_from_environment uses HTTP_PROXY",
			env:      map[string]string{"HTTP_PROXY": proxyURL},
			endpoint: "url: " + internal + "\nproxy_from_environment: true",
			proxy:    []string{"GET internal.only:" + port},
		},
		{
			name:     "proxy_from_environment uses HTTPS_PROXY",
			env:      map[string]string{"HTTPS_PROXY": proxyURL},
			endpoint: "url: " + internalTLS + "\nproxy_from_environment: true" + tlsSettings,
			proxy:    []string{"CONNECT internal.only:" + securePort},
		},
		{
			name:     "proxy_from_environment honours NO_PROXY",
			env:      map[string]string{"HTTP_PROXY": proxyURL, "NO_PROXY": "internal.only"},
			endpoint: "url: " + internal + "\nproxy_from_environment: true",
			reason:   ReasonDNS, message: "resolving internal.only: no such host",
			queries: []string{"internal.only A", "internal.only AAAA"},
		},
		{
			name:     "environment ignored by default",
			env:      map[string]string{"HTTP_PROXY": proxyURL},
			endpoint: "url: " + internal,
			reason:   ReasonDNS, message: "resolving internal.only: no such host",
			queries: []string{"internal.only A", "internal.only AAAA"},
		},
		{
			name:     "proxy refuses CONNECT",
			endpoint: "url: " + internalTLS + "\nproxy_url: " + refusingURL + tlsSettings,
			reason:   ReasonConnect, message: "the proxy refused the CONNECT tunnel: 403 Forbidden",
		},
		{
			name:     "proxy down",
			endpoint: "url: " + internal + "\nproxy_url: http://" + down,
			reason:   ReasonConnect, message: "proxy: connecting to " + down + ": connection refused",
		},
		{
			name:     "proxy name unknown",
			endpoint: "url: " + internal + "\nproxy_url: http://proxy.test:3128",
			reason:   ReasonDNS, message: "resolving the proxy proxy.test: no such host",
			queries: []string{"proxy.test A", "proxy.test AAAA"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, name := range []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"} {
				t.Setenv(name, tt.env[strings.ToUpper(name)])
			}
			// A prober per case, because a transport reads the environment
			// when it is built.
			prober := NewHTTPProber(HTTPProberOptions{Resolver: resolver})

			res := prober.Probe(context.Background(), loadTarget(t, tt.endpoint+"\ntimeout: 5s"))

			checkResult(t, res, tt.reason == ReasonNone, tt.reason, tt.message)
			if got := proxy.take(); !slices.Equal(got, tt.proxy) {
				t.Errorf("proxy logged %q, want %q", got, tt.proxy)
			}
			if got := queries.take("internal.only", "direct.test", "proxy.test"); !slices.Equal(got, tt.queries) {
				t.Errorf("DNS questions = %q, want %q", got, tt.queries)
			}
		})
	}
	if got := authProxy.take(); len(got) != 1 {
		t.Errorf("authenticating proxy logged %q, want one request", got)
	}
	if got := refusing.take(); len(got) != 1 || !strings.HasPrefix(got[0], "CONNECT ") {
		t.Errorf("refusing proxy logged %q, want one CONNECT", got)
	}
}
