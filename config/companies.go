package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	// ErrCompanyNotManaged: the company lives in a file that the admin API
	// does not own, such as the main file, or the configuration does not
	// include the company directory.
	ErrCompanyNotManaged = errors.New("company is not managed through the API")
	ErrInvalidName       = errors.New("invalid company name")
)

// companyFileHeader starts every file the admin API writes.
const companyFileHeader = "# Written by the apiwatch admin API. Edits here are kept, and the next\n" +
	"# PUT /api/v1/companies/<name> replaces the file.\n"

// CompanyFile returns the path of the file the admin API keeps for company
// name.
func (r *Reloader) CompanyFile(name string) string {
	return filepath.Join(filepath.Dir(r.opts.File), CompanyDir, name+".yml")
}

// GetCompany returns the running configuration of company name as YAML,
// with secrets and URL credentials redacted, and the file it comes from.
func (r *Reloader) GetCompany(name string) (doc []byte, file string, err error) {
	c := r.findCompany(name)
	if c == nil {
		return nil, "", ErrCompanyNotFound
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), c.File, enc.Close()
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
// conf.d/<name>.yml and reloads. It reports whether the file is new. A
// company defined in another file is refused with ErrCompanyNotManaged; an
// invalid document leaves every file as it was and returns the problems as
// Errors.
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
	_, statErr := os.Stat(file)
	created = errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return false, err
	}
	if err := atomicfile.Write(file, content, 0o640); err != nil {
		return false, err
	}
	return created, r.Reload()
}

// DeleteCompany removes conf.d/<name>.yml and reloads, after checking that
// the configuration is valid without it.
func (r *Reloader) DeleteCompany(name string) error {
	r.adminMu.Lock()
	defer r.adminMu.Unlock()
	file, err := r.managedFile(name)
	if err != nil {
		return err
	}
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return ErrCompanyNotFound
	}
	if err := r.Check(LoadOptions{Overlay: map[string][]byte{file: nil}}); err != nil {
		return err
	}
	if err := os.Remove(file); err != nil {
		return err
	}
	return r.Reload()
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

// companyFileContent wraps a company document into a file with a companies
// list, after checking that it is one mapping whose name, if given, is
// name.
func companyFileContent(name string, doc []byte) ([]byte, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(doc, &n); err != nil {
		return nil, Errors{{File: "request body", Msg: "invalid YAML or JSON: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	if len(n.Content) != 1 || n.Content[0].Kind != yaml.MappingNode {
		return nil, Errors{{File: "request body", Msg: "expected one company as a mapping with name, contacts and endpoints"}}
	}
	if got := scalarValue(n.Content[0], "name"); got != name {
		return nil, Errors{{File: "request body", Field: "name",
			Msg: fmt.Sprintf("name %q does not match the company %q in the URL", got, name)}}
	}
	var b strings.Builder
	b.WriteString(companyFileHeader)
	b.WriteString("companies:\n  -\n")
	for _, line := range strings.Split(strings.TrimRight(string(doc), "\n"), "\n") {
		b.WriteString("    ")
		b.WriteString(line)
		b.WriteString("\n")
	}
	return []byte(b.String()), nil
}
