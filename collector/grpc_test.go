package collector

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// startGRPCServer serves a gRPC server with opts on 127.0.0.1, with the
// services that register adds, and returns its address. Cleanup stops the
// server, which closes its connections and ends the calls in flight.
func startGRPCServer(t *testing.T, register func(*grpc.Server), opts ...grpc.ServerOption) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveGRPC(t, ln, register, opts...)
}

func serveGRPC(t *testing.T, ln net.Listener, register func(*grpc.Server), opts ...grpc.ServerOption) string {
	t.Helper()
	srv := grpc.NewServer(opts...)
	register(srv)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return ln.Addr().String()
}

// newHealthServer returns gRPC's health server with the whole server
// SERVING, "payments" SERVING, "ledger" NOT_SERVING and "warming" UNKNOWN.
func newHealthServer() *health.Server {
	hs := health.NewServer()
	hs.SetServingStatus("payments", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("ledger", healthpb.HealthCheckResponse_NOT_SERVING)
	hs.SetServingStatus("warming", healthpb.HealthCheckResponse_UNKNOWN)
	return hs
}

func registerHealth(hs healthpb.HealthServer) func(*grpc.Server) {
	return func(srv *grpc.Server) { healthpb.RegisterHealthServer(srv, hs) }
}

// fixedHealth returns status from every Check, or with hang set, blocks
// every Check until the call ends.
type fixedHealth struct {
	healthpb.UnimplementedHealthServer
	status healthpb.HealthCheckResponse_ServingStatus
	hang   bool
}

func (h *fixedHealth) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if h.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &healthpb.HealthCheckResponse{Status: h.status}, nil
}

