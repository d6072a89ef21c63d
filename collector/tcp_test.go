package collector

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTCPServer listens on address, a loopback host with port 0, and runs
// handle on each accepted connection in its own goroutine. With tlsConfig
// the connections are TLS, and the handshake runs on the first read or
// write. Cleanup closes the listener and every connection and waits for the
// handlers to return. It returns the listener's address.
func startTCPServer(t *testing.T, address string, tlsConfig *tls.Config, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", address)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		conns  = map[net.Conn]bool{}
		closed bool
		wg     sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if tlsConfig != nil {
				c = tls.Server(c, tlsConfig)
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// Connection handlers for startTCPServer.

// closeAtOnce closes the connection without sending anything.
func closeAtOnce(net.Conn) {}

// drain reads until the client closes the connection, and sends nothing.
func drain(c net.Conn) { io.Copy(io.Discard, c) }

// answerPing reads one line and replies "+PONG\r\n" to "PING", Redis style,
// and "-ERR unknown command\r\n" to anything else. Then it closes the
// connection.
func answerPing(c net.Conn) {
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return
	}
	if line == "PING\r\n" {
		io.WriteString(c, "+PONG\r\n")
	} else {
		io.WriteString(c, "-ERR unknown command\r\n")
	}
}

// send returns a handler that writes data and then drains.
func send(data string) func(net.Conn) {
	return func(c net.Conn) {
		io.WriteString(c, data)
		drain(c)
	}
}

// resetAfterLine reads one line and then closes the connection with a TCP
// RST instead of a FIN.
func resetAfterLine(c net.Conn) {
	bufio.NewReader(c).ReadString('\n')
	c.(*net.TCPConn).SetLinger(0)
}

// loadTCPTarget loads an endpoint with url tcp://addr and the further YAML
// lines of endpoint.
func loadTCPTarget(t *testing.T, addr, endpoint string) *Target {
	t.Helper()
	return loadTarget(t, "url: tcp://"+addr+"\n"+endpoint)
}

// writeCAFile writes ca's certificate as PEM to a temporary file and
// returns its path.
func writeCAFile(t *testing.T, ca *testCA) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTCPProbe(t *testing.T) {
	const pingPong = "tcp:\n  send: \"PING\\r\\n\"\n  expect: '^\\+PONG\\r\\n'\n"
	const expectPong = "timeout: 300ms\ntcp:\n  expect: '^\\+PONG'\n"
	tests := []struct {
		name     string
		handle   func(net.Conn) // nil: nothing listens
		endpoint string
		success  bool
		reason   Reason
		// message is the expected message, with {addr} for the server's
		// address.
		message       string
		bodySize      int64
		bodyTruncated bool
	}{
		{name: "connect only", handle: closeAtOnce, success: true},
		{name: "send only", handle: drain, endpoint: "tcp: {send: \"QUIT\\r\\n\"}", success: true},
		{name: "ping answered", handle: answerPing, endpoint: pingPong, success: true, bodySize: 7},
		{name: "banner matches", handle: send("220 mail.example ESMTP\r\n"),
			endpoint: "tcp: {expect: '^220 '}", success: true, bodySize: 24},
		{
			name: "expect mismatch", handle: answerPing, endpoint: "tcp:\n  send: \"HELLO\\r\\n\"\n  expect: '^\\+PONG'",
			reason:   ReasonBody,
			message:  `the server closed the connection without a match of tcp.expect "^\\+PONG"; received 22 bytes: "-ERR unknown command\r\n"`,
			bodySize: 22,
		},
		{
			name: "server closes at once", handle: closeAtOnce, endpoint: expectPong,
			reason:  ReasonBody,
			message: `the server closed the connection without a match of tcp.expect "^\\+PONG"; received nothing`,
		},
		{
			name: "server never answers", handle: drain, endpoint: expectPong,
			reason:  ReasonTimeout,
			message: `timed out after 300ms while waiting for a match of tcp.expect "^\\+PONG"; received nothing`,
		},
		{
			name: "partial answer then silence", handle: send("+PON"), endpoint: expectPong,
			reason:   ReasonTimeout,
			message:  `timed out after 300ms while waiting for a match of tcp.expect "^\\+PONG"; received 4 bytes: "+PON"`,
			bodySize: 4,
		},
		{
			name: "body_size_limit without match", handle: send(strings.Repeat("x", 100)),
			endpoint: "body_size_limit: 64\ntcp: {expect: 'PONG'}",
			reason:   ReasonBody,
			message: `no match of tcp.expect "PONG" in the first 64B (body_size_limit); received 64 bytes, starting "` +
				strings.Repeat("x", maxSnippetLen) + `"`,
			bodySize: 64, bodyTruncated: true,
		},
		{
			name: "match at body_size_limit", handle: send(strings.Repeat("x", 60) + "PONG and more"),
			endpoint: "body_size_limit: 64\ntcp: {expect: 'PONG'}",
			success:  true, bodySize: 64,
		},
		{
			name: "connection reset", handle: resetAfterLine, endpoint: "tcp:\n  send: \"PING\\r\\n\"\n  expect: '^\\+PONG'",
			reason:  ReasonBody,
			message: `waiting for a match of tcp.expect "^\\+PONG": connection reset by peer; received nothing`,
		},
		{
			name: "port refused", endpoint: expectPong,
			reason:  ReasonConnect,
			message: "connecting to {addr}: connection refused",
		},
	}
	prober := NewTCPProber(TCPProberOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var addr string
			if tt.handle == nil {
				addr = unusedPort(t)
			} else {
				addr = startTCPServer(t, "127.0.0.1:0", nil, tt.handle)
			}
			res := prober.Probe(context.Background(), loadTCPTarget(t, addr, tt.endpoint))

			checkResult(t, res, tt.success, tt.reason, strings.ReplaceAll(tt.message, "{addr}", addr))
			if res.BodySize != tt.bodySize {
				t.Errorf("BodySize = %d, want %d", res.BodySize, tt.bodySize)
			}
			if res.BodyTruncated != tt.bodyTruncated {
				t.Errorf("BodyTruncated = %v, want %v", res.BodyTruncated, tt.bodyTruncated)
			}
			if res.StatusCode != 0 {
				t.Errorf("StatusCode = %d, want 0", res.StatusCode)
			}
			wantIP := 4
			if tt.handle == nil {
				wantIP = 0
			}
			if res.IPVersion != wantIP {
				t.Errorf("IPVersion = %d, want %d", res.IPVersion, wantIP)
			}
			if !res.TLSCertExpiry.IsZero() {
				t.Errorf("TLSCertExpiry = %v without TLS, want zero", res.TLSCertExpiry)
			}
		})
	}
}

