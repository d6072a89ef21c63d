package collector

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"
)

// Stages of an exchange, as named in failure messages.
const (
	stageResolve  = "resolving the host"
	stageConnect  = "connecting"
	stageTLS      = "in the TLS handshake"
	stageHeaders  = "waiting for the response headers"
	stageBody     = "reading the body"
	stageStarting = "starting the request"
)

// tracer times the phases of each redirect hop from httptrace callbacks and
// sums them. The transport calls some hooks from its own goroutines (and,
// with happy eyeballs, from two dials at once), so a mutex guards it.
type tracer struct {
	mu     sync.Mutex
	phases Phases
	where  string

	dnsStart, connectStart, tlsStart time.Time
	connReady, firstByte             time.Time
	remote                           net.Addr

	// certRequested is set when a server asked for a client certificate
	// and the probe had none to send.
	certRequested atomic.Bool
}

// tracerKey is the context key of the probe's tracer, which the TLS
// handshake reaches through its context.
type tracerKey struct{}

// withTracer returns ctx with t's httptrace hooks, and t for the TLS
// handshake to find.
func withTracer(ctx context.Context, t *tracer) context.Context {
	return context.WithValue(httptrace.WithClientTrace(ctx, t.clientTrace()), tracerKey{}, t)
}

// tracerFrom returns the tracer withTracer put in ctx, or nil.
func tracerFrom(ctx context.Context) *tracer {
	t, _ := ctx.Value(tracerKey{}).(*tracer)
	return t
}

// noteCertificateRequest is the GetClientCertificate of a TLS
// configuration without a client certificate. It sends none, as Go does
// then, and notes the request in the probe's tracer. In TLS 1.3 the server
// checks the certificate after the client has finished its handshake, so
// its refusal arrives only with the response, and a connection reset can
// discard it. The note still lets the failure name the cause.
func noteCertificateRequest(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
	if t := tracerFrom(cri.Context()); t != nil {
		t.certRequested.Store(true)
	}
	return &tls.Certificate{}, nil
}

func (t *tracer) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) {
			t.mu.Lock()
			t.dnsStart, t.where = time.Now(), stageResolve
			t.mu.Unlock()
		},
		DNSDone: func(httptrace.DNSDoneInfo) {
			t.mu.Lock()
			t.phases[PhaseResolve] += time.Since(t.dnsStart)
			t.dnsStart = time.Time{}
			t.mu.Unlock()
		},
		ConnectStart: func(string, string) {
			t.mu.Lock()
			if t.connectStart.IsZero() {
				t.connectStart, t.where = time.Now(), stageConnect
			}
			t.mu.Unlock()
		},
		ConnectDone: func(_, _ string, err error) {
			t.mu.Lock()
			// With happy eyeballs two dials race; the first success ends the
			// phase and the loser's result is ignored.
			if err == nil && !t.connectStart.IsZero() {
				t.phases[PhaseConnect] += time.Since(t.connectStart)
				t.connectStart = time.Time{}
			}
			t.mu.Unlock()
		},
		TLSHandshakeStart: func() {
			t.mu.Lock()
			t.tlsStart, t.where = time.Now(), stageTLS
			t.mu.Unlock()
		},
		TLSHandshakeDone: func(tls.ConnectionState, error) {
			t.mu.Lock()
			t.phases[PhaseTLS] += time.Since(t.tlsStart)
			t.tlsStart = time.Time{}
			t.mu.Unlock()
		},
		GotConn: func(info httptrace.GotConnInfo) {
			t.mu.Lock()
			t.connReady, t.where = time.Now(), stageHeaders
			t.remote = info.Conn.RemoteAddr()
			t.mu.Unlock()
		},
		GotFirstResponseByte: func() {
			t.mu.Lock()
			t.firstByte = time.Now()
			t.phases[PhaseProcessing] += t.firstByte.Sub(t.connReady)
			t.mu.Unlock()
		},
	}
}

// beginHop resets the per-hop marks before a request is sent.
func (t *tracer) beginHop() {
	t.mu.Lock()
	t.dnsStart, t.connectStart, t.tlsStart = time.Time{}, time.Time{}, time.Time{}
	t.connReady, t.firstByte = time.Time{}, time.Time{}
	t.where = stageStarting
	t.mu.Unlock()
}

func (t *tracer) setStage(stage string) {
	t.mu.Lock()
	t.where = stage
	t.mu.Unlock()
}

func (t *tracer) stage() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.where
}

// endTransfer closes the transfer phase of the current hop.
func (t *tracer) endTransfer() {
	t.mu.Lock()
	if !t.firstByte.IsZero() {
		t.phases[PhaseTransfer] += time.Since(t.firstByte)
	}
	t.mu.Unlock()
}

// result returns the summed phases and the IP version of the last
// connection. now is when the probe ended.
func (t *tracer) result(now time.Time) (Phases, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	phases := t.phases
	// A hop that failed mid-phase still spent that time: charge it to the
	// phase it was in, so that the phases add up to the total.
	if !t.dnsStart.IsZero() {
		phases[PhaseResolve] += now.Sub(t.dnsStart)
	}
	if !t.connectStart.IsZero() {
		phases[PhaseConnect] += now.Sub(t.connectStart)
	}
	if !t.tlsStart.IsZero() {
		phases[PhaseTLS] += now.Sub(t.tlsStart)
	}
	if !t.connReady.IsZero() && t.firstByte.IsZero() {
		phases[PhaseProcessing] += now.Sub(t.connReady)
	}
	version := 0
	if tcp, ok := t.remote.(*net.TCPAddr); ok {
		if tcp.IP.To4() != nil {
			version = 4
		} else {
			version = 6
		}
	}
	return phases, version
}
