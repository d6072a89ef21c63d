package config

import (
	"bytes"
	"hash/maphash"
	"sync"
)

// LoadCache lets a reload reuse the companies whose text did not change
// since the last load, instead of parsing, decoding and validating them
// again. At 100,000 endpoints that is most of a reload's time.
//
// A company is reused only when its file's text outside the companies list
// (for the main file: global, alerting, config_files) is unchanged, its own
// text is byte for byte the same, and the text has no ${VAR} reference, no
// *_file setting and the file no YAML anchor or alias, since those can
// change what the same text means. A reused company is the same *Company
// as in the previous configuration: companies are not changed after a load.
// A load that finds any problem is repeated without the cache, so that
// every error carries its exact position.
type LoadCache struct {
	seed maphash.Seed

	mu sync.Mutex
	// files maps a file to what its last successful load left.
	files map[string]*cachedFile
}

type cachedFile struct {
	header    uint64
	companies map[uint64]*Company
}

// NewLoadCache returns an empty cache.
func NewLoadCache() *LoadCache {
	return &LoadCache{seed: maphash.MakeSeed(), files: map[string]*cachedFile{}}
}

// Update makes the cache describe cfg, which Load returned with this cache.
// Call it only once cfg is the running configuration, so that a rejected
// configuration never feeds the next load.
func (c *LoadCache) Update(cfg *Config) {
	if c == nil || cfg.cacheEntries == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.files = cfg.cacheEntries
}

func (c *LoadCache) lookup(file string) *cachedFile {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.files[file]
}

func (c *LoadCache) hash(b []byte) uint64 { return maphash.Bytes(c.seed, b) }

// companiesSplit is a file cut into the text outside its companies list and
// the text of each company item.
type companiesSplit struct {
	header []byte
	items  []itemSpan
}

type itemSpan struct {
	start, end int // byte offsets in the file
}

// isCompaniesKey reports whether line is the top-level key of a
// block-style companies list: "companies:", maybe with a comment.
func isCompaniesKey(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, []byte("companies:"))
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " \t")
	return len(rest) == 0 || rest[0] == '#'
}

// hasAnchorOrAlias reports whether data may hold a YAML anchor (&a) or alias
// (*a): a '&' or '*' that starts a token and is followed by a name
// character. It also finds some text that is neither, which only costs
// reuse.
func hasAnchorOrAlias(data []byte) bool {
	for i, c := range data {
		if c != '&' && c != '*' || i+1 == len(data) || !isNameByte(data[i+1]) {
			continue
		}
		if i == 0 {
			return true
		}
		switch data[i-1] {
		case ' ', '\t', '\n', '\r', '[', '{', ',', ':', '-':
			return true
		}
	}
	return false
}

func isNameByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// splitCompanies finds the block-style companies list of a file and the
// byte range of each item. A file without one (no companies, or a flow-style
// list) is all header. It returns false for any layout it does not handle
// with certainty (document markers, tabs in the indentation, anchors or
// aliases, a key among the items), and the file is then loaded whole.
func splitCompanies(data []byte) (companiesSplit, bool) {
	var s companiesSplit
	if hasAnchorOrAlias(data) {
		return s, false
	}
	type line struct {
		start, end int // end excludes the newline
	}
	var lines []line
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			lines = append(lines, line{i, len(data)})
			break
		}
		lines = append(lines, line{i, i + j})
		i += j + 1
	}
	key := -1
	for i, ln := range lines {
		text := data[ln.start:ln.end]
		if bytes.HasPrefix(text, []byte("---")) || bytes.HasPrefix(text, []byte("...")) {
			return s, false
		}
		if isCompaniesKey(text) {
			key = i
		}
	}
	if key < 0 {
		// No block-style list: the whole file is header, so any change
		// to it is a change of the header.
		s.header = data
		return s, true
	}
	indent := -1
	blockEnd := len(lines)
	for i := key + 1; i < len(lines); i++ {
		text := data[lines[i].start:lines[i].end]
		trimmed := bytes.TrimLeft(text, " ")
		if len(trimmed) > 0 && trimmed[0] == '\t' {
			return s, false
		}
		if len(bytes.TrimSpace(trimmed)) == 0 || trimmed[0] == '#' {
			continue
		}
		ind := len(text) - len(trimmed)
		isItem := trimmed[0] == '-' && (len(trimmed) == 1 || trimmed[1] == ' ')
		switch {
		case indent < 0 && isItem:
			indent = ind
		case indent < 0 || ind < indent || (ind == indent && indent == 0 && !isItem):
			// The next top-level key ends the list.
			blockEnd = i
		case ind == indent && !isItem:
			return s, false
		}
		if blockEnd != len(lines) {
			break
		}
		if ind == indent && isItem {
			s.items = append(s.items, itemSpan{start: lines[i].start})
		}
	}
	end := len(data)
	if blockEnd < len(lines) {
		end = lines[blockEnd].start
	}
	for i := range s.items {
		if i+1 < len(s.items) {
			s.items[i].end = s.items[i+1].start
		} else {
			s.items[i].end = end
		}
	}
	if len(s.items) == 0 {
		s.header = data
		return s, true
	}
	s.header = append(append([]byte{}, data[:s.items[0].start]...), data[end:]...)
	return s, true
}

