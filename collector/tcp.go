package collector

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptrace"
	"os"
	"regexp"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/apiwatch/apiwatch/config"
)

// TCPProber probes tcp:// endpoints. A probe opens a TCP connection, runs a
// TLS handshake when tcp.tls is set, writes tcp.send and reads until
// tcp.expect matches. Every probe opens a new connection and closes it when
// it ends.
type TCPProber struct {
	resolver  *net.Resolver
	tlsConfig *tls.Config
}

// TCPProberOptions configures a TCPProber.
type TCPProberOptions struct {
	// Resolver resolves host names. Nil means the system resolver.
	Resolver *net.Resolver
	// TLSConfig is the base TLS client configuration of endpoints with
	// tcp.tls, and the place for a custom CA pool (RootCAs). An endpoint's
	// tls_config applies over it. Nil means the system roots.
	TLSConfig *tls.Config
}

// NewTCPProber returns a prober.
func NewTCPProber(opts TCPProberOptions) *TCPProber {
	return &TCPProber{resolver: opts.Resolver, tlsConfig: opts.TLSConfig.Clone()}
}

// Probe runs one check of t. The timeout covers the whole probe: DNS,
// connect, TLS, sending and reading.
func (p *TCPProber) Probe(ctx context.Context, t *Target) Result {
	e := t.Endpoint
	res := Result{Start: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(e.Timeout))
	defer cancel()
	ct := newConnTrace(res.Start)

	if conn, raw := p.connect(ctx, e, ct, &res); conn != nil {
		exchangeTCP(ctx, e, conn, ct, &res)
		// A failed probe closes the TCP connection without a TLS
		// close_notify, because writing the alert may block for up to 5s
		// (crypto/tls) on a server that reads nothing.
		if res.Reason == ReasonNone {
			conn.Close()
		} else {
			raw.Close()
		}
	}

	end := time.Now()
	res.Duration = end.Sub(res.Start)
	res.Phases, res.IPVersion = ct.result(end)
	res.Success = res.Reason == ReasonNone
	if res.Success {
		judgeDegraded(e, &res)
	}
	return res
}

// connect dials the endpoint and, with tcp.tls, runs the TLS handshake. It
// returns the connection to use and the TCP connection under it, or nils
// after recording the failure in res.
func (p *TCPProber) connect(ctx context.Context, e *config.Endpoint, ct *connTrace, res *Result) (conn, raw net.Conn) {
	var tlsConfig *tls.Config
	if e.TCP.TLS {
		var err error
		if tlsConfig, err = endpointTLSConfig(p.tlsConfig, e); err != nil {
			res.fail(ReasonTLS, err.Error())
			return nil, nil
		}
	}
	raw, err := dialTCP(ctx, p.resolver, &e.ProbeSettings, e.URL.Host, ct)
	if err != nil {
		res.fail(classify(ctx, err, ct.stage(), e.Timeout))
		return nil, nil
	}
	if tlsConfig == nil {
		return raw, raw
	}
	tlsConn := tls.Client(raw, tlsConfig)
	ct.startTLS()
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		raw.Close()
		res.fail(classify(ctx, err, stageTLS, e.Timeout))
		return nil, nil
	}
	state := tlsConn.ConnectionState()
	ct.tlsDone(state)
	recordTLS(&state, res)
	return tlsConn, raw
}

// exchangeTCP writes tcp.send and reads until tcp.expect matches, recording
// a failure in res.
func exchangeTCP(ctx context.Context, e *config.Endpoint, conn net.Conn, ct *connTrace, res *Result) {
	// A blocked read or write returns once ctx ends.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	ct.markReady()

	if e.TCP.Send != "" {
		if _, err := io.WriteString(conn, e.TCP.Send); err != nil {
			res.fail(classifyTCPIO(ctx, err, "sending tcp.send", e.Timeout, ReasonConnect))
			return
		}
	}
	if e.TCP.Expect == nil {
		return
	}

	re := e.TCP.Expect.Regexp
	limit := int64(e.BodySizeLimit)
	data, matched, err := readUntilMatch(conn, re, limit, ct)
	res.BodySize = int64(len(data))
	if matched {
		return
	}
	received := describeReceived(data)
	switch {
	case errors.Is(err, errReadLimit):
		res.BodyTruncated = true
		res.fail(ReasonBody, fmt.Sprintf("no match of tcp.expect %q in the first %s (body_size_limit); %s",
			re, e.BodySizeLimit, received))
	case errors.Is(err, io.EOF):
		res.fail(ReasonBody, fmt.Sprintf("the server closed the connection without a match of tcp.expect %q; %s",
			re, received))
	default:
		reason, msg := classifyTCPIO(ctx, err, fmt.Sprintf("waiting for a match of tcp.expect %q", re),
			e.Timeout, ReasonBody)
		res.fail(reason, msg+"; "+received)
	}
}

