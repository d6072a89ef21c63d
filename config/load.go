package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// fragment is the shape of an included file: a list of companies and nothing
// else.
type fragment struct {
	Companies []*Company `yaml:"companies"`
}

// loader reads the files of one configuration and collects every error. It
// keeps the YAML nodes only until validation is done, so that errors can
// point at lines without the loaded config carrying the trees.
type loader struct {
	opts LoadOptions
	errs Errors
	// roots holds the top node of each file, nodes the node of each decoded
	// company, endpoint and global block, and bad the fields of those items
	// that failed to decode.
	roots     map[string]*yaml.Node
	nodes     map[any]*yaml.Node
	bad       map[any]map[string]bool
	structs   map[reflect.Type]*structInfo
	leaves    map[reflect.Type]int
	schedules map[string]*cronSchedule
	// fileOrder numbers the files in the order they are read, to sort errors.
	fileOrder map[string]int

	// mainPath is the main file. mainHeaderSame is set when opts.Cache may
	// be used: the main file's text outside its companies list is what the
	// cache saw. reused holds the companies taken from the cache, which
	// validation and defaults skip.
	mainPath       string
	mainHeaderSame bool
	reused         map[*Company]bool
}

// parsedFile is a file read and parsed into a node tree.
type parsedFile struct {
	path string
	root *yaml.Node // nil for an empty file
	errs []*Error
	// hasEnvRefs reports that the file's text contains "${", so that files
	// without references skip the walk that expands them.
	hasEnvRefs bool

	// With LoadOptions.Cache: split locates the file's company items,
	// headerHash and itemHashes identify their text, and reusedAt holds the
	// cached company of each item whose text was blanked out before parsing.
	split      *companiesSplit
	headerHash uint64
	itemHashes []uint64
	cacheable  []bool
	reusedAt   map[int]*Company
}

// LoadFile reads the main configuration file at path and every file its
// config_files patterns match, validates the result and fills in defaults.
// On failure the error is an Errors value listing every problem found.
//
// Syntax and type errors in all files are reported together with the
// validation errors, except that checks involving a value that failed to
// decode are skipped. A file that cannot be read or parsed contributes no
// companies.
func LoadFile(path string) (*Config, error) {
	return Load(path, LoadOptions{})
}

// LoadOptions changes how Load reads a configuration.
type LoadOptions struct {
	// Overlay replaces the content of files, keyed by clean path, without
	// touching the disk: a non-nil value is read in place of the file (and
	// matched by config_files patterns even if the file does not exist), and
	// a nil value hides the file. It lets a change be validated before it is
	// written.
	Overlay map[string][]byte
	// LookupEnv resolves ${NAME} references; nil means os.LookupEnv.
	LookupEnv func(name string) (string, bool)
	// Cache, if set, lets Load reuse companies whose text did not change
	// since the configuration the cache was last updated with. Load only
	// reads it; see LoadCache.Update.
	Cache *LoadCache
}

// Load is LoadFile with options. A panic while loading becomes an error,
// so that a bug in the loader leaves a running daemon on its current
// configuration instead of ending it.
func Load(path string, opts LoadOptions) (cfg *Config, err error) {
	defer func() {
		if p := recover(); p != nil {
			cfg, err = nil, fmt.Errorf("loading %s: internal error: %v", path, p)
		}
	}()
	cfg, err, reused := load(path, opts)
	if err != nil && reused {
		// Errors about a reused company would lack its position: load
		// again from the text alone.
		opts.Cache = nil
		cfg, err, _ = load(path, opts)
	}
	return cfg, err
}

// load does Load's work and reports whether it reused cached companies.
func load(path string, opts LoadOptions) (*Config, error, bool) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	l := &loader{
		mainPath:  path,
		reused:    map[*Company]bool{},
		opts:      opts,
		roots:     map[string]*yaml.Node{},
		nodes:     map[any]*yaml.Node{},
		bad:       map[any]map[string]bool{},
		structs:   map[reflect.Type]*structInfo{},
		leaves:    map[reflect.Type]int{},
		schedules: map[string]*cronSchedule{},
		fileOrder: map[string]int{},
	}
	cfg := &Config{File: path, Files: []string{path}}
	main := l.accept(l.parseFile(path))
	if main.root == nil && len(main.errs) == 0 {
		// An empty main file is far more often one being written, or
		// truncated by mistake, than a wish to monitor nothing; applying it
		// would drop every endpoint's state and resolve every alert.
		l.add(&Error{File: path, Msg: "the main configuration file is empty; " +
			"to run without companies, write companies: []"})
	}
	if main.root == nil {
		return nil, l.result(), false
	}
	l.decodeFile(main, cfg, false)
	cfg.Companies = l.mergeReused(main, cfg.Companies)
	l.adopt(path, cfg.Companies)
	parsed := []parsedFile{main}

	for _, p := range l.parseFiles(l.includedFiles(cfg)) {
		p = l.accept(p)
		if p.root == nil && len(p.errs) > 0 {
			continue
		}
		var frag fragment
		l.decodeFile(p, &frag, true)
		frag.Companies = l.mergeReused(p, frag.Companies)
		cfg.Files = append(cfg.Files, p.path)
		l.adopt(p.path, frag.Companies)
		cfg.Companies = append(cfg.Companies, frag.Companies...)
		parsed = append(parsed, p)
	}
	l.validate(cfg)
	if len(l.errs) > 0 {
		return nil, l.result(), len(l.reused) > 0
	}
	cfg.setDefaults(l.reused)
	if l.opts.Cache != nil {
		cfg.cacheEntries = l.cacheEntries(parsed, cfg)
	}
	return cfg, nil, len(l.reused) > 0
}

