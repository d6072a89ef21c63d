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
			if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
				// Resolve a plain scalar's type again from its new text,
				// so that "failure_threshold: ${N}" reads as a number.
				n.Tag = ""
			}
		}
	}
	walk(n)
	return errs
}

// expandString expands the ${NAME} references in s.
func expandString(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
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
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ in %q: close it with } or write $${ for a literal ${", s[i:])
		}
		name := s[i+2 : i+end]
		if !validEnvName(name) {
			return "", fmt.Errorf("invalid environment variable name %q in ${...}: use letters, digits and _", name)
		}
		v, ok := lookup(name)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(v)
		s = s[i+end+1:]
	}
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