// errReadLimit ends readUntilMatch at body_size_limit.
var errReadLimit = errors.New("read limit reached")

// readUntilMatch reads from conn until re matches what arrived, limit bytes
// arrived, or a read fails: io.EOF when the server closes the connection, a
// timeout error when the deadline passes. Without a match it returns the
// error that ended the reading, errReadLimit at the limit.
//
// NOTE: re runs over everything read after every read, so a server that
// sends its data a byte at a time costs time quadratic in the bytes read,
// up to limit or the timeout. A stream matcher (regexp.MatchReader) would be
// linear, but it reads one rune past a match, so it would wait for the
// timeout on a server that sends "+PONG" and then nothing.
func readUntilMatch(conn net.Conn, re *regexp.Regexp, limit int64, ct *connTrace) ([]byte, bool, error) {
	buf := make([]byte, 0, min(limit, 4096))
	for {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(limit, 2*int64(cap(buf))))
			copy(grown, buf)
			buf = grown
		}
		n, err := conn.Read(buf[len(buf):cap(buf)])
		if n > 0 {
			ct.markFirstByte()
			buf = buf[:len(buf)+n]
			if re.Match(buf) {
				return buf, true, nil
			}
		}
		switch {
		case int64(len(buf)) >= limit:
			return buf, false, errReadLimit
		case err != nil:
			return buf, false, err
		}
	}
}

// maxSnippetLen bounds the part of a server's data quoted in a message.
const maxSnippetLen = 48

// describeReceived returns how much data arrived, quoting its start, for
// example `received 6 bytes: "-ERR\r\n"`.
func describeReceived(data []byte) string {
	if len(data) == 0 {
		return "received nothing"
	}
	if len(data) <= maxSnippetLen {
		return fmt.Sprintf("received %d bytes: %q", len(data), data)
	}
	cut := maxSnippetLen
	for cut > 0 && !utf8.RuneStart(data[cut]) {
		cut--
	}
	return fmt.Sprintf("received %d bytes, starting %q", len(data), data[:cut])
}

// classifyTCPIO maps an error from reading or writing an open connection
// while in stage, such as "sending tcp.send", to a reason and message. A
// timeout and a TLS alert have their own reasons, and any other error is
// the fallback reason with its cause, such as "connection reset by peer".
// The connection's deadline is only ever set when ctx ends, so ctx.Err()
// distinguishes a timeout.
func classifyTCPIO(ctx context.Context, err error, stage string, timeout config.Duration, fallback Reason) (Reason, string) {
	if ctx.Err() == context.DeadlineExceeded {
		return ReasonTimeout, "timed out after " + timeout.String() + " while " + stage
	}
	if cause := tlsCause(err); cause != nil {
		return ReasonTLS, stage + ": " + cause.Error()
	}
	return fallback, stage + ": " + ioCause(err).Error()
}

// ioCause returns the error under the *net.OpError and *os.SyscallError
// wrappers of err, which repeat both addresses.
func ioCause(err error) error {
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		err = opErr.Err
	}
	var sysErr *os.SyscallError
	if errors.As(err, &sysErr) {
		err = sysErr.Err
	}
	return err
}

// dialTCP opens a TCP connection to address, a host and port, within the
// address families of the endpoint's ip_protocol and preferred_ip_protocol
// (see ipDialer), resolving the host with resolver and reporting the lookup
// and the dial to ct.
func dialTCP(ctx context.Context, resolver *net.Resolver, s *config.ProbeSettings, address string, ct *connTrace) (net.Conn, error) {
	ctx = httptrace.WithClientTrace(ctx, ct.clientTrace())
	conn, err := newIPDialer(resolver, s).DialContext(ctx, "tcp", address)
	ct.dialDone(conn, err)
	return conn, err
}

// endpointTLSConfig returns the TLS client configuration for one probe of
// e: base with the endpoint's tls_config applied over it (see
// tlsClientConfig). ServerName defaults to the URL's host. The
// configuration has no session cache, so every probe runs a full handshake.
// A nil base means the system roots.
func endpointTLSConfig(base *tls.Config, e *config.Endpoint) (*tls.Config, error) {
	if base == nil {
		base = &tls.Config{}
	}
	cfg, err := tlsClientConfig(base, e.TLSConfig)
	if err != nil {
		return nil, err
	}
	cfg.ClientSessionCache = nil
	if cfg.ServerName == "" {
		cfg.ServerName = e.URL.Hostname()
	}
	return cfg, nil
}

// connTrace times the set-up and use of one probe's connection, and tracks
// the stage of the set-up for timeout messages. net.Dialer reports the DNS
// lookup through httptrace hooks, and a gRPC client dials and runs the
// handshake in its own goroutines, so a mutex guards the fields. Only the
// first connection of a probe is traced.
type connTrace struct {
	mu    sync.Mutex
	start time.Time
	where string

	dnsStart time.Time
	resolve  time.Duration
	// dialed is when the first dial ended, tlsStart when its TLS handshake
	// began, ready when the connection became usable, and firstByte when the
	// server's first byte after that arrived.
	dialed, tlsStart, ready, firstByte time.Time
	remote                             net.Addr
	// tls is the state of the finished TLS handshake, nil without one.
	tls *tls.ConnectionState
	// dialErr and tlsErr are the errors of a failed dial and handshake.
	dialErr, tlsErr error
}