// accept records the errors of a parsed file and its place in the file
// order.
func (l *loader) accept(p parsedFile) parsedFile {
	if _, ok := l.fileOrder[p.path]; !ok {
		l.fileOrder[p.path] = len(l.fileOrder)
	}
	for _, e := range p.errs {
		l.add(e)
	}
	return p
}

// decodeFile decodes the parsed file p into out, a *Config for the main file
// or a *fragment for an included one.
func (l *loader) decodeFile(p parsedFile, out any, fragment bool) {
	if p.root == nil {
		return // an empty file is an empty configuration
	}
	l.roots[p.path] = p.root
	if p.hasEnvRefs {
		for _, e := range expandEnv(p.root, l.opts.LookupEnv) {
			l.add(&Error{File: p.path, Line: e.node.Line, Column: e.node.Column, Msg: e.msg})
		}
	}
	d := &decoder{l: l, file: p.path, fragment: fragment}
	d.decode(p.root, out)
}

// adopt sets the file of the companies read from file and reports empty
// entries in its companies list.
func (l *loader) adopt(file string, companies []*Company) {
	for i, c := range companies {
		if c != nil {
			c.File = file
			continue
		}
		line, col := position(l.roots[file], "companies", i)
		l.add(&Error{
			File: file, Line: line, Column: col,
			Field: fmt.Sprintf("companies[%d]", i), Msg: "empty company entry",
		})
	}
}

func (l *loader) add(e *Error) { l.errs = append(l.errs, e) }

// wholeItem marks an item that failed to decode as a whole.
const wholeItem = "*"

// markBad records that field of item, a *Company, *Endpoint or *Global,
// failed to decode.
func (l *loader) markBad(item any, field string) {
	if l.bad[item] == nil {
		l.bad[item] = map[string]bool{}
	}
	l.bad[item][field] = true
}

// fieldOK reports whether item and its field decoded without error.
func (l *loader) fieldOK(item any, field string) bool {
	b := l.bad[item]
	return !b[wholeItem] && !b[field]
}