func TestGRPCProbe(t *testing.T) {
	ca := newTestCA(t)
	notAfter := time.Now().Add(30 * time.Minute).Truncate(time.Second)
	cert := ca.issue(t, time.Now().Add(-time.Hour), notAfter)
	caFile := writeCAFile(t, ca)
	serverCreds := grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}}))

	plain := startGRPCServer(t, registerHealth(newHealthServer()))
	secure := startGRPCServer(t, registerHealth(newHealthServer()), serverCreds)
	_, securePort, _ := net.SplitHostPort(secure)
	bare := startGRPCServer(t, func(*grpc.Server) {})
	hanging := startGRPCServer(t, registerHealth(&fixedHealth{hang: true}))
	serviceUnknown := startGRPCServer(t,
		registerHealth(&fixedHealth{status: healthpb.HealthCheckResponse_SERVICE_UNKNOWN}))
	silent := startTCPServer(t, "127.0.0.1:0", nil, drain)
	http1 := startTCPServer(t, "127.0.0.1:0", nil, send("HTTP/1.1 400 Bad Request\r\n\r\n"))
	// A TLS server without ALPN, which a gRPC client rejects.
	noALPN := startTCPServer(t, "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}}, drain)
	refused := unusedPort(t)
	resolver := startDNS(t, map[string][]string{"health.test": {"127.0.0.1"}})

	const short = "timeout: 300ms\n"
	tests := []struct {
		name     string
		url      string
		rootCAs  bool // the prober's base TLS config trusts ca
		endpoint string
		success  bool
		reason   Reason
		message  string
		// messagePrefix, when set, replaces message by a check of the
		// message's start.
		messagePrefix string
	}{
		{name: "whole server serving", url: "grpc://" + plain, success: true},
		{name: "service serving", url: "grpc://" + plain, endpoint: "grpc: {service: payments}", success: true},
		{
			name: "service not serving", url: "grpc://" + plain, endpoint: "grpc: {service: ledger}",
			reason: ReasonStatus, message: `health status NOT_SERVING for service "ledger", expected SERVING`,
		},
		{
			name: "service status unknown", url: "grpc://" + plain, endpoint: "grpc: {service: warming}",
			reason: ReasonStatus, message: `health status UNKNOWN for service "warming", expected SERVING`,
		},
		{
			name: "service not registered", url: "grpc://" + plain, endpoint: "grpc: {service: billing}",
			reason: ReasonStatus, message: `service "billing" is unknown to the health server (NotFound), expected SERVING`,
		},
		{
			name: "status service unknown", url: "grpc://" + serviceUnknown,
			reason: ReasonStatus, message: "health status SERVICE_UNKNOWN for the whole server, expected SERVING",
		},
		{
			name: "no health service", url: "grpc://" + bare,
			reason: ReasonStatus,
			message: "the server does not implement the gRPC health checking protocol (grpc.health.v1.Health): " +
				"unknown service grpc.health.v1.Health",
		},
		{
			name: "check hangs", url: "grpc://" + hanging, endpoint: short,
			reason: ReasonTimeout, message: "timed out after 300ms while waiting for the health check response",
		},
		{
			name: "server never answers", url: "grpc://" + silent, endpoint: short,
			reason: ReasonTimeout, message: "timed out after 300ms while waiting for the health check response",
		},
		{
			name: "port refused", url: "grpc://" + refused,
			reason: ReasonConnect, message: "connecting to " + refused + ": connection refused",
		},
		{
			name: "host not found", url: "grpc://missing.test:50051",
			reason: ReasonDNS, message: "resolving missing.test: no such host",
		},
		{name: "tls serving", url: "grpcs://" + secure, rootCAs: true, success: true},
		{
			name: "tls by ca_file and server_name", url: "grpcs://health.test:" + securePort,
			endpoint: "tls_config: {ca_file: " + caFile + ", server_name: localhost}\ngrpc: {service: payments}",
			success:  true,
		},
		{
			name: "tls untrusted certificate", url: "grpcs://" + secure,
			reason:  ReasonTLS,
			message: "TLS handshake: tls: failed to verify certificate: x509: certificate signed by unknown authority",
		},
		{
			name: "tls host not in certificate", url: "grpcs://health.test:" + securePort, rootCAs: true,
			reason:  ReasonTLS,
			message: "TLS handshake: tls: failed to verify certificate: x509: certificate is valid for localhost, not health.test",
		},
		{
			name: "tls without ALPN", url: "grpcs://" + noALPN, rootCAs: true,
			reason:  ReasonTLS,
			message: "TLS handshake: the server did not select HTTP/2 by ALPN, which gRPC requires",
		},
		{
			name: "tls server silent", url: "grpcs://" + silent, rootCAs: true, endpoint: short,
			reason:  ReasonTimeout,
			message: "timed out after 300ms while in the TLS handshake",
		},
		{
			name: "tls to clear text server", url: "grpcs://" + plain, rootCAs: true,
			reason:  ReasonTLS,
			message: "TLS handshake: tls: first record does not look like a TLS handshake",
		},
		{
			// The TLS server closes the connection, with a FIN or, when
			// data it did not read is left, an RST.
			name: "clear text to tls server", url: "grpc://" + secure,
			reason:        ReasonConnect,
			messagePrefix: `gRPC connection failed: connection error: desc = "error reading server preface: `,
		},
		{
			name: "clear text to http/1 server", url: "grpc://" + http1,
			reason: ReasonConnect,
			message: `gRPC connection failed: connection error: desc = "error reading server preface: ` +
				`http2: failed reading the frame payload: http2: frame too large, ` +
				`note that the frame header looked like an HTTP/1.1 header"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := GRPCProberOptions{Resolver: resolver}
			if tt.rootCAs {
				opts.TLSConfig = &tls.Config{RootCAs: ca.pool}
			}
			res := NewGRPCProber(opts).Probe(context.Background(), loadTarget(t, "url: "+tt.url+"\n"+tt.endpoint))

			if tt.messagePrefix == "" {
				checkResult(t, res, tt.success, tt.reason, tt.message)
			} else {
				checkResult(t, res, tt.success, tt.reason, res.Message)
				if !strings.HasPrefix(res.Message, tt.messagePrefix) {
					t.Errorf("Message = %q, want it to start with %q", res.Message, tt.messagePrefix)
				}
			}
			if res.StatusCode != 0 {
				t.Errorf("StatusCode = %d, want 0", res.StatusCode)
			}
			wantIP := 4
			if tt.reason == ReasonConnect && tt.url == "grpc://"+refused || tt.reason == ReasonDNS {
				wantIP = 0
			}
			if res.IPVersion != wantIP {
				t.Errorf("IPVersion = %d, want %d", res.IPVersion, wantIP)
			}
			var wantExpiry time.Time
			if tt.success && strings.HasPrefix(tt.url, "grpcs:") {
				wantExpiry = notAfter
			}
			if !res.TLSCertExpiry.Equal(wantExpiry) {
				t.Errorf("TLSCertExpiry = %v, want %v", res.TLSCertExpiry, wantExpiry)
			}
		})
	}
}

// TestGRPCProbePhases checks that a TLS probe times the connect, TLS and
// processing phases, and that the phases add up to the duration.
func TestGRPCProbePhases(t *testing.T) {
	ca := newTestCA(t)
	cert := ca.issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	addr := startGRPCServer(t, registerHealth(newHealthServer()),
		grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	prober := NewGRPCProber(GRPCProberOptions{TLSConfig: &tls.Config{RootCAs: ca.pool}})

	res := prober.Probe(context.Background(), loadTarget(t, "url: grpcs://"+addr))

	checkResult(t, res, true, ReasonNone, "")
	p := res.Phases
	if p[PhaseResolve] != 0 {
		t.Errorf("resolve phase %v for an IP address, want 0", p[PhaseResolve])
	}
	for _, phase := range []Phase{PhaseConnect, PhaseTLS, PhaseProcessing} {
		if p[phase] <= 0 {
			t.Errorf("%s phase %v, want > 0", phase, p[phase])
		}
	}
	if p[PhaseTransfer] != 0 {
		t.Errorf("transfer phase %v, want 0", p[PhaseTransfer])
	}
	var sum time.Duration
	for _, d := range p {
		sum += d
	}
	if gap := res.Duration - sum; gap < 0 || gap > time.Millisecond {
		t.Errorf("phases add up to %v, duration %v: want at most 1ms apart", sum, res.Duration)
	}
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// TestGRPCProbeNewConnectionPerProbe checks that every probe opens its own
// connection and closes it, so that no file descriptor stays open.
func TestGRPCProbeNewConnectionPerProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingListener{Listener: ln}
	addr := serveGRPC(t, counting, registerHealth(newHealthServer()))
	prober := NewGRPCProber(GRPCProberOptions{})
	target := loadTarget(t, "url: grpc://"+addr)
	before := openFDs(t)

	const probes = 5
	for range probes {
		res := prober.Probe(context.Background(), target)
		checkResult(t, res, true, ReasonNone, "")
	}

	if got := counting.accepted.Load(); got != probes {
		t.Errorf("the server accepted %d connections for %d probes, want %d", got, probes, probes)
	}
	if !eventually(2*time.Second, func() bool { return openFDs(t) <= before }) {
		t.Errorf("%d file descriptors open after the probes, %d before", openFDs(t), before)
	}
}

// TestGRPCProbeUserAgent checks that the user agent starts with the
// prober's, and that the health check asks for the configured service.
func TestGRPCProbeUserAgent(t *testing.T) {
	type call struct{ userAgent, service string }
	calls := make(chan call, 1)
	record := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		calls <- call{userAgent: strings.Join(md.Get("user-agent"), ","), service: req.(*healthpb.HealthCheckRequest).Service}
		return handler(ctx, req)
	}
	addr := startGRPCServer(t, registerHealth(newHealthServer()), grpc.UnaryInterceptor(record))
	prober := NewGRPCProber(GRPCProberOptions{UserAgent: "apiwatch/1.2.3"})

	res := prober.Probe(context.Background(), loadTarget(t, "url: grpc://"+addr+"\ngrpc: {service: payments}"))

	checkResult(t, res, true, ReasonNone, "")
	got := <-calls
	if !strings.HasPrefix(got.userAgent, "apiwatch/1.2.3 grpc-go/") {
		t.Errorf("user-agent %q, want it to start with %q", got.userAgent, "apiwatch/1.2.3 grpc-go/")
	}
	if got.service != "payments" {
		t.Errorf("service %q, want %q", got.service, "payments")
	}
}

// TestGRPCProbeCancel checks that a probe returns as soon as its context
// is cancelled, well before its timeout.
func TestGRPCProbeCancel(t *testing.T) {
	called := make(chan struct{})
	notify := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		close(called)
		return handler(ctx, req)
	}
	addr := startGRPCServer(t, registerHealth(&fixedHealth{hang: true}), grpc.UnaryInterceptor(notify))
	target := loadTarget(t, "url: grpc://"+addr+"\ntimeout: 20s")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-called
		cancel()
	}()
	start := time.Now()

	res := NewGRPCProber(GRPCProberOptions{}).Probe(ctx, target)

	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Probe returned %v after the start, want soon after the cancel", took)
	}
	if res.Success {
		t.Error("Success = true for a cancelled probe")
	}
}

// TestGRPCProbeCertExpiry checks that a grpcs:// probe records the
// certificate's expiry and is degraded when it is within tls_cert_min_days.
func TestGRPCProbeCertExpiry(t *testing.T) {
	ca := newTestCA(t)
	notAfter := time.Now().Add(30 * time.Minute).Truncate(time.Second)
	cert := ca.issue(t, time.Now().Add(-time.Hour), notAfter)
	addr := startGRPCServer(t, registerHealth(newHealthServer()),
		grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	prober := NewGRPCProber(GRPCProberOptions{TLSConfig: &tls.Config{RootCAs: ca.pool}})

	res := prober.Probe(context.Background(), loadTarget(t, "url: grpcs://"+addr+"\nexpect: {tls_cert_min_days: 1}"))

	if !res.Success || !res.Degraded {
		t.Errorf("Success = %v, Degraded = %v, want both true", res.Success, res.Degraded)
	}
	if res.Reason != ReasonCertExpiry {
		t.Errorf("Reason = %q, want %q", res.Reason, ReasonCertExpiry)
	}
	if want := `certificate "CN=localhost" `; !strings.HasPrefix(res.Message, want) {
		t.Errorf("Message = %q, want it to start with %q", res.Message, want)
	}
	if !res.TLSCertExpiry.Equal(notAfter) || res.TLSCertSubject != "CN=localhost" {
		t.Errorf("certificate %q expiring %v, want %q expiring %v",
			res.TLSCertSubject, res.TLSCertExpiry, "CN=localhost", notAfter)
	}
}