func newConnTrace(start time.Time) *connTrace {
	return &connTrace{start: start, where: stageConnect}
}

// clientTrace returns the hooks through which net.Dialer reports the DNS
// lookup. A dial to an IP address does no lookup.
func (t *connTrace) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) {
			t.mu.Lock()
			if t.dialed.IsZero() {
				t.dnsStart, t.where = time.Now(), stageResolve
			}
			t.mu.Unlock()
		},
		DNSDone: func(info httptrace.DNSDoneInfo) {
			t.mu.Lock()
			if !t.dnsStart.IsZero() {
				t.resolve += time.Since(t.dnsStart)
				t.dnsStart = time.Time{}
				// A lookup cut short by the timeout ends here too, and a
				// timeout message must still name the lookup.
				if info.Err == nil {
					t.where = stageConnect
				}
			}
			t.mu.Unlock()
		},
	}
}

// dialDone records the end of a dial.
func (t *connTrace) dialDone(conn net.Conn, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.dialed.IsZero() {
		return
	}
	t.dialed = time.Now()
	if err != nil {
		t.dialErr = err
		return
	}
	t.remote = conn.RemoteAddr()
}

func (t *connTrace) startTLS() {
	t.mu.Lock()
	if t.tlsStart.IsZero() {
		t.tlsStart, t.where = time.Now(), stageTLS
	}
	t.mu.Unlock()
}

// tlsFailed records the error of a failed TLS handshake.
func (t *connTrace) tlsFailed(err error) {
	t.mu.Lock()
	if t.tlsErr == nil && t.ready.IsZero() {
		t.tlsErr = err
	}
	t.mu.Unlock()
}

// tlsDone records a finished TLS handshake, after which the connection is
// ready.
func (t *connTrace) tlsDone(state tls.ConnectionState) {
	t.mu.Lock()
	if t.ready.IsZero() {
		t.ready, t.tls = time.Now(), &state
	}
	t.mu.Unlock()
}

// markReady records that the connection can carry data, after the dial or
// after the TLS handshake.
func (t *connTrace) markReady() {
	t.mu.Lock()
	if t.ready.IsZero() {
		t.ready = time.Now()
	}
	t.mu.Unlock()
}

func (t *connTrace) markFirstByte() {
	t.mu.Lock()
	if t.firstByte.IsZero() {
		t.firstByte = time.Now()
	}
	t.mu.Unlock()
}

// stage returns the stage the set-up is in, such as stageResolve.
func (t *connTrace) stage() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.where
}

func (t *connTrace) isReady() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.ready.IsZero()
}

func (t *connTrace) tlsState() *tls.ConnectionState {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.tls
}

// failures returns the errors of a failed dial and TLS handshake, if any.
func (t *connTrace) failures() (dialErr, tlsErr error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dialErr, t.tlsErr
}

// result returns the time spent in each phase and the IP version of the
// connection, 4, 6 or 0 without one. end is when the probe ended. A phase
// that was cut short by a failure lasts until end, so that the phases add
// up to the probe's duration. The connect phase runs from the probe's start,
// less the DNS lookup, to the end of the dial. Processing runs from the
// connection being ready to the server's first byte, and transfer from that
// byte to end.
func (t *connTrace) result(end time.Time) (Phases, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var p Phases
	p[PhaseResolve] = t.resolve
	if !t.dnsStart.IsZero() {
		p[PhaseResolve] += end.Sub(t.dnsStart)
	}
	p[PhaseConnect] = timeOr(t.dialed, end).Sub(t.start) - p[PhaseResolve]
	if !t.tlsStart.IsZero() {
		p[PhaseTLS] = timeOr(t.ready, end).Sub(t.tlsStart)
	}
	switch {
	case t.ready.IsZero():
	case t.firstByte.IsZero():
		p[PhaseProcessing] = end.Sub(t.ready)
	default:
		p[PhaseProcessing] = t.firstByte.Sub(t.ready)
		p[PhaseTransfer] = end.Sub(t.firstByte)
	}
	return p, ipVersion(t.remote)
}

// timeOr returns t, or fallback if t is zero.
func timeOr(t, fallback time.Time) time.Time {
	if t.IsZero() {
		return fallback
	}
	return t
}

// ipVersion returns 4 or 6 for a TCP address, and 0 for anything else.
func ipVersion(addr net.Addr) int {
	tcp, ok := addr.(*net.TCPAddr)
	switch {
	case !ok:
		return 0
	case tcp.IP.To4() != nil:
		return 4
	}
	return 6
}
