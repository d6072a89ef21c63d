package config

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/theory/jsonpath"
	"gopkg.in/yaml.v3"
)

// JSONAssertion is a check on a JSON response body, written as a JSONPath
// query (RFC 9535), optionally followed by a comparison with a JSON literal:
//
//	$.status == "ok"      every value the query selects equals "ok"
//	$.queue.depth < 1000  every selected value is a number below 1000
//	$.checks[*].healthy   the query selects at least one value
//	!$.error              the query selects nothing
//
// The operators are ==, !=, <, <=, > and >=; the ordering ones take a
// number. A comparison fails when the query selects nothing.
type JSONAssertion struct {
	// Text is the assertion as written.
	Text string
	// query is the JSONPath part as written, for messages.
	query  string
	path   *jsonpath.Path
	negate bool
	op     string
	value  any
}

var jsonOperators = []string{"==", "!=", "<=", ">=", "<", ">"}

// ParseJSONAssertion parses one assertion.
func ParseJSONAssertion(s string) (JSONAssertion, error) {
	a := JSONAssertion{Text: s}
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "!"); ok {
		a.negate = true
		s = strings.TrimSpace(rest)
	}
	pathText, op, literal := splitComparison(s)
	if a.negate && op != "" {
		return a, fmt.Errorf("a ! assertion takes only a query, not a comparison")
	}
	if !strings.HasPrefix(pathText, "$") {
		return a, fmt.Errorf("the query must start with $, as in $.status")
	}
	p, err := jsonpath.Parse(pathText)
	if err != nil {
		return a, fmt.Errorf("invalid JSONPath %q: %v", pathText, err)
	}
	a.path, a.query, a.op = p, pathText, op
	if op == "" {
		return a, nil
	}
	if literal == "" {
		return a, fmt.Errorf("missing value after %s: use a JSON literal such as \"ok\", 42, true or null", op)
	}
	if err := json.Unmarshal([]byte(literal), &a.value); err != nil {
		return a, fmt.Errorf("invalid value %s after %s: use a JSON literal such as \"ok\", 42, true or null", literal, op)
	}
	if _, isNumber := a.value.(float64); (op != "==" && op != "!=") && !isNumber {
		return a, fmt.Errorf("%s compares numbers, not %s", op, literal)
	}
	return a, nil
}

// splitComparison splits s at the first comparison operator outside quotes
// and brackets, where JSONPath filters may use the same operators.
func splitComparison(s string) (path, op, literal string) {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		case c == '"' || c == '\'':
			quote = c
			continue
		case c == '[' || c == '(':
			depth++
			continue
		case c == ']' || c == ')':
			depth--
			continue
		}
		if depth > 0 {
			continue
		}
		for _, o := range jsonOperators {
			if strings.HasPrefix(s[i:], o) {
				return strings.TrimSpace(s[:i]), o, strings.TrimSpace(s[i+len(o):])
			}
		}
	}
	return strings.TrimSpace(s), "", ""
}

// Check evaluates the assertion on a decoded JSON document and returns a
// message naming the expected and the actual value when it fails.
func (a JSONAssertion) Check(doc any) (ok bool, msg string) {
	nodes := a.path.Select(doc)
	query := a.query
	switch {
	case a.negate:
		if len(nodes) == 0 {
			return true, ""
		}
		return false, fmt.Sprintf("%s is present (%s), expected it absent", query, jsonSnippet(nodes[0]))
	case len(nodes) == 0:
		return false, fmt.Sprintf("%s not found in the body", query)
	case a.op == "":
		return true, ""
	}
	for _, n := range nodes {
		if !compare(n, a.op, a.value) {
			return false, fmt.Sprintf("%s is %s, expected %s %s", query, jsonSnippet(n), a.op, jsonSnippet(a.value))
		}
	}
	return true, ""
}

func compare(actual any, op string, want any) bool {
	if w, ok := want.(float64); ok {
		a, isNumber := actual.(float64)
		if !isNumber {
			return op == "!="
		}
		switch op {
		case "==":
			return a == w
		case "!=":
			return a != w
		case "<":
			return a < w
		case "<=":
			return a <= w
		case ">":
			return a > w
		case ">=":
			return a >= w
		}
	}
	equal := fmt.Sprintf("%T:%v", actual, actual) == fmt.Sprintf("%T:%v", want, want)
	if _, composite := actual.(map[string]any); composite {
		equal = false
	}
	if _, composite := actual.([]any); composite {
		equal = false
	}
	return equal == (op == "==")
}

// jsonSnippet renders v as JSON, cut to 100 bytes.
func jsonSnippet(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 100 {
		return string(b[:97]) + "..."
	}
	return string(b)
}

func (a *JSONAssertion) decodeNode(n *yaml.Node) []nodeError {
	if n.Kind != yaml.ScalarNode {
		return errorAt(n, `expected an assertion such as '$.status == "ok"'`)
	}
	v, err := ParseJSONAssertion(n.Value)
	if err != nil {
		return errorAt(n, "invalid JSON assertion: "+err.Error())
	}
	*a = v
	return nil
}

// UnmarshalYAML parses an assertion.
func (a *JSONAssertion) UnmarshalYAML(n *yaml.Node) error { return typeError(a.decodeNode(n)) }

// MarshalYAML writes the assertion as written.
func (a JSONAssertion) MarshalYAML() (any, error) { return a.Text, nil }
