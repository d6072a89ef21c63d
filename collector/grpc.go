package collector

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/apiwatch/apiwatch/config"
)

// stageHealthCheck names, in timeout messages, the wait after the
// connection is ready: the HTTP/2 set-up and the health check call.
const stageHealthCheck = "waiting for the health check response"

// GRPCProber probes grpc:// (clear text) and grpcs:// (TLS) endpoints with
// the gRPC health checking protocol: it calls grpc.health.v1.Health/Check
// for grpc.service and expects SERVING. Every probe creates a new client,
// and so a new connection, and closes it when it ends.
type GRPCProber struct {
	resolver  *net.Resolver
	tlsConfig *tls.Config
	userAgent string
}

// GRPCProberOptions configures a GRPCProber.
type GRPCProberOptions struct {
	// Resolver resolves host names. Nil means the system resolver.
	Resolver *net.Resolver
	// TLSConfig is the base TLS client configuration of grpcs:// endpoints,
	// and the place for a custom CA pool (RootCAs). An endpoint's tls_config
	// applies over it. Nil means the system roots.
	TLSConfig *tls.Config
	// UserAgent starts the user-agent header, before gRPC's own
	// "grpc-go/VERSION". Empty sends gRPC's alone.
	UserAgent string
}

// NewGRPCProber returns a prober. Proxy environment variables are ignored,
// because a custom dialer turns off gRPC's proxy support.
func NewGRPCProber(opts GRPCProberOptions) *GRPCProber {
	return &GRPCProber{resolver: opts.Resolver, tlsConfig: opts.TLSConfig.Clone(), userAgent: opts.UserAgent}
}

// Probe runs one check of t. The timeout covers the whole probe: DNS,
// connect, TLS, the HTTP/2 set-up and the call.
func (p *GRPCProber) Probe(ctx context.Context, t *Target) Result {
	e := t.Endpoint
	res := Result{Start: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(e.Timeout))
	defer cancel()
	ct := newConnTrace(res.Start)

	resp, err := p.check(ctx, e, ct)
	if state := ct.tlsState(); state != nil {
		recordTLS(state, &res)
	}
	judgeHealth(ctx, e, ct, resp, err, &res)

	end := time.Now()
	res.Duration = end.Sub(res.Start)
	res.Phases, res.IPVersion = ct.result(end)
	res.Success = res.Reason == ReasonNone
	if res.Success {
		judgeDegraded(e, &res)
	}
	return res
}

// errTLSConfig wraps an error in building the TLS configuration, which
// fails the probe before it connects.
type errTLSConfig struct{ err error }

func (e errTLSConfig) Error() string { return e.err.Error() }

// check calls Health/Check on a new client and closes the client.
func (p *GRPCProber) check(ctx context.Context, e *config.Endpoint, ct *connTrace) (*healthpb.HealthCheckResponse, error) {
	creds := insecure.NewCredentials()
	secure := e.URL.Scheme == "grpcs"
	if secure {
		cfg, err := endpointTLSConfig(p.tlsConfig, e)
		if err != nil {
			return nil, errTLSConfig{err}
		}
		cfg.NextProtos = []string{"h2"}
		creds = &probeCredentials{config: cfg, trace: ct}
	}
	dial := func(ctx context.Context, address string) (net.Conn, error) {
		conn, err := dialTCP(ctx, p.resolver, &e.ProbeSettings, address, ct)
		if err == nil && !secure {
			ct.markReady()
		}
		return conn, err
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(dial),
		// gRPC gives the dial and the handshake at least 20s by default,
		// and reports running out of it as an error of the dial. With the
		// probe's timeout instead, only the probe's context times out.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.DefaultConfig,
			MinConnectTimeout: time.Duration(e.Timeout),
		}),
		grpc.WithDisableRetry(),
		grpc.WithDisableServiceConfig(),
	}
	if p.userAgent != "" {
		opts = append(opts, grpc.WithUserAgent(p.userAgent))
	}
	// The passthrough resolver hands host:port to the dialer unresolved, so
	// that the dialer resolves it under the probe's IP protocol settings.
	conn, err := grpc.NewClient("passthrough:///"+e.URL.Host, opts...)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	req := &healthpb.HealthCheckRequest{Service: e.GRPC.Service}
	return healthpb.NewHealthClient(conn).Check(ctx, req)
}

