package collector

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/apiwatch/apiwatch/config"
)

// hop is one request of a probe's redirect chain. The first hop sends the
// endpoint's method, body, headers and credentials, and each redirect
// derives the next hop by the rules of net/http's Client (Go 1.26).
type hop struct {
	method string
	url    *url.URL
	// host overrides the Host header, "" meaning the URL's host.
	host string
	// withBody sends the configured body and the headers that describe it.
	// A 301, 302 or 303 drops both for the rest of the chain.
	withBody bool
	// withAuth sends basic_auth, bearer_token and the sensitive headers
	// (Authorization, Cookie and the like). The first redirect to a host
	// that is neither the first host nor a subdomain of it drops them for
	// the rest of the chain.
	withAuth bool
}

// firstHop returns the first request of a probe of e.
func firstHop(e *config.Endpoint) hop {
	h := hop{method: e.Method, url: e.URL.URL, withBody: true, withAuth: true}
	if h.method == "" {
		h.method = http.MethodGet
	}
	for name, value := range e.Headers {
		if http.CanonicalHeaderKey(name) == "Host" {
			h.host = value.Value()
		}
	}
	return h
}

// follow returns the hop that a redirect with status code to next leads
// to. first is the URL of the chain's first request, and relative reports
// that the Location header was a relative reference.
func (h hop) follow(code int, next, first *url.URL, relative bool) hop {
	n := hop{method: h.method, url: next, withBody: h.withBody, withAuth: h.withAuth}
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
		n.withBody = false
		if h.method != http.MethodGet && h.method != http.MethodHead {
			n.method = http.MethodGet
		}
	}
	// Like http.Client, keep a Host override only through a relative
	// redirect, which stays on the server the override was meant for.
	if h.host != "" && h.host != h.url.Host && relative {
		n.host = h.host
	}
	if n.withAuth && next.Host != first.Host && !isDomainOrSubdomain(next.Hostname(), first.Hostname()) {
		n.withAuth = false
	}
	return n
}

// isDomainOrSubdomain reports whether sub is parent or a subdomain of it,
// ignoring case. An IPv6 address is only equal to itself.
func isDomainOrSubdomain(sub, parent string) bool {
	if strings.EqualFold(sub, parent) {
		return true
	}
	if strings.ContainsAny(sub, ":%") || len(sub) <= len(parent) {
		return false
	}
	return sub[len(sub)-len(parent)-1] == '.' && strings.EqualFold(sub[len(sub)-len(parent):], parent)
}

// sensitiveHeader reports whether a header carries credentials, so that
// it is not sent to another host after a redirect.
func sensitiveHeader(canonical string) bool {
	switch canonical {
	case "Authorization", "Www-Authenticate", "Cookie", "Cookie2", "Proxy-Authorization", "Proxy-Authenticate":
		return true
	}
	return false
}

// bodyHeader reports whether a header describes the request body, so that
// it is dropped with the body.
func bodyHeader(canonical string) bool {
	switch canonical {
	case "Content-Encoding", "Content-Language", "Content-Location", "Content-Type":
		return true
	}
	return false
}

// acceptGzip is the Accept-Encoding value sent when the endpoint sets none.
// It is shared by all requests, and the transport never changes it.
var acceptGzip = []string{"gzip"}

// newRequest builds the request of hop h. The URL is used as parsed, not
// printed and parsed again, so that no parse error can quote its
// credentials.
//
// The endpoint's headers come first. basic_auth or bearer_token then sets
// Authorization, replacing such a header. Userinfo in the URL is sent as
// basic auth when there is no Authorization yet, as http.Client does.
// User-Agent is the prober's unless a header sets it, and Accept-Encoding is
// gzip unless a header sets it, for a Range request or for HEAD.
func (p *HTTPProber) newRequest(ctx context.Context, e *config.Endpoint, h hop) *http.Request {
	req := (&http.Request{
		Method: h.method,
		URL:    h.url,
		Host:   h.host,
		Header: make(http.Header, len(e.Headers)+3),
	}).WithContext(ctx)
	for name, value := range e.Headers {
		canonical := http.CanonicalHeaderKey(name)
		switch {
		case canonical == "Host":
		case !h.withAuth && sensitiveHeader(canonical):
		case !h.withBody && bodyHeader(canonical):
		default:
			req.Header[canonical] = []string{value.Value()}
		}
	}
	if h.withAuth {
		switch {
		case e.BasicAuth != nil:
			req.SetBasicAuth(e.BasicAuth.Username, e.BasicAuth.Password.Value())
		case !e.BearerToken.IsZero():
			req.Header.Set("Authorization", "Bearer "+e.BearerToken.Value())
		}
	}
	if u := h.url.User; u != nil && req.Header.Get("Authorization") == "" {
		password, _ := u.Password()
		req.SetBasicAuth(u.Username(), password)
	}
	if _, ok := req.Header["User-Agent"]; !ok && p.userAgent != "" {
		req.Header.Set("User-Agent", p.userAgent)
	}
	_, hasEncoding := req.Header["Accept-Encoding"]
	_, hasRange := req.Header["Range"]
	if !hasEncoding && !hasRange && h.method != http.MethodHead {
		req.Header["Accept-Encoding"] = acceptGzip
	}
	if h.withBody && e.Body != "" {
		req.Body = io.NopCloser(strings.NewReader(e.Body))
		req.ContentLength = int64(len(e.Body))
	}
	return req
}

// redirectTarget returns the URL a redirect response points to, if the
// endpoint follows redirects and resp is one, and whether the Location
// header was a relative reference.
func redirectTarget(e *config.Endpoint, base *url.URL, resp *http.Response) (next *url.URL, relative, ok bool) {
	if !e.Follows() {
		return nil, false, false
	}
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil, false, false
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, false, false
	}
	ref, err := url.Parse(loc)
	if err != nil {
		return nil, false, false
	}
	return base.ResolveReference(ref), !ref.IsAbs(), true
}
