package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/apiwatch/apiwatch/internal/atomicfile"
)

// CompanyDir is the directory, beside the main file, where the admin API
// keeps one file per company: conf.d/<name>.yml.
const CompanyDir = "conf.d"

// Errors of the company file operations, for callers that map them to HTTP
// statuses.
var (
	ErrCompanyNotFound = errors.New("company not found")
	// ErrCompanyNotManaged means that the company lives in a file that the
	// admin API does not own, such as the main file, or that config_files
	// does not include the company's file under conf.d.
	ErrCompanyNotManaged = errors.New("company is not managed through the API")
	ErrInvalidName       = errors.New("invalid company name")
)

// Permissions of what the admin API creates. A company file can contain
// secrets, such as PagerDuty routing keys, so a new one is readable by its
// owner only. A replaced file keeps its permissions.
const (
	companyFileMode os.FileMode = 0o600
	companyDirMode  os.FileMode = 0o750
)

// companyFileHeader starts every file the admin API writes. A YAML body
// follows it indented under "companies:\n  -\n", so that line N, column C
// of the body is line N+CompanyBodyLineOffset, column C+CompanyBodyIndent
// of the file.
const companyFileHeader = "# Written by the apiwatch admin API. Edits here are kept until the next\n" +
	"# PUT or DELETE /api/v1/companies/<name> replaces or removes the file.\n"

// Where a YAML request body lands in the company file.
const (
	CompanyBodyLineOffset = 4
	CompanyBodyIndent     = 4
)

// requestBody is the File of the problems found in a request body before it
// is placed in a file.
const requestBody = "request body"

// CompanyFile returns the path of the file the admin API keeps for company
// name.
func (r *Reloader) CompanyFile(name string) string {
	return filepath.Join(filepath.Dir(r.opts.File), CompanyDir, name+".yml")
}

// GetCompany returns the running configuration of company name as YAML, and
// the file it comes from. The YAML is the effective configuration: defaults
// are filled in and ${VAR} references are expanded, so it can differ from
// the file. Secrets print as "<secret>" and URL credentials as "xxxxx", and
// PutCompany rejects a document that still contains these placeholders. A
// secret read from a *_file setting is left out, so that the document names
// only the file, as the configuration did.
func (r *Reloader) GetCompany(name string) (doc []byte, file string, err error) {
	if !validName(name) {
		return nil, "", fmt.Errorf("%w %q: %s", ErrInvalidName, name, nameRule)
	}
	c := r.findCompany(name)
	if c == nil {
		return nil, "", ErrCompanyNotFound
	}
	var n yaml.Node
	if err := n.Encode(c); err != nil {
		return nil, "", err
	}
	dropSecretsReadFromFiles(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, "", err
	}
	if err := enc.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), c.File, nil
}

