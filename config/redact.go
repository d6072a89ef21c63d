package config

import (
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// sensitiveQueryWords are substrings of query parameter names whose values
// are redacted when a URL is printed.
var sensitiveQueryWords = []string{"token", "key", "secret", "pass", "pwd", "auth", "sig", "credential", "session"}

// RedactURL returns u as a string with the userinfo password and the values
// of query parameters whose names look secret (token, api_key, sig, ...)
// replaced by "xxxxx".
func RedactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		if _, ok := c.User.Password(); ok {
			c.User = url.UserPassword(c.User.Username(), "xxxxx")
		}
	}
	if c.RawQuery != "" {
		q := c.Query()
		changed := false
		for name, values := range q {
			if !isSensitiveParam(name) {
				continue
			}
			for i := range values {
				values[i] = "xxxxx"
			}
			changed = true
		}
		if changed {
			c.RawQuery = q.Encode()
		}
	}
	return c.String()
}

func isSensitiveParam(name string) bool {
	name = strings.ToLower(name)
	for _, w := range sensitiveQueryWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// UnmarshalYAML parses an absolute URL.
func (u *URL) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode {
		return typeErrorf(node, "expected a URL")
	}
	parsed, err := url.Parse(node.Value)
	if err != nil {
		// url.Error quotes the whole URL, credentials included.
		if ue, ok := err.(*url.Error); ok {
			err = ue.Err
		}
		return typeErrorf(node, "invalid URL: %v", err)
	}
	u.URL = parsed
	return nil
}
