package config

import (
	"path/filepath"
	"slices"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"golang.org/x/net/http/httpguts"
)

// validateProbeSettings checks the request settings of owner (the global
// block, a company or an endpoint) found at path, reads the secrets they
// keep in files, relative to file, and resolves TLS file names the same way.
func (l *loader) validateProbeSettings(it item, owner any, path []any, s *ProbeSettings, file string) {
	at := func(keys ...any) []any { return append(slices.Clone(path), keys...) }
	ok := func(key string) bool { return l.fieldOK(owner, key) }
	if ok("headers") {
		for _, name := range sortedKeys(s.Headers) {
			if !httpguts.ValidHeaderFieldName(name) {
				l.errorf(it, at("headers", keyOf(name)), "invalid header name %q", name)
			} else if !httpguts.ValidHeaderFieldValue(s.Headers[name].Value()) {
				l.errorf(it, at("headers", name), "invalid value: a header value cannot contain line breaks or control characters")
			}
		}
	}
	if ok("basic_auth") && s.BasicAuth != nil {
		l.validateBasicAuth(it, at("basic_auth"), s.BasicAuth, file)
	}
	if ok("bearer_token") && ok("bearer_token_file") {
		switch {
		case !s.BearerToken.IsZero() && s.BearerTokenFile != "":
			l.errorf(it, at("bearer_token"), "set either bearer_token or bearer_token_file, not both")
		case s.BearerTokenFile != "":
			if v, ok := l.readSecret(it, at("bearer_token_file"), file, s.BearerTokenFile); ok {
				s.BearerToken = v
			}
		}
		if s.BasicAuth != nil && (!s.BearerToken.IsZero() || s.BearerTokenFile != "") {
			l.errorf(it, at("bearer_token"), "set either basic_auth or a bearer token, not both")
		}
	}
	if ok("tls_config") && s.TLSConfig != nil {
		s.TLSConfig.SetDirectory(filepath.Dir(file))
		if err := s.TLSConfig.Validate(); err != nil {
			l.errorf(it, at("tls_config"), "%v", err)
		} else if _, err := commoncfg.NewTLSConfig(s.TLSConfig); err != nil {
			l.errorf(it, at("tls_config"), "%v", err)
		}
	}
	if ok("proxy_url") && s.ProxyURL.URL != nil {
		switch u := s.ProxyURL.URL; {
		case u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5":
			l.errorf(it, at("proxy_url"), "unsupported proxy scheme %q: use http, https or socks5", u.Scheme)
		case u.Hostname() == "":
			l.errorf(it, at("proxy_url"), "missing host")
		case !validPort(u):
			l.errorf(it, at("proxy_url"), "invalid port: use a number from 1 to 65535")
		}
		if s.ProxyFromEnv() {
			l.errorf(it, at("proxy_from_environment"), "set either proxy_url or proxy_from_environment, not both")
		}
	}
	if ok("no_proxy") && s.NoProxy != "" && s.ProxyURL.URL == nil {
		l.errorf(it, at("no_proxy"), "applies only with proxy_url")
	}
	if ok("ip_protocol") && s.IPProtocol != "" && !slices.Contains([]string{"ip4", "ip6", "any"}, s.IPProtocol) {
		l.errorf(it, at("ip_protocol"), "invalid value %q: use ip4, ip6 or any", s.IPProtocol)
	}
	if ok("preferred_ip_protocol") && s.PreferredIPProtocol != "" && !slices.Contains([]string{"ip4", "ip6"}, s.PreferredIPProtocol) {
		l.errorf(it, at("preferred_ip_protocol"), "invalid value %q: use ip4 or ip6", s.PreferredIPProtocol)
	}
	if ok("retries") && s.Retries != nil && (*s.Retries < 0 || *s.Retries > MaxRetries) {
		l.errorf(it, at("retries"), "must be from 0 to %d, got %d", MaxRetries, *s.Retries)
	}
	// The defaults replace a retry_delay of 0, so only the YAML node shows
	// whether 0 was written.
	if ok("retry_delay") && (s.RetryDelay < 0 || s.RetryDelay == 0 && isSet(nodeAt(it.node, path), "retry_delay")) {
		l.errorf(it, at("retry_delay"), "must be positive, got %s", s.RetryDelay)
	}
}

