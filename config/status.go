package config

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// StatusMatcher matches an HTTP status code exactly (200) or by class (2xx).
type StatusMatcher struct {
	Code  int // exact code, or 0
	Class int // 1 to 5 for 1xx to 5xx, or 0
}

// Matches reports whether code is accepted.
func (m StatusMatcher) Matches(code int) bool {
	if m.Class != 0 {
		return code/100 == m.Class
	}
	return code == m.Code
}

// String formats the matcher as 200 or 2xx.
func (m StatusMatcher) String() string {
	if m.Class != 0 {
		return strconv.Itoa(m.Class) + "xx"
	}
	return strconv.Itoa(m.Code)
}

// ParseStatusMatcher parses "200", "2xx" or "2XX".
func ParseStatusMatcher(s string) (StatusMatcher, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	if len(v) == 3 && strings.HasSuffix(v, "xx") && v[0] >= '1' && v[0] <= '5' {
		return StatusMatcher{Class: int(v[0] - '0')}, nil
	}
	code, err := strconv.Atoi(v)
	if err != nil || code < 100 || code > 599 {
		return StatusMatcher{}, fmt.Errorf("invalid status %q: use a code from 100 to 599 or a class from 1xx to 5xx", s)
	}
	return StatusMatcher{Code: code}, nil
}

// StatusMatchers is a list of accepted status codes and classes. In YAML it
// is a single value or a non-empty list: 200, "2xx", [200, 204, 3xx].
type StatusMatchers []StatusMatcher

// Matches reports whether any matcher accepts code.
func (ms StatusMatchers) Matches(code int) bool {
	for _, m := range ms {
		if m.Matches(code) {
			return true
		}
	}
	return false
}

// String formats the list as "200, 3xx".
func (ms StatusMatchers) String() string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, ", ")
}

func (ms *StatusMatchers) decodeNode(n *yaml.Node) []nodeError {
	items := []*yaml.Node{n}
	switch n.Kind {
	case yaml.SequenceNode:
		items = n.Content
		if len(items) == 0 {
			return errorAt(n, "empty list: give at least one status code or class, or remove the key to accept 2xx")
		}
	case yaml.ScalarNode:
	default:
		return errorAt(n, "expected a status code, a class such as 2xx, or a list of them")
	}
	out := make(StatusMatchers, 0, len(items))
	var errs []nodeError
	for _, item := range items {
		value := aliasTarget(item)
		if value == nil || value.Kind != yaml.ScalarNode {
			errs = append(errs, nodeError{item, "expected a status code or a class such as 2xx"})
			continue
		}
		m, err := ParseStatusMatcher(value.Value)
		if err != nil {
			errs = append(errs, nodeError{item, err.Error()})
			continue
		}
		out = append(out, m)
	}
	if len(errs) > 0 {
		return errs
	}
	*ms = out
	return nil
}

// UnmarshalYAML reads a status code, a class, or a list of them.
func (ms *StatusMatchers) UnmarshalYAML(n *yaml.Node) error { return typeError(ms.decodeNode(n)) }

// MarshalYAML writes the list as strings.
func (ms StatusMatchers) MarshalYAML() (any, error) {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return out, nil
}
