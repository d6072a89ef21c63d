package collector

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/apiwatch/apiwatch/config"
)

// HTTPProber probes HTTP and HTTPS endpoints. Every probe opens a new
// connection and runs a full TLS handshake, so neither a pooled keep-alive
// connection nor a resumed TLS session hides a server that no longer
// accepts connections or now presents a bad certificate. Endpoints whose
// tls_config, proxy, enable_http2 and ip_protocol settings are equal share
// one http.Transport.
type HTTPProber struct {
	transport *transportCache
	userAgent string
}

// HTTPProberOptions configures an HTTPProber.
type HTTPProberOptions struct {
	// Resolver resolves host names for every dial, redirect hops and
	// proxies included. Nil means the system resolver.
	Resolver *net.Resolver
	// TLSConfig is the base TLS client configuration of every probe, to
	// which an endpoint's tls_config is applied. It is cloned, and its
	// ClientSessionCache is dropped so that every probe runs a full
	// handshake. Nil means the system roots.
	TLSConfig *tls.Config
	// UserAgent is sent with every request whose endpoint sets no
	// User-Agent header. Empty means Go's default.
	UserAgent string
}

// NewHTTPProber returns a prober. Environment proxy variables (HTTP_PROXY,
// HTTPS_PROXY, NO_PROXY) apply only to endpoints with
// proxy_from_environment, so by default a probe goes straight to the
// endpoint.
func NewHTTPProber(opts HTTPProberOptions) *HTTPProber {
	return &HTTPProber{
		userAgent: opts.UserAgent,
		transport: newTransportCache(opts.Resolver, opts.TLSConfig),
	}
}

// ApplyConfig prepares the transports of cfg's HTTP endpoints and drops
// those of settings that cfg no longer uses. Files named by tls_config are
// read again, so a renewed CA takes effect with the configuration that
// comes with it. Probes still running keep their
// transport. Without ApplyConfig, transports are built on first use and
// kept.
func (p *HTTPProber) ApplyConfig(cfg *config.Config) {
	p.transport.reset(cfg)
}

// Probe runs one check of t. The timeout covers the whole exchange: DNS,
// connect, TLS, request, response headers and the body, over all redirects.
func (p *HTTPProber) Probe(ctx context.Context, t *Target) Result {
	e := t.Endpoint
	res := Result{Start: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(e.Timeout))
	defer cancel()
	tr := &tracer{}
	ctx = withTracer(ctx, tr)

	transport, err := p.transport.get(&e.ProbeSettings)
	if err != nil {
		// The loader built this tls_config, so its files changed or went
		// away since.
		res.fail(ReasonTLS, err.Error())
	} else if resp := p.send(ctx, e, transport, tr, &res); resp != nil {
		recordTLS(resp.TLS, &res)
		checkResponse(ctx, e, tr, resp, &res)
	}

	end := time.Now()
	res.Duration = end.Sub(res.Start)
	res.Phases, res.IPVersion = tr.result(end)
	res.Success = res.Reason == ReasonNone
	if res.Success {
		judgeDegraded(e, &res)
	}
	return res
}

// send requests the endpoint's URL and follows redirects as the endpoint
// allows. It returns the final response with its body unread, or nil after
// recording the failure in res.
func (p *HTTPProber) send(ctx context.Context, e *config.Endpoint, rt http.RoundTripper, tr *tracer, res *Result) *http.Response {
	h := firstHop(e)
	for {
		tr.beginHop()
		resp, err := rt.RoundTrip(p.newRequest(ctx, e, h))
		if err != nil {
			res.fail(classify(ctx, err, tr.stage(), e.Timeout))
			return nil
		}
		if res.FirstStatusCode == 0 {
			res.FirstStatusCode = resp.StatusCode
		}
		res.StatusCode = resp.StatusCode
		next, relative, ok := redirectTarget(e, h.url, resp)
		if !ok {
			return resp
		}
		// The redirect's body is read, up to the limit, so that its transfer
		// counts in the duration. Like http.Client, a broken redirect body is
		// no failure, but running out of time while reading it is.
		if _, _, err := discardBody(resp, tr, int64(e.BodySizeLimit)); err != nil && ctx.Err() != nil {
			res.fail(classify(ctx, err, stageBody, e.Timeout))
			return nil
		}
		if res.Redirects == e.MaxRedirects {
			res.fail(ReasonRedirectLimit, fmt.Sprintf("stopped after %d redirects (max_redirects)", e.MaxRedirects))
			return nil
		}
		res.Redirects++
		h = h.follow(resp.StatusCode, next, e.URL.URL, relative)
	}
}

// checkResponse reads the final response's body and judges the response
// against the endpoint's expectations, recording the outcome in res. The
// body is always read, up to the limit, so that the duration covers the
// whole response, and decoded, so that its size is the decoded size and a
// corrupt compressed body fails. It is kept only for body checks.
func checkResponse(ctx context.Context, e *config.Endpoint, tr *tracer, resp *http.Response, res *Result) {
	body, err := readResponseBody(resp, tr, int64(e.BodySizeLimit), e.Expect.HasBodyChecks())
	defer body.release()
	res.BodySize, res.BodyEncodedSize, res.BodyTruncated = body.size, body.encodedSize, body.truncated
	var decodeErr *decodeError
	switch {
	case errors.As(err, &decodeErr):
		res.fail(ReasonHTTP, decodeErr.Error())
		return
	case err != nil:
		res.fail(classify(ctx, err, stageBody, e.Timeout))
		return
	}
	judgeResponse(e, resp, body.data, body.truncated, res)
}