// TestTCPProbeSendsData checks that tcp.send reaches the server as
// written, with no expect to wait for.
func TestTCPProbeSendsData(t *testing.T) {
	got := make(chan string, 1)
	addr := startTCPServer(t, "127.0.0.1:0", nil, func(c net.Conn) {
		data, _ := io.ReadAll(c)
		got <- string(data)
	})
	res := NewTCPProber(TCPProberOptions{}).Probe(context.Background(),
		loadTCPTarget(t, addr, "tcp: {send: \"QUIT\\r\\n\"}"))

	checkResult(t, res, true, ReasonNone, "")
	select {
	case data := <-got:
		if data != "QUIT\r\n" {
			t.Errorf("server received %q, want %q", data, "QUIT\r\n")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server saw no end of the connection: the probe did not close it")
	}
}

func TestTCPProbeDNS(t *testing.T) {
	addr := startTCPServer(t, "127.0.0.1:0", nil, answerPing)
	_, port, _ := net.SplitHostPort(addr)
	resolver := startDNS(t, map[string][]string{"ping.test": {"127.0.0.1"}, "slow.test": {}})
	prober := NewTCPProber(TCPProberOptions{Resolver: resolver})
	const pingPong = "timeout: 300ms\ntcp:\n  send: \"PING\\r\\n\"\n  expect: '^\\+PONG\\r\\n'\n"
	tests := []struct {
		host    string
		success bool
		reason  Reason
		message string
	}{
		{host: "ping.test", success: true},
		{host: "missing.test", reason: ReasonDNS, message: "resolving missing.test: no such host"},
		{host: "slow.test", reason: ReasonTimeout, message: "timed out after 300ms while resolving the host"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			res := prober.Probe(context.Background(), loadTCPTarget(t, net.JoinHostPort(tt.host, port), pingPong))

			checkResult(t, res, tt.success, tt.reason, tt.message)
			if tt.success && res.Phases[PhaseResolve] <= 0 {
				t.Errorf("resolve phase %v, want > 0", res.Phases[PhaseResolve])
			}
			// A lookup that timed out took all of the probe but the set-up
			// before it.
			if gap := res.Duration - res.Phases[PhaseResolve]; tt.reason == ReasonTimeout && gap > 20*time.Millisecond {
				t.Errorf("resolve phase %v of a lookup that timed out, duration %v: want at most 20ms apart",
					res.Phases[PhaseResolve], res.Duration)
			}
		})
	}
}

