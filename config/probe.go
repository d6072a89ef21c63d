package config

import (
	"fmt"
	"regexp"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"gopkg.in/yaml.v3"
)

// Probe kinds, chosen by the URL scheme: http and https probe HTTP; tcp
// opens a TCP connection; grpc and grpcs call the gRPC health checking
// protocol, in clear text or over TLS.
const (
	KindHTTP = "http"
	KindTCP  = "tcp"
	KindGRPC = "grpc"
)

// Defaults of the probe settings.
const (
	DefaultMethod              = "GET"
	DefaultIPProtocol          = "any"
	DefaultPreferredIPProtocol = "ip6"
	DefaultRetryDelay          = Duration(time.Second)
	MaxRetries                 = 10
)

// ProbeSettings are the request settings that an endpoint inherits from its
// company, and a company from the global block. A setting an endpoint sets
// replaces the inherited one, except headers, which merge by name.
type ProbeSettings struct {
	// Headers are sent with every HTTP request. Their values print as
	// "<secret>", because API keys are often sent as headers.
	Headers   map[string]Secret `yaml:"headers,omitempty"`
	BasicAuth *BasicAuth        `yaml:"basic_auth,omitempty"`
	// BearerToken is sent as "Authorization: Bearer <token>".
	BearerToken     Secret `yaml:"bearer_token,omitempty"`
	BearerTokenFile string `yaml:"bearer_token_file,omitempty"`
	// TLSConfig holds ca_file, cert_file, key_file, server_name,
	// insecure_skip_verify, min_version and the other settings of
	// Prometheus's tls_config. File names are relative to the file that
	// names them.
	TLSConfig *commoncfg.TLSConfig `yaml:"tls_config,omitempty"`
	// ProxyURL sends HTTP probes through a proxy. Environment variables
	// such as HTTPS_PROXY are ignored unless ProxyFromEnvironment is set;
	// NoProxy lists hosts that bypass ProxyURL, as NO_PROXY does.
	ProxyURL             URL    `yaml:"proxy_url,omitempty"`
	NoProxy              string `yaml:"no_proxy,omitempty"`
	ProxyFromEnvironment *bool  `yaml:"proxy_from_environment,omitempty"`
	// IPProtocol is ip4 or ip6 to use only that address family, or any to
	// try both, PreferredIPProtocol first, falling back after 300 ms.
	IPProtocol          string `yaml:"ip_protocol,omitempty"`
	PreferredIPProtocol string `yaml:"preferred_ip_protocol,omitempty"`
	// EnableHTTP2 offers HTTP/2 in the TLS handshake. Off by default: a
	// probe is HTTP/1.1.
	EnableHTTP2 *bool `yaml:"enable_http2,omitempty"`
	// Retries is how many times a failed probe is tried again, RetryDelay
	// apart, before it counts as one failure.
	Retries    *int     `yaml:"retries,omitempty"`
	RetryDelay Duration `yaml:"retry_delay,omitempty"`
}

// BasicAuth holds HTTP basic authentication credentials.
type BasicAuth struct {
	Username     string `yaml:"username"`
	Password     Secret `yaml:"password,omitempty"`
	PasswordFile string `yaml:"password_file,omitempty"`
}

// TCPSettings configure a tcp:// endpoint.
type TCPSettings struct {
	// TLS starts a TLS handshake on the connection, with tls_config.
	TLS bool `yaml:"tls,omitempty"`
	// Send is written after connecting, for example "PING\r\n".
	Send string `yaml:"send,omitempty"`
	// Expect must match what the server sends, read until it matches, the
	// server closes, body_size_limit is reached or the timeout ends.
	Expect *Regexp `yaml:"expect,omitempty"`
}

// GRPCSettings configure a grpc:// or grpcs:// endpoint.
type GRPCSettings struct {
	// Service is the service name sent in the health check request; empty
	// asks about the server as a whole.
	Service string `yaml:"service,omitempty"`
}

// Regexp is a regular expression in Go's RE2 syntax, compiled at load.
type Regexp struct {
	*regexp.Regexp
}

func (r *Regexp) decodeNode(n *yaml.Node) []nodeError {
	if n.Kind != yaml.ScalarNode {
		return errorAt(n, "expected a regular expression")
	}
	re, err := regexp.Compile(n.Value)
	if err != nil {
		return errorAt(n, fmt.Sprintf("invalid regular expression %q: %v", n.Value, err))
	}
	r.Regexp = re
	return nil
}

// UnmarshalYAML compiles a regular expression.
func (r *Regexp) UnmarshalYAML(n *yaml.Node) error { return typeError(r.decodeNode(n)) }