// result returns the errors in file order, then line and column order.
func (l *loader) result() Errors {
	slices.SortStableFunc(l.errs, func(a, b *Error) int {
		if d := l.fileOrder[a.File] - l.fileOrder[b.File]; d != 0 {
			return d
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Column - b.Column
	})
	return l.errs
}

// includedFiles expands the config_files patterns, relative to the main
// file's directory, each in sorted order, without repeating a file. A
// pattern without wildcards must name an existing file. A wildcard pattern
// skips the directories it matches.
func (l *loader) includedFiles(cfg *Config) []string {
	root := item{file: cfg.File, node: l.roots[cfg.File]}
	seen := map[string]bool{filepath.Clean(cfg.File): true}
	var files []string
	for i, pattern := range cfg.ConfigFiles {
		at := []any{"config_files", i}
		full := pattern
		if !filepath.IsAbs(full) {
			full = filepath.Join(filepath.Dir(cfg.File), full)
		}
		matches, err := l.glob(full)
		if err != nil {
			l.errorf(root, at, "invalid pattern %q: %v", pattern, err)
			continue
		}
		literal := !strings.ContainsAny(pattern, `*?[\`)
		if literal && len(matches) == 0 {
			l.errorf(root, at, "no file %s: a pattern without wildcards must name an existing file", full)
			continue
		}
		slices.Sort(matches)
		for _, m := range matches {
			if !literal && strings.HasPrefix(filepath.Base(m), ".") {
				// Hidden files are temporary files of editors and of the
				// admin API's atomic writes, which may be half written.
				continue
			}
			if _, ok := l.opts.Overlay[filepath.Clean(m)]; ok {
				// An overlay file stands for a regular file.
			} else if info, err := os.Stat(m); err == nil && !info.Mode().IsRegular() {
				if info.IsDir() && !literal {
					continue
				}
				l.errorf(root, at, "%s is not a regular file", m)
				continue
			}
			if clean := filepath.Clean(m); !seen[clean] {
				seen[clean] = true
				files = append(files, m)
			}
		}
	}
	return files
}

// parseFiles parses files concurrently, because YAML parsing dominates the
// load time of a large configuration, and returns them in order.
func (l *loader) parseFiles(files []string) []parsedFile {
	out := make([]parsedFile, len(files))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, file := range files {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i] = l.parseFile(file)
		})
	}
	wg.Wait()
	return out
}

// parseFile reads file and parses it into a node tree. A file must hold a
// single YAML document.
func (l *loader) parseFile(file string) parsedFile {
	p := parsedFile{path: file}
	data, err := l.readConfigFile(file)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		p.errs = append(p.errs, &Error{File: file, Msg: fmt.Sprintf("reading file: %v", err)})
		return p
	}
	p.hasEnvRefs = bytes.Contains(data, []byte("${"))
	if l.opts.Cache != nil {
		data = l.reuseCached(&p, data)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return p
	case err != nil:
		p.errs = append(p.errs, syntaxError(file, data, err))
		return p
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		p.errs = append(p.errs, syntaxError(file, data, err))
		return p
	default:
		p.errs = append(p.errs, &Error{File: file, Line: next.Line, Column: next.Column,
			Msg: "a second YAML document starts here: put the whole configuration in one document"})
		return p
	}
	if len(doc.Content) > 0 {
		p.root = doc.Content[0]
	}
	return p
}

// syntaxError turns a YAML syntax error, "yaml: line N: message", into an
// Error about file, whose content is data.
func syntaxError(file string, data []byte, err error) *Error {
	e := &Error{File: file}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil {
				e.Line, msg = line, tail
			}
		}
	}
	e.Msg = "invalid YAML: " + msg
	if strings.Contains(msg, "tab character") {
		// yaml.v3 reports the line before the one with the tab.
		e.Line = lineWithIndentTab(data, e.Line)
	}
	if strings.HasPrefix(msg, "did not find expected") {
		// yaml.v3 reports these at the start of the enclosing block.
		e.Msg += " in the block that starts on this line: check the indentation of its lines"
	}
	return e
}

// lineWithIndentTab returns the number of the first line from line on whose
// indentation contains a tab, or line if there is none.
func lineWithIndentTab(data []byte, line int) int {
	for i, text := range strings.Split(string(data), "\n") {
		indent := text[:len(text)-len(strings.TrimLeft(text, " \t"))]
		if i+1 >= line && strings.Contains(indent, "\t") {
			return i + 1
		}
	}
	return line
}

// readConfigFile reads a configuration file, from the overlay if it has
// the file.
func (l *loader) readConfigFile(name string) ([]byte, error) {
	if data, ok := l.opts.Overlay[filepath.Clean(name)]; ok {
		if data == nil {
			return nil, fs.ErrNotExist
		}
		return data, nil
	}
	return readFile(name, maxConfigFileSize)
}

// glob is filepath.Glob over the disk with the overlay applied: overlay
// files match even if absent, and hidden files do not.
func (l *loader) glob(pattern string) ([]string, error) {
	matches, err := filepath.Glob(pattern)
	if err != nil || len(l.opts.Overlay) == 0 {
		return matches, err
	}
	out := matches[:0]
	for _, m := range matches {
		if data, ok := l.opts.Overlay[filepath.Clean(m)]; !ok || data != nil {
			out = append(out, m)
		}
	}
	for name, data := range l.opts.Overlay {
		if data == nil || slices.Contains(out, name) {
			continue
		}
		if ok, _ := filepath.Match(filepath.Clean(pattern), name); ok {
			out = append(out, name)
		}
	}
	return out, nil
}

// readSecretFile reads a secret from name, relative to the directory of
// configFile, without trailing line breaks.
func readSecretFile(configFile, name string) (string, error) {
	if !filepath.IsAbs(name) {
		name = filepath.Join(filepath.Dir(configFile), name)
	}
	data, err := readFile(name, maxSecretFileSize)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}

// Size limits for the files the loader reads. A configuration of 100,000
// endpoints takes about 15 MiB.
const (
	maxConfigFileSize = 256 << 20
	maxSecretFileSize = 64 << 10
)

// readFile reads a regular file of at most limit bytes. It refuses other
// files, because reading a FIFO or a device would block or never end.
func readFile(name string, limit int64) ([]byte, error) {
	// Check before opening, because opening a FIFO blocks.
	if info, err := os.Stat(name); err == nil && !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %s", name, ByteSize(limit))
	}
	return data, nil
}