func (l *loader) validateBasicAuth(it item, path []any, b *BasicAuth, file string) {
	at := func(key string) []any { return append(slices.Clone(path), key) }
	if b.Username == "" {
		l.errorf(it, at("username"), "missing username")
	}
	switch {
	case !b.Password.IsZero() && b.PasswordFile != "":
		l.errorf(it, at("password"), "set either password or password_file, not both")
	case b.PasswordFile != "":
		if v, ok := l.readSecret(it, at("password_file"), file, b.PasswordFile); ok {
			b.Password = v
		}
	}
}

// readSecret reads a secret from name, relative to the directory of file.
func (l *loader) readSecret(it item, path []any, file, name string) (Secret, bool) {
	v, err := readSecretFile(file, name)
	switch {
	case err != nil:
		l.errorf(it, path, "reading the file: %v", err)
		return Secret{}, false
	case v == "":
		l.errorf(it, path, "file %s is empty", name)
		return Secret{}, false
	}
	return NewSecret(v), true
}

// httpOnlyKeys and httpOnlyExpectKeys are the endpoint settings and the
// expectations that only http:// and https:// endpoints accept.
var (
	httpOnlyKeys = []string{"method", "body", "body_file", "follow_redirects", "max_redirects", "headers",
		"basic_auth", "bearer_token", "bearer_token_file", "proxy_url", "no_proxy", "proxy_from_environment",
		"enable_http2"}
	httpOnlyExpectKeys = []string{"status", "fail_if_body_too_large", "body_contains", "body_not_contains",
		"body_regex", "body_not_regex", "json", "headers"}
)

// validateProbe checks the settings that depend on the endpoint's kind:
// the request of an HTTP endpoint, the TCP and gRPC blocks, and the
// expectations, and that retries fit between two probes.
func (l *loader) validateProbe(e *Endpoint, c *Company, cfg *Config, it item, period time.Duration, knownPeriod bool) {
	kind := e.Kind()
	ok := func(key string) bool { return l.fieldOK(e, key) }
	set := func(key string) bool { return isSet(it.node, key) }
	onlyFor := func(key, kinds string) {
		l.errorf(it, []any{key}, "applies only to %s endpoints", kinds)
	}
	if kind != KindHTTP {
		for _, key := range httpOnlyKeys {
			if set(key) {
				onlyFor(key, "http and https")
			}
		}
	}
	if set("tls_config") && kind != KindHTTP && !usesTLS(e) {
		l.errorf(it, []any{"tls_config"}, "applies only with TLS: use grpcs://, or set tcp.tls: true")
	}
	if kind == KindTCP && e.TCP.Expect != nil && e.TCP.Expect.Regexp != nil && e.TCP.Expect.String() == "" {
		l.errorf(it, []any{"tcp", "expect"}, "empty: it would match any answer; remove it to check only the connection")
	}
	if kind != KindTCP && set("tcp") {
		onlyFor("tcp", "tcp://")
	}
	if kind != KindGRPC && set("grpc") {
		onlyFor("grpc", "grpc:// and grpcs://")
	}
	if ok("method") && e.Method != "" && !validMethod(e.Method) {
		l.errorf(it, []any{"method"}, "invalid method %q: use an HTTP method such as GET, HEAD or POST", e.Method)
	}
	if ok("body") && ok("body_file") {
		switch {
		case e.Body != "" && e.BodyFile != "":
			l.errorf(it, []any{"body"}, "set either body or body_file, not both")
		case e.BodyFile != "":
			name := e.BodyFile
			if !filepath.IsAbs(name) {
				name = filepath.Join(filepath.Dir(c.File), name)
			}
			if data, err := readFile(name, maxBodyFileSize); err != nil {
				l.errorf(it, []any{"body_file"}, "reading the file: %v", err)
			} else {
				e.Body = string(data)
			}
		}
	}
	if ok("expect") {
		l.validateExpect(e, cfg, c, it, kind)
	}
	if knownPeriod {
		l.checkRetryBudget(e, c, cfg, it, period)
	}
}

