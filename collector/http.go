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
	"strings"
	"sync"
	"time"

	"github.com/apiwatch/apiwatch/config"
)

// HTTPProber probes HTTP and HTTPS endpoints. Every probe opens a new
// connection, so a pooled keep-alive connection never hides a server that
// no longer accepts new ones.
type HTTPProber struct {
	transport *http.Transport
	userAgent string
	bufs      sync.Pool
}

// HTTPProberOptions configures an HTTPProber.
type HTTPProberOptions struct {
	// Resolver resolves host names; nil means the system resolver.
	Resolver *net.Resolver
	// UserAgent is sent with every request.
	UserAgent string
}

// NewHTTPProber returns a prober. Environment proxy variables are ignored:
// a probe goes straight to the endpoint unless its configuration names a
// proxy.
func NewHTTPProber(opts HTTPProberOptions) *HTTPProber {
	dialer := &net.Dialer{Resolver: opts.Resolver}
	return &HTTPProber{
		userAgent: opts.UserAgent,
		transport: &http.Transport{
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			DisableKeepAlives:      true,
			MaxResponseHeaderBytes: 1 << 20,
		},
		bufs: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }},
	}
}

// Probe runs one check of t. The timeout covers the whole exchange: DNS,
// connect, TLS, request, response headers and the body, over all redirects.
func (p *HTTPProber) Probe(ctx context.Context, t *Target) Result {
	e := t.Endpoint
	tr := &tracer{}
	res := Result{Start: time.Now()}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(e.Timeout))
	defer cancel()
	ctx = httptrace.WithClientTrace(ctx, tr.clientTrace())

	u := e.URL.URL
	method := http.MethodGet
	for hop := 0; ; hop++ {
		tr.beginHop()
		resp, err := p.roundTrip(ctx, method, u)
		if err != nil {
			res.Reason, res.Message = classify(ctx, err, tr.stage(), e.Timeout)
			break
		}
		if hop == 0 {
			res.FirstStatusCode = resp.StatusCode
		}
		res.StatusCode = resp.StatusCode
		if next, ok := redirectTarget(e, u, resp); ok {
			// Intermediate bodies are drained within the deadline so their
			// transfer time counts.
			p.readBody(resp, tr, int64(e.BodySizeLimit))
			if res.Redirects == e.MaxRedirects {
				res.Reason = ReasonRedirectLimit
				res.Message = fmt.Sprintf("stopped after %d redirects (max_redirects)", e.MaxRedirects)
				break
			}
			res.Redirects++
			if resp.StatusCode == http.StatusSeeOther {
				method = http.MethodGet
			}
			u = next
			continue
		}
		n, truncated, err := p.readBody(resp, tr, int64(e.BodySizeLimit))
		res.BodySize, res.BodyTruncated = n, truncated
		switch {
		case err != nil:
			res.Reason, res.Message = classify(ctx, err, tr.stage(), e.Timeout)
		case !e.Expect.Status.Matches(resp.StatusCode):
			res.Reason = ReasonStatus
			res.Message = fmt.Sprintf("status %d, expected %s", resp.StatusCode, e.Expect.Status)
		case truncated && e.Expect.FailIfBodyTooLarge:
			res.Reason = ReasonBodyTooLarge
			res.Message = fmt.Sprintf("body is larger than body_size_limit %s", e.BodySizeLimit)
		}
		break
	}
	res.Duration = time.Since(res.Start)
	res.Phases, res.IPVersion = tr.result()
	res.Success = res.Reason == ReasonNone
	return res
}

func (p *HTTPProber) roundTrip(ctx context.Context, method string, u *url.URL) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if p.userAgent != "" {
		req.Header.Set("User-Agent", p.userAgent)
	}
	return p.transport.RoundTrip(req)
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

// readBody reads at most limit bytes of the body and closes it. It reports
// whether the body went on past the limit.
func (p *HTTPProber) readBody(resp *http.Response, tr *tracer, limit int64) (n int64, truncated bool, err error) {
	defer resp.Body.Close()
	buf := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(buf)
	tr.setStage(stageBody)
	n, err = io.CopyBuffer(io.Discard, io.LimitReader(resp.Body, limit+1), *buf)
	tr.endTransfer()
	if n > limit {
		return limit, true, nil
	}
	return n, false, err
}

// classify maps an error from the exchange to a reason and a message that
// names the stage it happened in.
func classify(ctx context.Context, err error, stage string, timeout config.Duration) (Reason, string) {
	if ctx.Err() == context.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded) {
		return ReasonTimeout, "timed out after " + timeout.String() + " while " + stage
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return ReasonDNS, "resolving " + dnsErr.Name + ": " + dnsErr.Err
	}
	if isTLSError(err) {
		return ReasonTLS, "TLS handshake: " + err.Error()
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return ReasonConnect, "connecting: " + opErr.Err.Error()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return ReasonHTTP, "connection closed while " + stage
	}
	return ReasonHTTP, stage + ": " + err.Error()
}

func isTLSError(err error) bool {
	var (
		verifyErr   *tls.CertificateVerificationError
		recordErr   tls.RecordHeaderError
		alertErr    tls.AlertError
		unknownCA   x509.UnknownAuthorityError
		hostnameErr x509.HostnameError
		invalidErr  x509.CertificateInvalidError
	)
	return errors.As(err, &verifyErr) || errors.As(err, &recordErr) || errors.As(err, &alertErr) ||
		errors.As(err, &unknownCA) || errors.As(err, &hostnameErr) || errors.As(err, &invalidErr) ||
		strings.HasPrefix(err.Error(), "tls: ")
}
