package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

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
	dropHTTPDefaults(c, &n)
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

// dropHTTPDefaults removes the HTTP-only settings from the tcp:// and
// grpc:// endpoints of the encoded company n. They hold defaults there,
// which PUT would reject.
func dropHTTPDefaults(c *Company, n *yaml.Node) {
	endpoints := mappingValue(n, "endpoints")
	if endpoints == nil || len(endpoints.Content) != len(c.Endpoints) {
		return
	}
	for i, e := range c.Endpoints {
		if e.Kind() == KindHTTP {
			continue
		}
		en := endpoints.Content[i]
		dropKeys(en, httpOnlyKeys)
		if x := mappingValue(en, "expect"); x != nil {
			dropKeys(x, httpOnlyExpectKeys)
			if len(x.Content) == 0 {
				dropKeys(en, []string{"expect"})
			}
		}
	}
}

// mappingValue returns the value of key in the mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// dropKeys removes keys and their values from the mapping n.
func dropKeys(n *yaml.Node, keys []string) {
	remaining := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !slices.Contains(keys, n.Content[i].Value) {
			remaining = append(remaining, n.Content[i], n.Content[i+1])
		}
	}
	n.Content = remaining
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
