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
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/apiwatch/apiwatch/config"
)

// HTTPProber probes HTTP and HTTPS endpoints over HTTP/1.1. Every probe opens
// a new connection and runs a full TLS handshake, so neither a pooled
// keep-alive connection nor a resumed TLS session hides a server that no
// longer accepts connections or now presents a bad certificate.
type HTTPProber struct {
	transport *http.Transport
	userAgent string
}

// HTTPProberOptions configures an HTTPProber.
type HTTPProberOptions struct {
	// Resolver resolves host names for every dial, redirect hops included.
	// Nil means the system resolver.
	Resolver *net.Resolver
	// TLSConfig is the base TLS client configuration of every probe, and the
	// place for a custom CA pool (RootCAs) or client certificates. It is
	// cloned, and its ClientSessionCache is dropped so that every probe runs
	// a full handshake. Nil means the system roots.
	TLSConfig *tls.Config
	// UserAgent is sent with every request. Empty means Go's default.
	UserAgent string
}

// NewHTTPProber returns a prober. Environment proxy variables (HTTP_PROXY,
// HTTPS_PROXY, NO_PROXY) are ignored, so a probe always goes straight to the
// endpoint.
func NewHTTPProber(opts HTTPProberOptions) *HTTPProber {
	dialer := &net.Dialer{Resolver: opts.Resolver}
	tlsConfig := opts.TLSConfig.Clone()
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	tlsConfig.ClientSessionCache = nil
	return &HTTPProber{
		userAgent: opts.UserAgent,
		transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			TLSClientConfig:        tlsConfig,
			DisableKeepAlives:      true,
			MaxResponseHeaderBytes: 1 << 20,
		},
	}
}

// Probe runs one check of t. The timeout covers the whole exchange: DNS,
// connect, TLS, request, response headers and the body, over all redirects.
func (p *HTTPProber) Probe(ctx context.Context, t *Target) Result {
	e := t.Endpoint
	res := Result{Start: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(e.Timeout))
	defer cancel()
	tr := &tracer{}
	ctx = httptrace.WithClientTrace(ctx, tr.clientTrace())

	if resp := p.send(ctx, e, tr, &res); resp != nil {
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
func (p *HTTPProber) send(ctx context.Context, e *config.Endpoint, tr *tracer, res *Result) *http.Response {
	u := e.URL.URL
	for {
		tr.beginHop()
		resp, err := p.transport.RoundTrip(p.newRequest(ctx, u))
		if err != nil {
			res.fail(classify(ctx, err, tr.stage(), e.Timeout))
			return nil
		}
		if res.FirstStatusCode == 0 {
			res.FirstStatusCode = resp.StatusCode
		}
		res.StatusCode = resp.StatusCode
		next, ok := redirectTarget(e, u, resp)
		if !ok {
			return resp
		}
		// The redirect's body is read, up to the limit, so that its transfer
		// counts in the duration. Like http.Client, a broken redirect body is
		// no failure, but running out of time while reading it is.
		if _, _, err := readBody(resp, tr, int64(e.BodySizeLimit)); err != nil && ctx.Err() != nil {
			res.fail(classify(ctx, err, stageBody, e.Timeout))
			return nil
		}
		if res.Redirects == e.MaxRedirects {
			res.fail(ReasonRedirectLimit, fmt.Sprintf("stopped after %d redirects (max_redirects)", e.MaxRedirects))
			return nil
		}
		res.Redirects++
		u = next
	}
}

// newRequest builds a GET request for u. The URL is used as parsed, not
// printed and parsed again, so that no parse error can quote its
// credentials. Userinfo in u is sent as basic auth, as http.Client does.
//
// NOTE: every hop is a GET. Once endpoints can set a method, a 303 must
// switch to GET while 307 and 308 keep the method and body.
func (p *HTTPProber) newRequest(ctx context.Context, u *url.URL) *http.Request {
	req := (&http.Request{Method: http.MethodGet, URL: u, Header: make(http.Header, 2)}).WithContext(ctx)
	if p.userAgent != "" {
		req.Header.Set("User-Agent", p.userAgent)
	}
	if u.User != nil {
		password, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), password)
	}
	return req
}

// redirectTarget returns the URL a redirect response points to, if the
// endpoint follows redirects and resp is one.
func redirectTarget(e *config.Endpoint, base *url.URL, resp *http.Response) (*url.URL, bool) {
	if !e.Follows() {
		return nil, false
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil, false
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, false
	}
	next, err := base.Parse(loc)
	if err != nil {
		return nil, false
	}
	return next, true
}

// checkResponse reads the final response's body and judges the response
// against the endpoint's expectations, recording the outcome in res.
func checkResponse(ctx context.Context, e *config.Endpoint, tr *tracer, resp *http.Response, res *Result) {
	// There is no body check yet, but the body is always read (up to the
	// limit) so that the duration covers the whole response.
	n, truncated, err := readBody(resp, tr, int64(e.BodySizeLimit))
	res.BodySize, res.BodyTruncated = n, truncated
	if err != nil {
		res.fail(classify(ctx, err, stageBody, e.Timeout))
		return
	}
	// NOTE: the body is not kept yet, so body checks see nil.
	judgeResponse(e, resp, nil, truncated, res)
}

// readBody reads at most limit bytes of the body and closes it. It reports
// whether the body went on past the limit, in which case closing it early
// also closes the connection, so the rest is never transferred.
func readBody(resp *http.Response, tr *tracer, limit int64) (n int64, truncated bool, err error) {
	defer resp.Body.Close()
	tr.setStage(stageBody)
	// io.Discard reads through its own pooled buffer, so this allocates no
	// buffer per probe.
	n, err = io.Copy(io.Discard, io.LimitReader(resp.Body, limit+1))
	tr.endTransfer()
	if n > limit {
		return limit, true, nil
	}
	return n, false, err
}

// classify maps an error from the exchange to a reason and a message that
// names the stage it happened in. The message contains host names and
// addresses but never the URL, which may carry credentials.
func classify(ctx context.Context, err error, stage string, timeout config.Duration) (Reason, string) {
	if ctx.Err() == context.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded) {
		return ReasonTimeout, "timed out after " + timeout.String() + " while " + stage
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ReasonDNS, "resolving " + dnsErr.Name + ": " + dnsErr.Err
	}
	var opErr *net.OpError
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
	if closed {
		return ReasonHTTP, "connection closed while " + stage
	}
	return ReasonHTTP, stage + ": " + errorText(err)
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
