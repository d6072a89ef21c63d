package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// fragment is the shape of an included file: a list of companies and nothing
// else.
type fragment struct {
	Companies []*Company `yaml:"companies"`
}

// loader reads the files of one configuration and collects every error. It
// keeps the YAML node trees only until validation is done, so that errors
// can point at lines without the loaded config carrying the trees.
type loader struct {
	roots map[string]*yaml.Node
	errs  Errors
}

// LoadFile reads the main configuration file at path and every file its
// config_files patterns match, fills in defaults and validates the result.
// On failure the error is an Errors value listing every problem found.
func LoadFile(path string) (*Config, error) {
	l := &loader{roots: map[string]*yaml.Node{}}
	cfg := &Config{File: path}
	if !l.decodeFile(path, cfg) {
		return nil, l.errs
	}
	cfg.Files = []string{path}
	for i, c := range cfg.Companies {
		if c != nil {
			c.File, c.index = path, i
		}
	}
	for _, file := range l.includedFiles(cfg) {
		var frag fragment
		if !l.decodeFile(file, &frag) {
			continue
		}
		cfg.Files = append(cfg.Files, file)
		for i, c := range frag.Companies {
			if c != nil {
				c.File, c.index = file, i
			}
		}
		cfg.Companies = append(cfg.Companies, frag.Companies...)
	}
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	l.validate(cfg)
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	cfg.setDefaults()
	l.readSecretFiles(cfg)
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	return cfg, nil
}

// includedFiles expands the config_files patterns, relative to the main
// file's directory, in sorted order without duplicates.
func (l *loader) includedFiles(cfg *Config) []string {
	dir := filepath.Dir(cfg.File)
	seen := map[string]bool{filepath.Clean(cfg.File): true}
	var files []string
	for i, pattern := range cfg.ConfigFiles {
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(dir, pattern)
		}
		matches, err := filepath.Glob(pattern)
		if err != nil {
			line, col := l.position(cfg.File, "config_files", i)
			l.add(&Error{File: cfg.File, Line: line, Column: col, Field: "config_files",
				Msg: fmt.Sprintf("invalid pattern %q: %v", cfg.ConfigFiles[i], err)})
			continue
		}
		sort.Strings(matches)
		for _, m := range matches {
			if info, err := os.Stat(m); err != nil || info.IsDir() {
				continue
			}
			if !seen[filepath.Clean(m)] {
				seen[filepath.Clean(m)] = true
				files = append(files, m)
			}
		}
	}
	return files
}

// decodeFile parses file into out. It rejects keys that out does not define
// and records every error; it returns false if there was any.
func (l *loader) decodeFile(file string, out any) bool {
	data, err := os.ReadFile(file)
	if err != nil {
		l.add(&Error{File: file, Msg: fmt.Sprintf("reading file: %v", errors.Unwrap(err))})
		return false
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		l.addYAMLError(file, err)
		return false
	}
	if len(doc.Content) == 0 {
		// An empty file is an empty configuration.
		return true
	}
	root := doc.Content[0]
	l.roots[file] = root
	before := len(l.errs)
	l.checkKnownFields(file, root, reflectTypeOf(out))
	if err := root.Decode(out); err != nil {
		l.addYAMLError(file, err)
	}
	return len(l.errs) == before
}

var (
	yamlLinePrefix = regexp.MustCompile(`^(?:yaml: )?line (\d+): (?:column (\d+): )?(.*)$`)
	yamlCannot     = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
)

// addYAMLError turns an error from yaml.v3 into positioned Errors.
func (l *loader) addYAMLError(file string, err error) {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for _, msg := range msgs {
		e := &Error{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
		if m := yamlLinePrefix.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Column, _ = strconv.Atoi(m[2])
			e.Msg = m[3]
		}
		if m := yamlCannot.FindStringSubmatch(e.Msg); m != nil {
			e.Msg = fmt.Sprintf("invalid value %q: expected %s", m[2], describeGoType(m[3]))
		}
		l.add(e)
	}
}

func describeGoType(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "config."), strings.HasPrefix(t, "*config."):
		return "a mapping of keys to values"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "a whole number"
	case t == "bool", t == "*bool":
		return "true or false"
	case t == "string":
		return "a string"
	}
	return t
}

func (l *loader) add(e *Error) { l.errs = append(l.errs, e) }

// position returns the line and column of the node reached from file's root
// through path, a list of mapping keys (string) and sequence indexes (int).
// When the path ends early, it returns the position of the deepest node
// found, so that an error about a defaulted field points at its parent.
func (l *loader) position(file string, path ...any) (line, col int) {
	n := l.roots[file]
	if n == nil {
		return 0, 0
	}
	line, col = n.Line, n.Column
	for _, step := range path {
		switch s := step.(type) {
		case string:
			next, key := mappingValue(n, s)
			if next == nil {
				return line, col
			}
			n = next
			line, col = key.Line, key.Column
		case int:
			if n.Kind != yaml.SequenceNode || s >= len(n.Content) {
				return line, col
			}
			n = n.Content[s]
			line, col = n.Line, n.Column
		}
	}
	return line, col
}

// mappingValue returns the value and key nodes of key in mapping n.
func mappingValue(n *yaml.Node, key string) (value, keyNode *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1], n.Content[i]
		}
	}
	return nil, nil
}

// readSecretFiles fills secrets from their _file variants, relative to the
// file that names them.
func (l *loader) readSecretFiles(cfg *Config) {
	for _, c := range cfg.Companies {
		for i := range c.Contacts.PagerDuty {
			pd := &c.Contacts.PagerDuty[i]
			if pd.RoutingKeyFile == "" {
				continue
			}
			v, err := readSecretFile(c.File, pd.RoutingKeyFile)
			if err != nil {
				l.companyError(c, nil, fmt.Sprintf("reading routing_key_file: %v", err),
					"contacts", "pagerduty", i, "routing_key_file")
				continue
			}
			pd.RoutingKey = Secret(v)
		}
	}
}

func readSecretFile(configFile, name string) (string, error) {
	if !filepath.IsAbs(name) {
		name = filepath.Join(filepath.Dir(configFile), name)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}