// TestTCPProbeIPProtocol checks that ip_protocol limits the address family
// that tcp:// dials.
func TestTCPProbeIPProtocol(t *testing.T) {
	addr6 := startTCPServer(t, "[::1]:0", nil, closeAtOnce)
	tests := []struct {
		name     string
		endpoint string
		success  bool
		reason   Reason
		message  string
		ip       int
	}{
		{name: "any", endpoint: "", success: true, ip: 6},
		{name: "ip6", endpoint: "ip_protocol: ip6", success: true, ip: 6},
		{name: "ip4 rejects an IPv6 address", endpoint: "ip_protocol: ip4",
			reason: ReasonDNS, message: "resolving ::1: no IPv4 address (ip_protocol: ip4)"},
	}
	prober := NewTCPProber(TCPProberOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := prober.Probe(context.Background(), loadTCPTarget(t, addr6, tt.endpoint))

			checkResult(t, res, tt.success, tt.reason, tt.message)
			if res.IPVersion != tt.ip {
				t.Errorf("IPVersion = %d, want %d", res.IPVersion, tt.ip)
			}
		})
	}
}

func TestTCPProbeTLS(t *testing.T) {
	ca := newTestCA(t)
	notAfter := time.Now().Add(30 * time.Minute).Truncate(time.Second)
	cert := ca.issue(t, time.Now().Add(-time.Hour), notAfter)
	caFile := writeCAFile(t, ca)

	// The server records the server name (SNI) of each handshake.
	serverNames := make(chan string, 1)
	serverTLS := &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			select {
			case serverNames <- hello.ServerName:
			default:
			}
			return nil, nil
		},
	}
	tlsAddr := startTCPServer(t, "127.0.0.1:0", serverTLS, answerPing)
	_, tlsPort, _ := net.SplitHostPort(tlsAddr)
	plainAddr := startTCPServer(t, "127.0.0.1:0", nil, send("220 mail.example ESMTP\r\n"))
	silentAddr := startTCPServer(t, "127.0.0.1:0", nil, drain)
	resolver := startDNS(t, map[string][]string{"ping.test": {"127.0.0.1"}})

	const pingPong = "  tls: true\n  send: \"PING\\r\\n\"\n  expect: '^\\+PONG\\r\\n'\n"
	tests := []struct {
		name     string
		addr     string
		rootCAs  bool // the prober's base TLS config trusts ca
		endpoint string
		success  bool
		reason   Reason
		message  string
		sni      string // the server name the server saw; "" for none
	}{
		{
			name: "trusted by base config", addr: tlsAddr, rootCAs: true,
			endpoint: "tcp:\n" + pingPong, success: true, sni: "",
		},
		{
			name: "trusted by ca_file", addr: tlsAddr,
			endpoint: "tls_config: {ca_file: " + caFile + "}\ntcp:\n" + pingPong, success: true,
		},
		{
			name: "untrusted certificate", addr: tlsAddr,
			endpoint: "tcp:\n" + pingPong,
			reason:   ReasonTLS,
			message:  "TLS handshake: tls: failed to verify certificate: x509: certificate signed by unknown authority",
		},
		{
			name: "server name from URL host", addr: "ping.test:" + tlsPort,
			endpoint: "tls_config: {insecure_skip_verify: true}\ntcp:\n" + pingPong,
			success:  true, sni: "ping.test",
		},
		{
			name: "server name from tls_config", addr: "ping.test:" + tlsPort,
			endpoint: "tls_config: {ca_file: " + caFile + ", server_name: localhost}\ntcp:\n" + pingPong,
			success:  true, sni: "localhost",
		},
		{
			name: "URL host not in certificate", addr: "ping.test:" + tlsPort, rootCAs: true,
			endpoint: "tcp:\n" + pingPong, sni: "ping.test",
			reason:  ReasonTLS,
			message: "TLS handshake: tls: failed to verify certificate: x509: certificate is valid for localhost, not ping.test",
		},
		{
			name: "server without TLS", addr: plainAddr, rootCAs: true,
			endpoint: "tcp: {tls: true}",
			reason:   ReasonTLS,
			message:  "TLS handshake: tls: first record does not look like a TLS handshake",
		},
		{
			name: "server silent in handshake", addr: silentAddr, rootCAs: true,
			endpoint: "timeout: 300ms\ntcp: {tls: true}",
			reason:   ReasonTimeout,
			message:  "timed out after 300ms while in the TLS handshake",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := TCPProberOptions{Resolver: resolver}
			if tt.rootCAs {
				opts.TLSConfig = &tls.Config{RootCAs: ca.pool}
			}
			for len(serverNames) > 0 {
				<-serverNames
			}
			res := NewTCPProber(opts).Probe(context.Background(), loadTCPTarget(t, tt.addr, tt.endpoint))

			checkResult(t, res, tt.success, tt.reason, tt.message)
			if tt.addr == plainAddr || tt.addr == silentAddr {
				return
			}
			select {
			case sni := <-serverNames:
				if sni != tt.sni {
					t.Errorf("server name %q, want %q", sni, tt.sni)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the server saw no TLS handshake")
			}
			if !tt.success {
				return
			}
			if !res.TLSCertExpiry.Equal(notAfter) {
				t.Errorf("TLSCertExpiry = %v, want %v", res.TLSCertExpiry, notAfter)
			}
			if res.TLSCertSubject != "CN=localhost" {
				t.Errorf("TLSCertSubject = %q, want %q", res.TLSCertSubject, "CN=localhost")
			}
			if res.BodySize != 7 {
				t.Errorf("BodySize = %d, want 7", res.BodySize)
			}
			if res.Phases[PhaseTLS] <= 0 {
				t.Errorf("tls phase %v, want > 0", res.Phases[PhaseTLS])
			}
		})
	}
}

