package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// expandEnv replaces ${NAME} in every scalar value under n with the value
// of environment variable NAME, looked up through lookup. "$${" stands for
// a literal "${", and a "$" not followed by "{" is kept as it is, so that
// regular expressions and passwords with dollar signs need no escaping.
// Keys are not expanded. A reference to an unset variable is an error at
// the value's position, so that a missing secret never becomes an empty
// string silently.
func expandEnv(n *yaml.Node, lookup func(string) (string, bool)) []nodeError {
	var errs []nodeError
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 {
				walk(n.Content[i])
			}
		case yaml.AliasNode:
			walk(n.Alias)
		case yaml.ScalarNode:
			if !strings.Contains(n.Value, "${") {
				return
			}
			v, err := expandString(n.Value, lookup)
			if err != nil {
				errs = append(errs, nodeError{node: n, msg: err.Error()})
				return
			}
			n.Value = v
			const typedStyles = yaml.TaggedStyle | yaml.SingleQuotedStyle | yaml.DoubleQuotedStyle |
				yaml.LiteralStyle | yaml.FoldedStyle
			if n.Style&typedStyles == 0 {
				// Resolve a plain, untagged scalar's type again from its
				// new text, so that "failure_threshold: ${N}" reads as a
				// number. A quoted one stays a string.
				n.Tag = ""
			}
		}
	}
	walk(n)
	return errs
}

// expandString expands the ${NAME} references in s. Its errors never
// quote the text around a reference, which may be a secret.
func expandString(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	offset := 0 // of s in the original value, for messages
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			// "$${" is a literal "${".
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s, offset = s[i+2:], offset+i+2
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ at character %d of the value: "+
				"close it with } or write $${ for a literal ${", offset+i+1)
		}
		name := s[i+2 : i+end]
		if !validEnvName(name) {
			return "", invalidEnvName(name, offset+i+1)
		}
		v, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(v)
		s, offset = s[i+end+1:], offset+i+end+1
	}
}

// invalidEnvName describes the invalid name in the ${...} at character pos
// of a value. It quotes the name only when it is short and has no space, as
// a variable name would, because anything else may be a secret pasted
// between the braces.
func invalidEnvName(name string, pos int) error {
	const hint = "use letters, digits and _, not starting with a digit"
	if strings.ContainsAny(name, ":-=?+") {
		return fmt.Errorf("invalid ${...} at character %d of the value: "+
			"shell forms such as ${NAME:-default} are not supported; %s", pos, hint)
	}
	if name == "" || len(name) > 64 || strings.ContainsAny(name, " \t") {
		return fmt.Errorf("invalid environment variable name in the ${...} at character %d of the value: %s", pos, hint)
	}
	return fmt.Errorf("invalid environment variable name %q in ${...}: %s", name, hint)
}

func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