// cacheable reports whether a text means the same at every load: no
// ${VAR} reference and no *_file setting, whose file may have changed.
// config_files does not count: its patterns are part of the text.
func cacheable(text []byte) bool {
	if bytes.Contains(text, []byte("${")) {
		return false
	}
	for rest := text; ; {
		i := bytes.Index(rest, []byte("_file"))
		if i < 0 {
			return true
		}
		after := bytes.TrimLeft(rest[i+len("_file"):], " \t")
		if i > 0 && isNameByte(rest[i-1]) && len(after) > 0 && after[0] == ':' {
			return false
		}
		rest = rest[i+len("_file"):]
	}
}

// blankOut returns data with each item, whole lines, replaced by as many
// empty lines, so that the rest parses with its lines and columns unchanged
// and the parser has next to nothing to read for the items.
func blankOut(data []byte, items []itemSpan) []byte {
	out := make([]byte, 0, len(data)/4)
	prev := 0
	for _, it := range items {
		out = append(out, data[prev:it.start]...)
		for range bytes.Count(data[it.start:it.end], []byte("\n")) {
			out = append(out, '\n')
		}
		prev = it.end
	}
	return append(out, data[prev:]...)
}

// reuseCached looks up the company items of a file in the cache and returns
// the file's text with the items found blanked out, so that only the others
// are parsed. It records what it did in p.
func (l *loader) reuseCached(p *parsedFile, data []byte) []byte {
	c := l.opts.Cache
	split, ok := splitCompanies(data)
	if !ok {
		if p.path == l.mainPath {
			l.mainHeaderSame = false
		}
		return data
	}
	p.split = &split
	p.headerHash = c.hash(split.header)
	p.itemHashes = make([]uint64, len(split.items))
	p.cacheable = make([]bool, len(split.items))
	for i, it := range split.items {
		// Blank lines at the end of an item belong to the layout between
		// items, not to the item.
		text := bytes.TrimRight(data[it.start:it.end], " \n")
		p.itemHashes[i] = c.hash(text)
		p.cacheable[i] = cacheable(text)
	}
	cached := c.lookup(p.path)
	sameHeader := cached != nil && cached.header == p.headerHash && cacheable(split.header)
	if p.path == l.mainPath {
		// The main file's header holds the global settings every company
		// inherits: when it changed, nothing can be reused.
		l.mainHeaderSame = sameHeader
	}
	if !sameHeader || !l.mainHeaderSame {
		return data
	}
	var blank []itemSpan
	for i, it := range split.items {
		if !p.cacheable[i] {
			continue
		}
		if comp := cached.companies[p.itemHashes[i]]; comp != nil {
			if p.reusedAt == nil {
				p.reusedAt = map[int]*Company{}
			}
			p.reusedAt[i] = comp
			blank = append(blank, it)
		}
	}
	if len(blank) == 0 {
		return data
	}
	return blankOut(data, blank)
}

// mergeReused puts the reused companies of p back in their places among
// the companies decoded from the rest of its text.
func (l *loader) mergeReused(p parsedFile, decoded []*Company) []*Company {
	if len(p.reusedAt) == 0 {
		return decoded
	}
	out := make([]*Company, 0, len(p.split.items))
	k := 0
	for i := range p.split.items {
		if comp, ok := p.reusedAt[i]; ok {
			out = append(out, comp)
			l.reused[comp] = true
			continue
		}
		if k < len(decoded) {
			out = append(out, decoded[k])
			k++
		}
	}
	return append(out, decoded[k:]...)
}

// cacheEntries returns what the cache keeps of a successful load: per file,
// its header hash and the company of each cacheable item.
func (l *loader) cacheEntries(parsed []parsedFile, cfg *Config) map[string]*cachedFile {
	byFile := map[string][]*Company{}
	for _, c := range cfg.Companies {
		byFile[c.File] = append(byFile[c.File], c)
	}
	out := make(map[string]*cachedFile, len(parsed))
	for _, p := range parsed {
		if p.split == nil {
			continue
		}
		companies := byFile[p.path]
		if len(companies) != len(p.split.items) {
			continue // the items do not map one to one onto companies
		}
		cf := &cachedFile{header: p.headerHash, companies: make(map[uint64]*Company, len(companies))}
		for i, comp := range companies {
			if p.cacheable[i] {
				cf.companies[p.itemHashes[i]] = comp
			}
		}
		out[p.path] = cf
	}
	return out
}