// TestTCPProbeTLSConfigFileGone checks that a CA file removed after the
// configuration was loaded fails the probe as a TLS problem, before it
// connects.
func TestTCPProbeTLSConfigFileGone(t *testing.T) {
	caFile := writeCAFile(t, newTestCA(t))
	accepted := make(chan struct{}, 1)
	addr := startTCPServer(t, "127.0.0.1:0", nil, func(net.Conn) { accepted <- struct{}{} })
	target := loadTCPTarget(t, addr, "tls_config: {ca_file: "+caFile+"}\ntcp: {tls: true}")
	if err := os.Remove(caFile); err != nil {
		t.Fatal(err)
	}

	res := NewTCPProber(TCPProberOptions{}).Probe(context.Background(), target)

	checkResult(t, res, false, ReasonTLS,
		fmt.Sprintf("tls_config: unable to read CA cert: unable to read file %s: open %s: no such file or directory", caFile, caFile))
	if len(accepted) != 0 {
		t.Error("the probe connected, want it to fail first")
	}
}

// TestTCPProbePhases checks that the phases time the wait for the server's
// first byte (processing) apart from the wait for the rest of the match
// (transfer), and that they add up to the duration.
func TestTCPProbePhases(t *testing.T) {
	const wait = 100 * time.Millisecond
	// The server waits after it got tcp.send, which the probe writes once
	// the processing phase has begun, so that phase lasts at least wait.
	addr := startTCPServer(t, "127.0.0.1:0", nil, func(c net.Conn) {
		bufio.NewReader(c).ReadString('\n')
		time.Sleep(wait)
		io.WriteString(c, "+PO")
		time.Sleep(wait)
		io.WriteString(c, "NG\r\n")
		drain(c)
	})
	res := NewTCPProber(TCPProberOptions{}).Probe(context.Background(),
		loadTCPTarget(t, addr, "tcp:\n  send: \"PING\\r\\n\"\n  expect: '^\\+PONG\\r\\n'"))

	checkResult(t, res, true, ReasonNone, "")
	p := res.Phases
	if p[PhaseResolve] != 0 {
		t.Errorf("resolve phase %v for an IP address, want 0", p[PhaseResolve])
	}
	if p[PhaseConnect] <= 0 {
		t.Errorf("connect phase %v, want > 0", p[PhaseConnect])
	}
	if p[PhaseTLS] != 0 {
		t.Errorf("tls phase %v without TLS, want 0", p[PhaseTLS])
	}
	if p[PhaseProcessing] < wait {
		t.Errorf("processing phase %v, want >= %v", p[PhaseProcessing], wait)
	}
	// The first byte reaches the probe a little after the server sent it,
	// so the transfer phase may be that much shorter than the server's wait.
	if p[PhaseTransfer] < wait-10*time.Millisecond {
		t.Errorf("transfer phase %v, want >= %v", p[PhaseTransfer], wait-10*time.Millisecond)
	}
	var sum time.Duration
	for _, d := range p {
		sum += d
	}
	if gap := res.Duration - sum; gap < 0 || gap > time.Millisecond {
		t.Errorf("phases add up to %v, duration %v: want at most 1ms apart", sum, res.Duration)
	}
}