// classify maps an error from the exchange to a reason and a message that
// names the stage it happened in. The message contains host names and
// addresses but never the URL, which may carry credentials.
func classify(ctx context.Context, err error, stage string, timeout config.Duration) (Reason, string) {
	if ctx.Err() == context.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded) {
		return ReasonTimeout, "timed out after " + timeout.String() + " while " + stage
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "proxyconnect" {
		return classifyProxy(opErr.Err)
	}
	var connectErr *proxyConnectError
	if errors.As(err, &connectErr) {
		return ReasonConnect, connectErr.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ReasonDNS, "resolving " + dnsErr.Name + ": " + dnsErr.Err
	}
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return ReasonConnect, connectMessage(opErr)
	}
	closed := errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
	switch {
	case stage == stageTLS && closed:
		return ReasonTLS, "connection closed in the TLS handshake"
	case stage == stageTLS && isPlainHTTPReply(err):
		return ReasonTLS, "TLS handshake: the server sent a plain HTTP response: check the URL's scheme and port"
	case stage == stageTLS:
		return ReasonTLS, "TLS handshake: " + errorText(err)
	}
	if cause := tlsCause(err); cause != nil {
		return ReasonTLS, stage + ": " + cause.Error()
	}
	if t := tracerFrom(ctx); stage == stageHeaders && t != nil && t.certRequested.Load() {
		return ReasonTLS, stage + ": " + errorText(err) +
			": the server asked for a client certificate, and tls_config has none"
	}
	if closed {
		return ReasonHTTP, "connection closed while " + stage
	}
	return ReasonHTTP, stage + ": " + errorText(err)
}

// classifyProxy maps an error in reaching the proxy to a reason and a
// message that says the proxy failed, not the endpoint.
func classifyProxy(err error) (Reason, string) {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return ReasonDNS, "resolving the proxy " + dnsErr.Name + ": " + dnsErr.Err
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return ReasonConnect, "proxy: " + connectMessage(opErr)
	case tlsCause(err) != nil:
		return ReasonTLS, "TLS handshake with the proxy: " + errorText(err)
	}
	return ReasonConnect, "connecting to the proxy: " + errorText(err)
}

// brokenConnPrefixes start the text of errors that net/http's transport
// (Go 1.26, transport.go) wraps when a connection breaks. They name its
// internals and add nothing to a probe's message.
var brokenConnPrefixes = []string{
	"net/http: HTTP/1.x transport connection broken: ",
	"readLoopPeekFailLocked: ",
}

// errorText returns err's text without net/http's wrapping prefixes.
func errorText(err error) string {
	text := err.Error()
	for _, prefix := range brokenConnPrefixes {
		text = strings.TrimPrefix(text, prefix)
	}
	return text
}

// isPlainHTTPReply reports whether the server replied to the TLS
// ClientHello with plain HTTP, the check http.Client makes for
// ErrSchemeMismatch.
func isPlainHTTPReply(err error) bool {
	var recordErr tls.RecordHeaderError
	return errors.As(err, &recordErr) && string(recordErr.RecordHeader[:]) == "HTTP/"
}

// connectMessage describes a failed dial as "connecting to ADDR: CAUSE",
// for example "connecting to 127.0.0.1:8080: connection refused".
func connectMessage(opErr *net.OpError) string {
	cause := opErr.Err
	var sysErr *os.SyscallError
	if errors.As(cause, &sysErr) {
		cause = sysErr.Err
	}
	if opErr.Addr == nil {
		return "connecting: " + cause.Error()
	}
	return "connecting to " + opErr.Addr.String() + ": " + cause.Error()
}

// tlsCause returns the TLS error inside err, or nil. A failed handshake is
// recognised by its stage, so this matters for errors after it. With TLS 1.3
// a server that rejects the client certificate sends its alert after the
// client has finished the handshake, and the client reads it with the
// response as a *net.OpError whose Op is "remote error".
func tlsCause(err error) error {
	var (
		opErr       *net.OpError
		verifyErr   *tls.CertificateVerificationError
		recordErr   tls.RecordHeaderError
		alertErr    tls.AlertError
		unknownCA   x509.UnknownAuthorityError
		hostnameErr x509.HostnameError
		invalidErr  x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		return opErr
	case errors.As(err, &verifyErr):
		return verifyErr
	case errors.As(err, &recordErr):
		return recordErr
	case errors.As(err, &alertErr):
		return alertErr
	case errors.As(err, &unknownCA):
		return unknownCA
	case errors.As(err, &hostnameErr):
		return hostnameErr
	case errors.As(err, &invalidErr):
		return invalidErr
	}
	return nil
}
