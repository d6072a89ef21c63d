package config

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// URL is an endpoint URL. It prints redacted (see RedactURL) through
// String, fmt, slog, encoding/json, encoding.TextMarshaler and
// encoding.BinaryMarshaler users and yaml.v3, because URLs often carry
// tokens. The embedded *url.URL holds the real URL for the prober.
type URL struct {
	*url.URL
}

// String returns the URL redacted by RedactURL, or "" if it is unset.
func (u URL) String() string {
	if u.URL == nil {
		return ""
	}
	return RedactURL(u.URL)
}

// LogValue keeps slog from printing credentials.
func (u URL) LogValue() slog.Value { return slog.StringValue(u.String()) }

// MarshalYAML writes the redacted URL.
func (u URL) MarshalYAML() (any, error) { return u.String(), nil }

// MarshalJSON writes the redacted URL.
func (u URL) MarshalJSON() ([]byte, error) { return json.Marshal(u.String()) }

// MarshalText writes the redacted URL.
func (u URL) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// MarshalBinary writes the redacted URL. It hides the method promoted from
// *url.URL, which writes the URL in full.
func (u URL) MarshalBinary() ([]byte, error) { return []byte(u.String()), nil }

// quotedText matches the %q-quoted parts of net/url error messages, which
// repeat pieces of the URL.
var quotedText = regexp.MustCompile(`\s*"(?:[^"\\]|\\.)*"`)

func (u *URL) decodeNode(n *yaml.Node) []nodeError {
	if n.Kind != yaml.ScalarNode {
		return errorAt(n, "expected a URL")
	}
	if n.Value == "" {
		u.URL = nil // validation reports the missing URL
		return nil
	}
	parsed, err := url.Parse(n.Value)
	if err != nil {
		return errorAt(n, "invalid URL: "+urlErrorText(err)+
			" (the URL is not shown because it may contain credentials)")
	}
	u.URL = parsed
	return nil
}

// urlErrorText returns the reason from a url.Parse error without any part
// of the URL: the url.Error wrapper quotes it whole, and messages such as
// `invalid port ":pw" after host` quote pieces of it, which may be a
// password when the URL is malformed.
func urlErrorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := strings.TrimPrefix(err.Error(), "net/url: ")
	return quotedText.ReplaceAllString(msg, "")
}

// UnmarshalYAML parses a URL. An empty string leaves it unset.
func (u *URL) UnmarshalYAML(n *yaml.Node) error { return typeError(u.decodeNode(n)) }

// sensitiveWords are substrings of query parameter names whose values are
// redacted when a URL is printed.
var sensitiveWords = []string{
	"token", "key", "secret", "pass", "pwd", "auth", "sig", "credential", "session", "jwt",
}

const redactedURLPart = "xxxxx"

// RedactURL returns u as a string with the password replaced by "xxxxx", as
// url.URL.Redacted does, a user name without a password (usually a token)
// replaced too, and also the values of query and fragment
// parameters whose names contain token, key, secret, pass, pwd, auth, sig,
// credential, session or jwt, and the whole opaque part of a URL such as
// "http:user:pw@host". A token in the path is not recognised.
func RedactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		if _, ok := c.User.Password(); ok {
			c.User = url.UserPassword(c.User.Username(), redactedURLPart)
		} else if c.User.Username() != "" {
			// A user name without a password is usually a token, as in
			// https://<token>@api.example.com/.
			c.User = url.User(redactedURLPart)
		}
	}
	if c.Opaque != "" {
		c.Opaque = redactedURLPart
	}
	c.RawQuery = redactParams(c.RawQuery)
	if c.Fragment != "" {
		c.Fragment, c.RawFragment = redactParams(c.Fragment), ""
	}
	return c.String()
}

// redactParams replaces the values of sensitive parameters in a query
// string. It splits on both '&' and ';' by hand instead of using
// url.ParseQuery, which drops pairs it cannot parse: a value left in such a
// pair would be printed unredacted.
func redactParams(query string) string {
	if query == "" {
		return ""
	}
	var b strings.Builder
	start := 0
	for i := 0; i <= len(query); i++ {
		if i < len(query) && query[i] != '&' && query[i] != ';' {
			continue
		}
		pair := query[start:i]
		if name, _, hasValue := strings.Cut(pair, "="); hasValue && isSensitiveParam(name) {
			pair = name + "=" + redactedURLPart
		}
		b.WriteString(pair)
		if i < len(query) {
			b.WriteByte(query[i])
		}
		start = i + 1
	}
	return b.String()
}

func isSensitiveParam(name string) bool {
	if unescaped, err := url.QueryUnescape(name); err == nil {
		name = unescaped
	}
	name = strings.ToLower(name)
	for _, w := range sensitiveWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}