// judgeHealth records in res the failure that err or the response's status
// shows, if any. A dial or TLS error that the trace caught is classified as
// the HTTP prober's are, because gRPC reports it only as text in an
// Unavailable status.
func judgeHealth(ctx context.Context, e *config.Endpoint, ct *connTrace, resp *healthpb.HealthCheckResponse, err error, res *Result) {
	service := "the whole server"
	if e.GRPC.Service != "" {
		service = fmt.Sprintf("service %q", e.GRPC.Service)
	}
	if err == nil {
		if got := resp.GetStatus(); got != healthpb.HealthCheckResponse_SERVING {
			res.fail(ReasonStatus, fmt.Sprintf("health status %s for %s, expected SERVING", got, service))
		}
		return
	}

	var configErr errTLSConfig
	if errors.As(err, &configErr) {
		res.fail(ReasonTLS, configErr.Error())
		return
	}
	// A server that honours the grpc-timeout header may end the call with
	// DeadlineExceeded a moment before ctx expires.
	if ctx.Err() == context.DeadlineExceeded || status.Code(err) == codes.DeadlineExceeded {
		stage := ct.stage()
		if ct.isReady() {
			stage = stageHealthCheck
		}
		res.fail(ReasonTimeout, "timed out after "+e.Timeout.String()+" while "+stage)
		return
	}
	dialErr, tlsErr := ct.failures()
	switch {
	case dialErr != nil:
		res.fail(classify(ctx, dialErr, stageConnect, e.Timeout))
		return
	case tlsErr != nil:
		res.fail(classify(ctx, tlsErr, stageTLS, e.Timeout))
		return
	}

	st := status.Convert(err)
	switch st.Code() {
	case codes.Unimplemented:
		res.fail(ReasonStatus, "the server does not implement the gRPC health checking protocol (grpc.health.v1.Health): "+
			st.Message())
	case codes.NotFound:
		res.fail(ReasonStatus, fmt.Sprintf("%s is unknown to the health server (NotFound), expected SERVING", service))
	case codes.Unavailable:
		res.fail(ReasonConnect, "gRPC connection failed: "+st.Message())
	default:
		res.fail(ReasonStatus, fmt.Sprintf("health check of %s failed: %s: %s", service, st.Code(), st.Message()))
	}
}

// probeCredentials runs the TLS handshake of a grpcs:// probe and reports
// its time, error and connection state to the probe's connTrace. gRPC's own
// credentials.NewTLS would take the server name from the :authority header
// and so ignore tls_config's server_name.
type probeCredentials struct {
	config *tls.Config
	trace  *connTrace
}

// ClientHandshake runs the TLS handshake on raw. Like gRPC's own TLS
// credentials (v1.85), it rejects a server that does not select HTTP/2 by
// ALPN.
func (c *probeCredentials) ClientHandshake(ctx context.Context, _ string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	c.trace.startTLS()
	conn := tls.Client(raw, c.config)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		c.trace.tlsFailed(err)
		return nil, nil, err
	}
	state := conn.ConnectionState()
	if state.NegotiatedProtocol != "h2" {
		raw.Close()
		err := errors.New("the server did not select HTTP/2 by ALPN, which gRPC requires")
		c.trace.tlsFailed(err)
		return nil, nil, err
	}
	c.trace.tlsDone(state)
	info := credentials.TLSInfo{
		State:          state,
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
	}
	return conn, info, nil
}

// ServerHandshake fails, because probeCredentials are for clients only.
func (c *probeCredentials) ServerHandshake(net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("collector: probeCredentials cannot serve")
}

// Info names the security protocol, as gRPC's TLS credentials do.
func (c *probeCredentials) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls"}
}

// Clone returns a copy that reports to the same connTrace.
func (c *probeCredentials) Clone() credentials.TransportCredentials {
	return &probeCredentials{config: c.config, trace: c.trace}
}

// OverrideServerName is unused by gRPC (deprecated in v1.85) and does
// nothing.
func (c *probeCredentials) OverrideServerName(string) error { return nil }
