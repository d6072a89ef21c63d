package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// companyFileContent turns a company document into the content of its file,
// with a companies list, after checking that it is one mapping whose name
// is name and that it contains no redaction placeholder.
func companyFileContent(name string, doc []byte) ([]byte, error) {
	root, err := parseCompanyDocument(doc)
	if err != nil {
		return nil, err
	}
	if got := scalarValue(root, "name"); got != name {
		return nil, Errors{{File: requestBody, Field: "name",
			Msg: fmt.Sprintf("name %q does not match the company %q in the URL", got, name)}}
	}
	if errs := append(redactionPlaceholders(root), fileAndEnvReferences(root)...); len(errs) > 0 {
		return nil, errs
	}
	if isJSON(doc) {
		// JSON has no comments and its positions mean little once
		// indented, so it is written as YAML, which also spares yaml.v3
		// the JSON escapes it does not read, such as \/.
		return encodeCompanyFile(root)
	}
	if content, ok := indentCompanyDocument(doc, root); ok {
		return content, nil
	}
	return encodeCompanyFile(root)
}

// parseCompanyDocument parses a YAML or JSON body that must contain one
// mapping, and returns it.
func parseCompanyDocument(doc []byte) (*yaml.Node, error) {
	bodyError := func(line int, msg string) error {
		return Errors{{File: requestBody, Line: line, Msg: msg}}
	}
	if isJSON(doc) {
		n, err := jsonToNode(doc)
		if err != nil {
			return nil, bodyError(0, "invalid JSON: "+err.Error())
		}
		return n, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(doc))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil && !errors.Is(err, io.EOF) {
		if line, msg, ok := jsonSyntaxError(doc); ok {
			return nil, bodyError(line, msg)
		}
		e := syntaxError(requestBody, doc, err)
		return nil, bodyError(e.Line, e.Msg)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, bodyError(next.Line, "the body contains more than one YAML document: send one company")
	}
	if len(n.Content) != 1 || n.Content[0].Kind != yaml.MappingNode {
		return nil, bodyError(0, "expected one company as a mapping with name, contacts and endpoints")
	}
	return n.Content[0], nil
}

// jsonSyntaxError returns the line and message of the JSON syntax error in
// doc if doc looks like a JSON object, whose errors read better in JSON's
// terms than in YAML's.
func jsonSyntaxError(doc []byte) (line int, msg string, ok bool) {
	if !bytes.HasPrefix(bytes.TrimSpace(doc), []byte(`{"`)) {
		return 0, "", false
	}
	var v any
	var se *json.SyntaxError
	if err := json.Unmarshal(doc, &v); errors.As(err, &se) {
		return 1 + bytes.Count(doc[:se.Offset], []byte("\n")), "invalid JSON: " + se.Error(), true
	}
	return 0, "", false
}

// isJSON reports whether doc is a JSON object.
func isJSON(doc []byte) bool {
	trimmed := bytes.TrimSpace(doc)
	return len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed)
}

// redactionPlaceholders returns a problem for every value that is a
// placeholder GetCompany prints in place of a secret: "<secret>", or a URL
// whose password or sensitive parameter is "xxxxx". Writing one back would
// replace the real secret with the placeholder.
func redactionPlaceholders(root *yaml.Node) Errors {
	var errs Errors
	var walk func(n *yaml.Node, path []any)
	walk = func(n *yaml.Node, path []any) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], append(slices.Clone(path), n.Content[i].Value))
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, append(slices.Clone(path), i))
			}
		case yaml.ScalarNode:
			if n.Value == redacted || hasRedactedURLPart(n.Value) {
				errs = append(errs, &Error{File: requestBody, Line: n.Line, Column: n.Column,
					Field: fieldPath(path),
					Msg:   "the value is a redaction placeholder from GET: send the real secret instead"})
			}
		}
	}
	walk(root, nil)
	return errs
}

// fileAndEnvReferences reports the *_file settings and ${VAR} references in
// a company document sent to the admin API. The daemon would read those
// files and variables with its own rights and could send them to the
// endpoint or show them in the API, so whoever may write a company could
// read the daemon's files and environment. Through the API, secrets are
// given inline; the file the API writes is readable by its owner only.
func fileAndEnvReferences(root *yaml.Node) Errors {
	var errs Errors
	var walk func(n *yaml.Node, path []any)
	walk = func(n *yaml.Node, path []any) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i]
				p := append(slices.Clone(path), key.Value)
				if strings.HasSuffix(key.Value, "_file") {
					errs = append(errs, &Error{File: requestBody, Line: key.Line, Column: key.Column,
						Field: fieldPath(p),
						Msg:   "*_file settings are not accepted through the admin API: give the value inline"})
					continue
				}
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, append(slices.Clone(path), i))
			}
		case yaml.ScalarNode:
			if strings.Contains(strings.ReplaceAll(n.Value, "$${", ""), "${") {
				errs = append(errs, &Error{File: requestBody, Line: n.Line, Column: n.Column,
					Field: fieldPath(path),
					Msg:   "${VAR} references are not accepted through the admin API: give the value inline, or write $${ for a literal ${"})
			}
		}
	}
	walk(root, nil)
	return errs
}

