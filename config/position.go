package config

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The loader keeps the YAML node of each company, endpoint and global block
// until validation is done, so that an error about a decoded value can
// point at the line that set it. The helpers here walk those nodes.

// aliasTarget returns the node an alias refers to, or n itself.
func aliasTarget(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// lookup returns the key and value nodes of key in mapping n, following
// aliases and "<<" merge keys the way the decoder does. The value may be an
// alias.
func lookup(n *yaml.Node, key string) (k, value *yaml.Node) {
	n = aliasTarget(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	merges := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if kn := n.Content[i]; kn.Kind == yaml.ScalarNode && kn.Value == key {
			return kn, n.Content[i+1]
		}
		merges = merges || isMergeKey(n.Content[i])
	}
	if !merges {
		return nil, nil
	}
	mergedPairs(n, func(kn, vn *yaml.Node) {
		if k == nil && kn.Value == key {
			k, value = kn, vn
		}
	})
	return k, value
}

// scalarValue returns the value of key in mapping n if it is a scalar, or "".
func scalarValue(n *yaml.Node, key string) string {
	_, v := lookup(n, key)
	if v = aliasTarget(v); v != nil && v.Kind == yaml.ScalarNode && !isNull(v) {
		return v.Value
	}
	return ""
}

// isSet reports whether mapping n gives key a non-null value.
func isSet(n *yaml.Node, key string) bool {
	_, v := lookup(n, key)
	v = aliasTarget(v)
	return v != nil && !isNull(v)
}

// keyOf is a path step that leads to a mapping key itself rather than its
// value, for errors about the key, such as an invalid label name.
type keyOf string

// position returns the line and column for an error about the value that
// path leads to from n, a list of mapping keys (string or keyOf) and
// sequence indexes (int). A scalar is reported at its value and a mapping
// or list at its key. When the path ends early, because the value is absent and
// comes from a default, the position is that of the deepest node found,
// which is the enclosing item.
func position(n *yaml.Node, path ...any) (line, col int) {
	n = aliasTarget(n)
	if n == nil {
		return 0, 0
	}
	line, col = n.Line, n.Column
	for _, step := range path {
		switch s := step.(type) {
		case keyOf:
			if k, _ := lookup(n, string(s)); k != nil {
				return k.Line, k.Column
			}
			return line, col
		case string:
			k, raw := lookup(n, s)
			v := aliasTarget(raw)
			if k == nil || v == nil {
				return line, col
			}
			line, col = k.Line, k.Column
			if v.Kind == yaml.ScalarNode && !isNull(v) {
				line, col = raw.Line, raw.Column
			}
			n = v
		case int:
			if n == nil || n.Kind != yaml.SequenceNode || s < 0 || s >= len(n.Content) {
				return line, col
			}
			line, col = n.Content[s].Line, n.Content[s].Column
			n = aliasTarget(n.Content[s])
		}
	}
	return line, col
}

// fieldPath renders path as a dotted key path with list indexes, such as
// contacts.pagerduty[0].routing_key.
func fieldPath(path []any) string {
	var b strings.Builder
	for _, step := range path {
		switch s := step.(type) {
		case string, keyOf:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, s)
		case int:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s))
			b.WriteByte(']')
		}
	}
	return b.String()
}
