package collector

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"

	commoncfg "github.com/prometheus/common/config"

	"github.com/apiwatch/apiwatch/config"
)

// transportKey holds every probe setting that shapes an http.Transport, so
// that endpoints with equal settings share one transport.
type transportKey struct {
	// tls is the endpoint's tls_config, compared by value, and hasTLS
	// tells an empty tls_config from none.
	tls    commoncfg.TLSConfig
	hasTLS bool
	// proxyURL is the full proxy URL, credentials included.
	proxyURL   string
	noProxy    string
	proxyEnv   bool
	http2      bool
	ipProtocol string
	preferred  string
}

func transportKeyOf(s *config.ProbeSettings) transportKey {
	k := transportKey{
		noProxy:    s.NoProxy,
		proxyEnv:   s.ProxyFromEnv(),
		http2:      s.HTTP2(),
		ipProtocol: s.IPProtocol,
		preferred:  s.PreferredIPProtocol,
	}
	if s.TLSConfig != nil {
		k.tls, k.hasTLS = *s.TLSConfig, true
	}
	if s.ProxyURL.URL != nil {
		// config.URL's own String redacts the password, which would make
		// two proxies that differ only in credentials share a transport.
		k.proxyURL = s.ProxyURL.URL.String()
	}
	return k
}

// transportCache keeps one http.Transport per distinct transportKey. A
// probe looks its transport up by the settings of its own Target, so a
// probe that started before a reload finishes on the transport it began
// with.
type transportCache struct {
	resolver *net.Resolver
	// baseTLS is the TLS configuration every transport starts from, before
	// the endpoint's tls_config is applied.
	baseTLS *tls.Config

	mu      sync.RWMutex
	entries map[transportKey]*http.Transport
}

func newTransportCache(resolver *net.Resolver, baseTLS *tls.Config) *transportCache {
	base := baseTLS.Clone()
	if base == nil {
		base = &tls.Config{}
	}
	// Without a session cache every probe runs a full handshake, so that
	// a changed certificate is seen at once.
	base.ClientSessionCache = nil
	return &transportCache{resolver: resolver, baseTLS: base, entries: map[transportKey]*http.Transport{}}
}

// get returns the transport for s, building it on first use.
func (c *transportCache) get(s *config.ProbeSettings) (*http.Transport, error) {
	key := transportKeyOf(s)
	c.mu.RLock()
	t := c.entries[key]
	c.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	t, err := c.build(s)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Another probe may have built the same transport meanwhile: keep one.
	if existing := c.entries[key]; existing != nil {
		return existing, nil
	}
	c.entries[key] = t
	return t, nil
}

// reset replaces the cached transports with those for the HTTP endpoints of
// cfg, built anew. Files named by tls_config are read again, and settings
// that no endpoint uses any more are dropped. A probe still running keeps
// the transport it holds, which has no idle connections to leak because
// keep-alives are off.
func (c *transportCache) reset(cfg *config.Config) {
	entries := map[transportKey]*http.Transport{}
	for _, company := range cfg.Companies {
		for _, e := range company.Endpoints {
			if e.Kind() != config.KindHTTP {
				continue
			}
			key := transportKeyOf(&e.ProbeSettings)
			if _, ok := entries[key]; ok {
				continue
			}
			// A transport that cannot be built now is built by the first
			// probe that needs it, which reports the error.
			if t, err := c.build(&e.ProbeSettings); err == nil {
				entries[key] = t
			}
		}
	}
	c.mu.Lock()
	c.entries = entries
	c.mu.Unlock()
}

// len returns the number of cached transports.
func (c *transportCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// CloseIdleConnections closes the idle connections of every cached
// transport. With keep-alives off there are none once a probe has ended.
func (c *transportCache) CloseIdleConnections() {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, t := range c.entries {
		t.CloseIdleConnections()
	}
}

// build makes a transport for s: a new connection and a full TLS handshake
// for every request, TLS from tls_config, the proxy settings, HTTP/2 only
// when enable_http2 is set, and dials restricted to ip_protocol.
func (c *transportCache) build(s *config.ProbeSettings) (*http.Transport, error) {
	tlsConfig, err := tlsClientConfig(c.baseTLS, s.TLSConfig)
	if err != nil {
		return nil, err
	}
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(s.HTTP2())
	return &http.Transport{
		Proxy:             proxyFunc(s),
		DialContext:       newIPDialer(c.resolver, s).DialContext,
		TLSClientConfig:   tlsConfig,
		DisableKeepAlives: true,
		// The prober sends Accept-Encoding and decodes the body itself, so
		// that it can bound the encoded and the decoded size, and decode
		// whatever the request asked for.
		DisableCompression:     true,
		MaxResponseHeaderBytes: 1 << 20,
		Protocols:              &protocols,
		OnProxyConnectResponse: checkProxyConnect,
	}, nil
}

// tlsClientConfig returns base with the settings of tc applied over it. A
// setting tc leaves out keeps base's value. Without a client certificate,
// the configuration notes a server's request for one in the probe's tracer.
func tlsClientConfig(base *tls.Config, tc *commoncfg.TLSConfig) (*tls.Config, error) {
	cfg := base.Clone()
	if tc != nil {
		own, err := commoncfg.NewTLSConfig(tc)
		if err != nil {
			return nil, fmt.Errorf("tls_config: %w", err)
		}
		if own.RootCAs != nil {
			cfg.RootCAs = own.RootCAs
		}
		if own.ServerName != "" {
			cfg.ServerName = own.ServerName
		}
		if own.InsecureSkipVerify {
			cfg.InsecureSkipVerify = true
		}
		if own.MinVersion != 0 {
			cfg.MinVersion = own.MinVersion
		}
		if own.MaxVersion != 0 {
			cfg.MaxVersion = own.MaxVersion
		}
		if own.GetClientCertificate != nil {
			cfg.Certificates, cfg.GetClientCertificate = nil, own.GetClientCertificate
		}
	}
	if len(cfg.Certificates) == 0 && cfg.GetClientCertificate == nil {
		cfg.GetClientCertificate = noteCertificateRequest
	}
	return cfg, nil
}

// proxyFunc returns the transport's Proxy function for s, with the logic of
// prometheus/common's ProxyConfig: proxy_url for every request, or for the
// hosts no_proxy does not match, or the HTTP_PROXY, HTTPS_PROXY and
// NO_PROXY variables as they are when the transport is built. Neither of
// the last two proxies a request to localhost or a loopback address. Nil
// means no proxy.
func proxyFunc(s *config.ProbeSettings) func(*http.Request) (*url.URL, error) {
	pc := commoncfg.ProxyConfig{
		NoProxy:              s.NoProxy,
		ProxyFromEnvironment: s.ProxyFromEnv(),
	}
	if s.ProxyURL.URL != nil {
		pc.ProxyURL = commoncfg.URL{URL: s.ProxyURL.URL}
	}
	return pc.Proxy()
}

// proxyConnectError is a proxy's refusal to open a tunnel with CONNECT.
type proxyConnectError struct {
	status string
}

func (e *proxyConnectError) Error() string {
	return "the proxy refused the CONNECT tunnel: " + e.status
}

// checkProxyConnect turns a CONNECT response other than 200 into a
// proxyConnectError, which keeps the status code that net/http's own error
// drops.
func checkProxyConnect(_ context.Context, _ *url.URL, _ *http.Request, resp *http.Response) error {
	if resp.StatusCode != http.StatusOK {
		return &proxyConnectError{status: resp.Status}
	}
	return nil
}