// hasRedactedURLPart reports whether s is a URL whose password, or the
// value of a parameter that RedactURL hides, is "xxxxx".
func hasRedactedURLPart(s string) bool {
	if !strings.Contains(s, redactedURLPart) || !strings.Contains(s, "://") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	if pw, ok := u.User.Password(); ok && pw == redactedURLPart {
		return true
	}
	if _, ok := u.User.Password(); !ok && u.User.Username() == redactedURLPart {
		return true
	}
	for _, params := range []string{u.RawQuery, u.Fragment} {
		for _, pair := range strings.FieldsFunc(params, func(c rune) bool { return c == '&' || c == ';' }) {
			k, v, _ := strings.Cut(pair, "=")
			if v == redactedURLPart && isSensitiveParam(k) {
				return true
			}
		}
	}
	return false
}

// indentCompanyDocument places a YAML body under "companies:" as it is,
// with its comments and layout, indented by CompanyBodyIndent columns. It
// blanks document markers (--- and ...) and turns directives into comments,
// which keeps every line where it was. It reports false unless the result
// parses to the same company as root, the parsed body: YAML also breaks
// lines at a lone CR and at U+0085, U+2028 and U+2029, which this
// line-by-line indentation does not see.
func indentCompanyDocument(doc []byte, root *yaml.Node) ([]byte, bool) {
	var b strings.Builder
	b.WriteString(companyFileHeader)
	b.WriteString("companies:\n  -\n")
	for _, line := range strings.Split(strings.TrimRight(string(doc), "\n"), "\n") {
		switch {
		case isDocumentMarker(line, "---"), isDocumentMarker(line, "..."):
			line = "   " + line[3:]
		case strings.HasPrefix(line, "%"):
			line = "#" + line[1:]
		}
		if strings.TrimSpace(line) != "" {
			b.WriteString(strings.Repeat(" ", CompanyBodyIndent))
			b.WriteString(line)
		}
		b.WriteString("\n")
	}
	content := []byte(b.String())
	var check yaml.Node
	if err := yaml.Unmarshal(content, &check); err != nil || len(check.Content) != 1 {
		return nil, false
	}
	_, companies := lookup(check.Content[0], "companies")
	if companies == nil || companies.Kind != yaml.SequenceNode || len(companies.Content) != 1 ||
		!sameNodes(companies.Content[0], root) {
		return nil, false
	}
	return content, true
}

// sameNodes reports whether a and b contain the same YAML data.
func sameNodes(a, b *yaml.Node) bool {
	if a.Kind == yaml.AliasNode && b.Kind == yaml.AliasNode {
		return sameNodes(a.Alias, b.Alias)
	}
	if a.Kind != b.Kind || a.ShortTag() != b.ShortTag() || a.Value != b.Value || len(a.Content) != len(b.Content) {
		return false
	}
	for i := range a.Content {
		if !sameNodes(a.Content[i], b.Content[i]) {
			return false
		}
	}
	return true
}

// isDocumentMarker reports whether line starts with marker, "---" or "...",
// followed by nothing or white space.
func isDocumentMarker(line, marker string) bool {
	rest, ok := strings.CutPrefix(line, marker)
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r')
}

// encodeCompanyFile encodes the company mapping root as the content of a
// company file.
func encodeCompanyFile(root *yaml.Node) ([]byte, error) {
	file := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: "companies"},
		{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{root}},
	}}
	var buf bytes.Buffer
	buf.WriteString(companyFileHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(file); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// jsonToNode converts a JSON document into a YAML node tree in block
// style, keeping the order of keys. Strings stay double-quoted, so that a
// ${VAR} in one expands to a string as it would in quoted YAML.
func jsonToNode(doc []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	n, err := jsonValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the top-level value")
	}
	return n, nil
}

func jsonValue(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		return jsonCollection(dec, v)
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v, Style: yaml.DoubleQuotedStyle}, nil
	case json.Number:
		tag := "!!float"
		if _, err := v.Int64(); err == nil {
			tag = "!!int"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(v)}, nil
	default: // nil
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
}

// jsonCollection reads the rest of the object or array that open starts.
func jsonCollection(dec *json.Decoder, open json.Delim) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	if open == '{' {
		n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	for dec.More() {
		if n.Kind == yaml.MappingNode {
			key, err := dec.Token()
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key.(string)})
		}
		v, err := jsonValue(dec)
		if err != nil {
			return nil, err
		}
		n.Content = append(n.Content, v)
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return nil, err
	}
	return n, nil
}
