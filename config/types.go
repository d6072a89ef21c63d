package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in Prometheus style: 30s, 1m, 1h30m,
// 7d. A bare number other than 0 is rejected, because its unit would have to
// be guessed: decoding 30 as a time.Duration gives 30ns.
type Duration time.Duration

func (d *Duration) decodeNode(n *yaml.Node) []nodeError {
	if n.Kind != yaml.ScalarNode {
		return errorAt(n, "expected a duration such as 30s or 1m")
	}
	if _, err := strconv.ParseUint(n.Value, 10, 64); err == nil && n.Value != "0" {
		return errorAt(n, fmt.Sprintf("invalid duration %q: add a unit, for example %ss", n.Value, n.Value))
	}
	if strings.HasPrefix(n.Value, "-") {
		return errorAt(n, fmt.Sprintf("invalid duration %q: must not be negative", n.Value))
	}
	v, err := model.ParseDuration(n.Value)
	if err != nil && err.Error() == "duration out of range" {
		return errorAt(n, fmt.Sprintf("invalid duration %q: too long, the longest is about 292y", n.Value))
	}
	if err != nil {
		return errorAt(n, fmt.Sprintf(
			"invalid duration %q: use a number with a unit (ms, s, m, h, d, w, y), for example 30s or 1h30m",
			n.Value))
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML parses a Prometheus-style duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error { return typeError(d.decodeNode(n)) }

// MarshalYAML writes the duration in Prometheus style, such as 1h30m.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes the duration as a string in Prometheus style.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// String formats the duration in Prometheus style, such as 1h30m or 7d.
func (d Duration) String() string { return model.Duration(d).String() }

// ByteSize is a positive number of bytes, written as a plain number or with
// a base-2 unit: 512KiB, 1MiB (MB is read as MiB).
type ByteSize int64

func (b *ByteSize) decodeNode(n *yaml.Node) []nodeError {
	if n.Kind != yaml.ScalarNode {
		return errorAt(n, "expected a size such as 1MiB")
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		var p units.Base2Bytes
		p, err = units.ParseBase2Bytes(n.Value)
		v = int64(p)
	}
	switch {
	case err != nil:
		return errorAt(n, fmt.Sprintf("invalid size %q: use a number of bytes or a unit such as KiB or MiB", n.Value))
	case v < 1:
		// units converts through float64, so an overflow also ends here.
		return errorAt(n, fmt.Sprintf("invalid size %q: must be at least 1 byte and less than 8EiB", n.Value))
	}
	*b = ByteSize(v)
	return nil
}

// UnmarshalYAML parses a byte size.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error { return typeError(b.decodeNode(n)) }

// MarshalYAML writes the size with a base-2 unit, such as 1MiB.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

// String formats the size with a base-2 unit, such as 1MiB.
func (b ByteSize) String() string { return units.Base2Bytes(b).String() }

// Secret is a string that never prints: fmt with any verb, slog,
// encoding/json, encoding.TextMarshaler users and yaml.v3 all see
// "<secret>", or "" for an empty secret. Value returns the real string to
// the code that needs it. The zero value is the empty secret.
type Secret struct {
	// value points at the text because fmt prints a nested pointer as an
	// address. While it reports a bad verb, such as %s on a struct with an
	// int field, fmt calls no methods and would print a string field as is.
	value *string
}

const redacted = "<secret>"

// NewSecret returns a Secret holding s.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{value: &s}
}

// Value returns the secret in clear text.
func (s Secret) Value() string {
	if s.value == nil {
		return ""
	}
	return *s.value
}

// IsZero reports whether the secret is empty. yaml.v3 calls it for
// omitempty.
func (s Secret) IsZero() bool { return s.Value() == "" }

// String returns "<secret>", or "" if the secret is empty.
func (s Secret) String() string {
	if s.IsZero() {
		return ""
	}
	return redacted
}

// Format prints String for every fmt verb, quoted for %q and %#v.
func (s Secret) Format(f fmt.State, verb rune) {
	text := s.String()
	if verb == 'q' || verb == 'v' && f.Flag('#') {
		text = strconv.Quote(text)
	}
	_, _ = io.WriteString(f, text)
}

// LogValue keeps slog from printing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalYAML writes "<secret>" in place of the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON writes "<secret>" in place of the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText writes "<secret>" in place of the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Secret) decodeNode(n *yaml.Node) []nodeError {
	if n.Kind != yaml.ScalarNode {
		return errorAt(n, "expected a string")
	}
	*s = NewSecret(n.Value)
	return nil
}

// UnmarshalYAML reads a secret from a scalar.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error { return typeError(s.decodeNode(n)) }

// errorAt returns a single problem at n.
func errorAt(n *yaml.Node, msg string) []nodeError {
	return []nodeError{{node: n, msg: msg}}
}

// typeError turns problems into a yaml.TypeError, which yaml.v3 collects
// with its other decoding errors instead of stopping at the first one.
func typeError(errs []nodeError) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = fmt.Sprintf("line %d: column %d: %s", e.node.Line, e.node.Column, e.msg)
	}
	return &yaml.TypeError{Errors: msgs}
}