// MarshalYAML writes the expression as written.
func (r Regexp) MarshalYAML() (any, error) {
	if r.Regexp == nil {
		return nil, nil
	}
	return r.String(), nil
}

// StringList is a list of strings written as one string or a list.
type StringList []string

func (l *StringList) decodeNode(n *yaml.Node) []nodeError {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	var out StringList
	var errs []nodeError
	for _, item := range items {
		item = aliasTarget(item)
		if item == nil || item.Kind != yaml.ScalarNode {
			errs = append(errs, nodeError{node: n, msg: "expected a string or a list of strings"})
			continue
		}
		out = append(out, item.Value)
	}
	*l = out
	return errs
}

// UnmarshalYAML reads one string or a list.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error { return typeError(l.decodeNode(n)) }

// RegexpList is a list of regular expressions written as one or a list.
type RegexpList []Regexp

func (l *RegexpList) decodeNode(n *yaml.Node) []nodeError {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	var out RegexpList
	var errs []nodeError
	for _, item := range items {
		var r Regexp
		if e := r.decodeNode(aliasTarget(item)); len(e) > 0 {
			errs = append(errs, e...)
			continue
		}
		out = append(out, r)
	}
	*l = out
	return errs
}

// UnmarshalYAML compiles one expression or a list.
func (l *RegexpList) UnmarshalYAML(n *yaml.Node) error { return typeError(l.decodeNode(n)) }

// Kind returns the probe kind from the URL scheme.
func (e *Endpoint) Kind() string {
	if e.URL.URL == nil {
		return KindHTTP
	}
	switch e.URL.Scheme {
	case "tcp":
		return KindTCP
	case "grpc", "grpcs":
		return KindGRPC
	}
	return KindHTTP
}

// inherit fills every setting of s that is unset from parent.
func (s *ProbeSettings) inherit(parent *ProbeSettings) {
	if len(parent.Headers) > 0 {
		merged := make(map[string]Secret, len(parent.Headers)+len(s.Headers))
		for k, v := range parent.Headers {
			merged[k] = v
		}
		for k, v := range s.Headers {
			merged[k] = v
		}
		s.Headers = merged
	}
	if s.BasicAuth == nil && s.BearerToken.IsZero() {
		s.BasicAuth, s.BearerToken = parent.BasicAuth, parent.BearerToken
	}
	if s.TLSConfig == nil {
		s.TLSConfig = parent.TLSConfig
	}
	if s.ProxyURL.URL == nil {
		s.ProxyURL, s.NoProxy = parent.ProxyURL, parent.NoProxy
	}
	if s.ProxyFromEnvironment == nil {
		s.ProxyFromEnvironment = parent.ProxyFromEnvironment
	}
	s.IPProtocol = firstNonZero(s.IPProtocol, parent.IPProtocol)
	s.PreferredIPProtocol = firstNonZero(s.PreferredIPProtocol, parent.PreferredIPProtocol)
	if s.EnableHTTP2 == nil {
		s.EnableHTTP2 = parent.EnableHTTP2
	}
	if s.Retries == nil {
		s.Retries = parent.Retries
	}
	s.RetryDelay = firstNonZero(s.RetryDelay, parent.RetryDelay)
}

// setProbeDefaults fills the built-in defaults of the global block.
func (s *ProbeSettings) setProbeDefaults() {
	s.IPProtocol = firstNonZero(s.IPProtocol, DefaultIPProtocol)
	s.PreferredIPProtocol = firstNonZero(s.PreferredIPProtocol, DefaultPreferredIPProtocol)
	s.RetryDelay = firstNonZero(s.RetryDelay, DefaultRetryDelay)
	if s.Retries == nil {
		zero := 0
		s.Retries = &zero
	}
	if s.EnableHTTP2 == nil {
		off := false
		s.EnableHTTP2 = &off
	}
	if s.ProxyFromEnvironment == nil {
		off := false
		s.ProxyFromEnvironment = &off
	}
}

// RetryCount returns how many times a failed probe is retried.
func (s *ProbeSettings) RetryCount() int {
	if s.Retries == nil {
		return 0
	}
	return *s.Retries
}

// HTTP2 reports whether HTTP/2 is offered.
func (s *ProbeSettings) HTTP2() bool { return s.EnableHTTP2 != nil && *s.EnableHTTP2 }

// ProxyFromEnv reports whether the proxy environment variables apply.
func (s *ProbeSettings) ProxyFromEnv() bool {
	return s.ProxyFromEnvironment != nil && *s.ProxyFromEnvironment
}
