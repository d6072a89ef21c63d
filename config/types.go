package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in Prometheus style: 30s, 1m, 1h30m,
// 7d. A bare number is rejected, because YAML decodes 30 as a number and the
// unit would have to be guessed.
type Duration time.Duration

// UnmarshalYAML parses a Prometheus-style duration and reports the line on
// error.
func (d *Duration) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode {
		return typeErrorf(node, "expected a duration such as 30s or 1m")
	}
	if _, err := strconv.ParseFloat(node.Value, 64); err == nil && node.Value != "0" {
		return typeErrorf(node, "invalid duration %q: add a unit, for example %ss or %sm", node.Value, node.Value, node.Value)
	}
	v, err := model.ParseDuration(node.Value)
	if err != nil {
		return typeErrorf(node, "invalid duration %q: use a number with a unit (ms, s, m, h, d, w, y), for example 30s or 1h30m", node.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration in the form it was read.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes the duration as a string such as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d Duration) String() string { return model.Duration(d).String() }

// ByteSize is a number of bytes, written with a base-2 unit such as 512KiB or
// 1MiB, or as a plain number of bytes.
type ByteSize int64

// UnmarshalYAML parses a byte size and reports the line on error.
func (b *ByteSize) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode {
		return typeErrorf(node, "expected a size such as 1MiB")
	}
	if n, err := strconv.ParseInt(node.Value, 10, 64); err == nil {
		*b = ByteSize(n)
		return nil
	}
	v, err := units.ParseBase2Bytes(node.Value)
	if err != nil {
		return typeErrorf(node, "invalid size %q: use a number of bytes or a unit such as KiB or MiB", node.Value)
	}
	*b = ByteSize(v)
	return nil
}

// MarshalYAML writes the size with a base-2 unit.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

func (b ByteSize) String() string { return units.Base2Bytes(b).String() }

// Secret is a string that never prints: fmt, slog, JSON and YAML all see
// "<secret>". Value returns the real string to the code that needs it.
type Secret string

const redacted = "<secret>"

// Value returns the secret in clear text.
func (s Secret) Value() string { return string(s) }

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalYAML writes "<secret>" in place of the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON writes "<secret>" in place of the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText writes "<secret>" in place of the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalYAML reads a secret from a scalar.
func (s *Secret) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode {
		return typeErrorf(node, "expected a string")
	}
	*s = Secret(node.Value)
	return nil
}

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

func (m StatusMatcher) String() string {
	if m.Class != 0 {
		return strconv.Itoa(m.Class) + "xx"
	}
	return strconv.Itoa(m.Code)
}

// ParseStatusMatcher parses "200", "2xx" or "2XX".
func ParseStatusMatcher(s string) (StatusMatcher, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) == 3 && strings.HasSuffix(s, "xx") && s[0] >= '1' && s[0] <= '5' {
		return StatusMatcher{Class: int(s[0] - '0')}, nil
	}
	code, err := strconv.Atoi(s)
	if err != nil || code < 100 || code > 599 {
		return StatusMatcher{}, fmt.Errorf("invalid status %q: use a code from 100 to 599 or a class from 1xx to 5xx", s)
	}
	return StatusMatcher{Code: code}, nil
}

// StatusMatchers is a list of accepted status codes and classes. In YAML it
// is a single value or a list: 200, "2xx", [200, 204, 3xx].
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

func (ms StatusMatchers) String() string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, ", ")
}

// UnmarshalYAML reads a status code, a class, or a list of them.
func (ms *StatusMatchers) UnmarshalYAML(node *yaml.Node) error {
	items := []*yaml.Node{node}
	switch node.Kind {
	case yaml.SequenceNode:
		items = node.Content
	case yaml.ScalarNode:
	default:
		return typeErrorf(node, "expected a status code, a class such as 2xx, or a list of them")
	}
	var out StatusMatchers
	var errs []string
	for _, item := range items {
		if item.Kind != yaml.ScalarNode {
			errs = append(errs, positionf(item, "expected a status code or a class such as 2xx"))
			continue
		}
		m, err := ParseStatusMatcher(item.Value)
		if err != nil {
			errs = append(errs, positionf(item, "%s", err))
			continue
		}
		out = append(out, m)
	}
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	*ms = out
	return nil
}

// MarshalYAML writes the list as strings.
func (ms StatusMatchers) MarshalYAML() (any, error) {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return out, nil
}

// typeErrorf returns a yaml.TypeError, which yaml.v3 collects with the other
// decoding errors instead of stopping at the first one.
func typeErrorf(node *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{positionf(node, format, args...)}}
}

func positionf(node *yaml.Node, format string, args ...any) string {
	return fmt.Sprintf("line %d: column %d: %s", node.Line, node.Column, fmt.Sprintf(format, args...))
}