// maxBodyFileSize bounds a request body read from body_file.
const maxBodyFileSize = 1 << 20

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, r := range m {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

func (l *loader) validateExpect(e *Endpoint, cfg *Config, c *Company, it item, kind string) {
	x := &e.Expect
	at := func(key string) []any { return []any{"expect", key} }
	node := nodeAt(it.node, []any{"expect"})
	set := func(key string) bool { return isSet(node, key) }
	if kind != KindHTTP {
		for _, key := range httpOnlyExpectKeys {
			if set(key) {
				l.errorf(it, at(key), "applies only to http and https endpoints")
			}
		}
	}
	for _, name := range sortedKeys(x.Headers) {
		if !httpguts.ValidHeaderFieldName(name) {
			l.errorf(it, []any{"expect", "headers", keyOf(name)}, "invalid header name %q", name)
		}
	}
	if set("max_duration") {
		timeout := effectiveTimeout(e, cfg)
		switch {
		case x.MaxDuration <= 0:
			l.errorf(it, at("max_duration"), "must be longer than 0s")
		case timeout > 0 && x.MaxDuration >= timeout:
			l.errorf(it, at("max_duration"), "%s is not shorter than the timeout %s, so no probe could be slow without timing out", x.MaxDuration, timeout)
		}
	}
	if set("tls_cert_min_days") {
		switch {
		case x.TLSCertMinDays < 1:
			l.errorf(it, at("tls_cert_min_days"), "must be at least 1, got %d", x.TLSCertMinDays)
		case x.TLSCertMinDays > MaxTLSCertMinDays:
			l.errorf(it, at("tls_cert_min_days"), "must be at most %d (100 years), got %d", MaxTLSCertMinDays, x.TLSCertMinDays)
		case !usesTLS(e):
			l.errorf(it, at("tls_cert_min_days"), "applies only to endpoints that use TLS: https://, grpcs://, or tcp:// with tcp.tls")
		}
	}
}

// usesTLS reports whether the endpoint's connection is TLS.
func usesTLS(e *Endpoint) bool {
	if e.URL.URL == nil {
		return false
	}
	switch e.URL.Scheme {
	case "https", "grpcs":
		return true
	case "tcp":
		return e.TCP.TLS
	}
	return false
}

// effectiveTimeout returns the timeout the endpoint will run with, or 0 if
// it is not known yet.
func effectiveTimeout(e *Endpoint, cfg *Config) Duration {
	if e.Timeout > 0 {
		return e.Timeout
	}
	return firstNonZero(cfg.Global.Timeout, DefaultTimeout)
}

// checkRetryBudget rejects retries that cannot fit in the time between two
// probes: every attempt may take the whole timeout.
func (l *loader) checkRetryBudget(e *Endpoint, c *Company, cfg *Config, it item, period time.Duration) {
	retries, delay := 0, DefaultRetryDelay
	for _, s := range []*ProbeSettings{&cfg.Global.ProbeSettings, &c.ProbeSettings, &e.ProbeSettings} {
		if s.Retries != nil {
			retries = *s.Retries
		}
		if s.RetryDelay > 0 {
			delay = s.RetryDelay
		}
	}
	if retries <= 0 {
		return
	}
	timeout := time.Duration(effectiveTimeout(e, cfg))
	if e.Timeout == 0 {
		timeout = min(timeout, period)
	}
	budget := time.Duration(retries+1)*timeout + time.Duration(retries)*time.Duration(delay)
	if budget > period {
		l.errorf(it, []any{"retries"}, "%d retries of a %s timeout, %s apart, can take %s, longer than the %s between probes: lower retries or timeout",
			retries, Duration(timeout), delay, Duration(budget), Duration(period))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