// dropSecretsReadFromFiles removes every key K from the mappings under n
// that also have K_file, such as routing_key beside routing_key_file.
func dropSecretsReadFromFiles(n *yaml.Node) {
	for _, c := range n.Content {
		dropSecretsReadFromFiles(c)
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	keys := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys[n.Content[i].Value] = true
	}
	remaining := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !keys[n.Content[i].Value+"_file"] {
			remaining = append(remaining, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = remaining
}

func (r *Reloader) findCompany(name string) *Company {
	for _, c := range r.Current().Companies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// PutCompany validates doc, a single company as a YAML or JSON mapping,
// within the whole configuration, then writes it atomically as
// conf.d/<name>.yml and reloads. It reports whether the file is new.
//
// A company defined in another file is rejected with ErrCompanyNotManaged.
// An invalid document leaves every file as it was and returns the problems
// as Errors: problems of the body itself are about File "request body",
// the others about the files as they would be after the write. When the
// reload fails even so, because Apply failed or a file changed meanwhile,
// the previous file is restored and the reload's error returned.
func (r *Reloader) PutCompany(name string, doc []byte) (created bool, err error) {
	r.adminMu.Lock()
	defer r.adminMu.Unlock()
	file, err := r.managedFile(name)
	if err != nil {
		return false, err
	}
	content, err := companyFileContent(name, doc)
	if err != nil {
		return false, err
	}
	if err := r.Check(LoadOptions{Overlay: map[string][]byte{file: content}}); err != nil {
		return false, err
	}
	old, mode, err := readCompanyFile(file)
	if err != nil {
		return false, err
	}
	if err := r.makeCompanyDir(filepath.Dir(file)); err != nil {
		return false, err
	}
	r.noteWrite(file, fileContent{data: content, exists: true})
	if err := atomicfile.Write(file, content, mode); err != nil {
		r.noteWrite(file, old)
		return false, err
	}
	if err := r.Reload(); err != nil {
		return false, r.restore(file, old, mode, err)
	}
	return !old.exists, nil
}

// DeleteCompany removes conf.d/<name>.yml and reloads, after checking that
// the configuration is valid without it. When the reload fails even so, the
// file is restored and the reload's error returned.
func (r *Reloader) DeleteCompany(name string) error {
	r.adminMu.Lock()
	defer r.adminMu.Unlock()
	file, err := r.managedFile(name)
	if err != nil {
		return err
	}
	old, mode, err := readCompanyFile(file)
	if err != nil {
		return err
	}
	if !old.exists {
		return ErrCompanyNotFound
	}
	if err := r.Check(LoadOptions{Overlay: map[string][]byte{file: nil}}); err != nil {
		return err
	}
	r.noteWrite(file, fileContent{})
	if err := os.Remove(file); err != nil {
		r.noteWrite(file, old)
		return err
	}
	if err := r.Reload(); err != nil {
		return r.restore(file, old, mode, err)
	}
	return nil
}

// makeCompanyDir creates dir unless it exists, and records it as the admin
// API's own change.
func (r *Reloader) makeCompanyDir(dir string) error {
	if info, err := os.Stat(dir); err == nil && info.IsDir() {
		return nil
	}
	r.noteWrite(dir, fileContent{exists: true, dir: true})
	return os.MkdirAll(dir, companyDirMode)
}

// readCompanyFile returns the content of file, or its absence, and the
// permissions that a new version of it gets.
func readCompanyFile(file string) (fileContent, os.FileMode, error) {
	info, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) {
		return fileContent{}, companyFileMode, nil
	}
	if err != nil {
		return fileContent{}, 0, err
	}
	if !info.Mode().IsRegular() {
		return fileContent{}, 0, fmt.Errorf("%s is not a regular file", file)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fileContent{}, 0, err
	}
	return fileContent{data: data, exists: true}, info.Mode().Perm(), nil
}

// restore puts back the previous content of file after the reload that
// followed a change failed with reloadErr, and returns the error to report.
func (r *Reloader) restore(file string, old fileContent, mode os.FileMode, reloadErr error) error {
	r.noteWrite(file, old)
	var err error
	if old.exists {
		err = atomicfile.Write(file, old.data, mode)
	} else {
		err = os.Remove(file)
	}
	if err != nil {
		// Not wrapping reloadErr, so that callers do not report the files
		// as unchanged.
		return fmt.Errorf("%v; restoring %s failed too: %w", reloadErr, file, err)
	}
	r.logger.Warn("Restored a company file after a failed reload", "file", file)
	return reloadErr
}

// managedFile returns the file the admin API keeps for name, after checking
// that the name is valid, that the configuration includes that file, and
// that no other file defines the company.
func (r *Reloader) managedFile(name string) (string, error) {
	if !validName(name) {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidName, name, nameRule)
	}
	file := filepath.Clean(r.CompanyFile(name))
	cfg := r.Current()
	included := false
	for _, p := range cfg.ConfigFiles {
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(cfg.File), p)
		}
		if ok, _ := filepath.Match(filepath.Clean(p), file); ok {
			included = true
			break
		}
	}
	if !included {
		return "", fmt.Errorf("%w: config_files in %s does not include %s; add %q to it",
			ErrCompanyNotManaged, cfg.File, file, CompanyDir+"/*.yml")
	}
	if c := r.findCompany(name); c != nil && filepath.Clean(c.File) != file {
		return "", fmt.Errorf("%w: company %q is defined in %s; edit that file instead",
			ErrCompanyNotManaged, name, c.File)
	}
	return file, nil
}

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