// TestTCPProbeClosesConnections checks that every probe, passed, failed or
// timed out, closes its connection, so that the server sees the end of
// each and the prober keeps no file descriptors.
func TestTCPProbeClosesConnections(t *testing.T) {
	const probes = 5
	closed := make(chan struct{}, 3*probes)
	// The server answers one line and then waits for the client to close.
	addr := startTCPServer(t, "127.0.0.1:0", nil, func(c net.Conn) {
		answerPing(c)
		drain(c)
		closed <- struct{}{}
	})
	prober := NewTCPProber(TCPProberOptions{})
	endpoints := map[string]string{
		"ping answered":    "tcp:\n  send: \"PING\\r\\n\"\n  expect: '^\\+PONG'",
		"answer mismatch":  "timeout: 100ms\ntcp:\n  send: \"HELLO\\r\\n\"\n  expect: '^\\+PONG'",
		"no answer at all": "timeout: 100ms\ntcp: {expect: '^\\+PONG'}",
	}
	before := openFDs(t)
	for name, endpoint := range endpoints {
		target := loadTCPTarget(t, addr, endpoint)
		for range probes {
			res := prober.Probe(context.Background(), target)
			if res.Success != (name == "ping answered") {
				t.Fatalf("%s: Success = %v (%s: %s)", name, res.Success, res.Reason, res.Message)
			}
		}
	}
	timeout := time.After(5 * time.Second)
	for i := range len(endpoints) * probes {
		select {
		case <-closed:
		case <-timeout:
			t.Fatalf("the server saw %d of %d connections end", i, len(endpoints)*probes)
		}
	}
	if !eventually(2*time.Second, func() bool { return openFDs(t) <= before }) {
		t.Errorf("%d file descriptors open after the probes, %d before", openFDs(t), before)
	}
}

// TestTCPProbeCancel checks that a probe returns as soon as its context is
// cancelled, well before its timeout.
func TestTCPProbeCancel(t *testing.T) {
	accepted := make(chan struct{})
	addr := startTCPServer(t, "127.0.0.1:0", nil, func(c net.Conn) {
		close(accepted)
		drain(c)
	})
	target := loadTCPTarget(t, addr, "timeout: 20s\ntcp: {expect: 'never'}")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-accepted
		cancel()
	}()
	start := time.Now()

	res := NewTCPProber(TCPProberOptions{}).Probe(ctx, target)

	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Probe returned %v after the start, want soon after the cancel", took)
	}
	if res.Success {
		t.Error("Success = true for a cancelled probe")
	}
}

// TestTCPProbeDegraded checks that a TCP probe that passes but is slow or
// sees a certificate close to expiry is marked degraded.
func TestTCPProbeDegraded(t *testing.T) {
	ca := newTestCA(t)
	cert := ca.issue(t, time.Now().Add(-time.Hour), time.Now().Add(30*time.Minute))
	const wait = 100 * time.Millisecond
	slow := startTCPServer(t, "127.0.0.1:0", nil, func(c net.Conn) {
		time.Sleep(wait)
		io.WriteString(c, "+OK\r\n")
		drain(c)
	})
	secure := startTCPServer(t, "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}}, drain)
	tests := []struct {
		name          string
		addr          string
		endpoint      string
		reason        Reason
		messagePrefix string
	}{
		{
			name: "slower than max_duration", addr: slow,
			endpoint: "tcp: {expect: '^\\+OK'}\nexpect: {max_duration: 50ms}",
			reason:   ReasonSlow, messagePrefix: "took ",
		},
		{
			name: "certificate expires soon", addr: secure,
			endpoint: "tcp: {tls: true}\nexpect: {tls_cert_min_days: 1}",
			reason:   ReasonCertExpiry, messagePrefix: `certificate "CN=localhost" `,
		},
	}
	prober := NewTCPProber(TCPProberOptions{TLSConfig: &tls.Config{RootCAs: ca.pool}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := prober.Probe(context.Background(), loadTCPTarget(t, tt.addr, tt.endpoint))

			if !res.Success || !res.Degraded {
				t.Errorf("Success = %v, Degraded = %v, want both true", res.Success, res.Degraded)
			}
			if res.Reason != tt.reason {
				t.Errorf("Reason = %q, want %q", res.Reason, tt.reason)
			}
			if !strings.HasPrefix(res.Message, tt.messagePrefix) {
				t.Errorf("Message = %q, want it to start with %q", res.Message, tt.messagePrefix)
			}
		})
	}
}
