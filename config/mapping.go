package config

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// This file walks the keys of YAML mappings the way yaml.v3 does: scalar
// keys, each at most once, plus the keys that "<<" merge keys bring in.

// pairs calls fn for each key and value of mapping n in document order,
// then for the keys that "<<" merge keys bring in and n does not set
// itself. It reports non-scalar keys, duplicate keys and invalid merges.
func (d *decoder) pairs(n *yaml.Node, fn func(key, value *yaml.Node)) {
	seen := newKeySet(len(n.Content) / 2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if isMergeKey(k) {
			merges = append(merges, val)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.keyError(k, "invalid key: expected a string")
			continue
		}
		if first := seen.add(k); first != nil {
			d.keyError(k, fmt.Sprintf("duplicate key %q, first set at line %d", k.Value, first.Line))
			continue
		}
		fn(k, val)
	}
	for _, m := range merges {
		for _, src := range d.mergeSources(m) {
			d.aliasDepth++
			mergedPairs(src, func(k, val *yaml.Node) {
				if seen.add(k) == nil {
					fn(k, val)
				}
			})
			d.aliasDepth--
		}
	}
}

func isMergeKey(k *yaml.Node) bool {
	if k.Kind != yaml.ScalarNode || k.Value != "<<" {
		return false
	}
	return k.Tag == "" || k.Tag == "!" || k.ShortTag() == "!!merge"
}

// mergeSources returns the mappings that the value of a "<<" key names: a
// mapping, or a list of them, each possibly an alias.
func (d *decoder) mergeSources(m *yaml.Node) []*yaml.Node {
	items := []*yaml.Node{m}
	if r := d.resolveAlias(m); r != nil && r.Kind == yaml.SequenceNode {
		items = r.Content
	}
	var out []*yaml.Node
	for _, item := range items {
		r := d.resolveAlias(item)
		if r == nil {
			continue
		}
		if r.Kind != yaml.MappingNode {
			d.errorAt(item, "invalid merge: the value of << must be a mapping or a list of mappings")
			continue
		}
		out = append(out, r)
	}
	return out
}

// mergedPairs calls fn for each scalar key of mapping n and of the mappings
// it merges in turn. Earlier keys win: the caller skips keys it has seen.
// Problems inside a merged mapping are reported where it is decoded as
// itself, if it is.
func mergedPairs(n *yaml.Node, fn func(key, value *yaml.Node)) {
	// visited keeps a mapping merged many times over, as in a chain of
	// anchors that each merge the previous one ten times, from being walked
	// more than once: its keys lose to the first visit's anyway.
	var visited map[*yaml.Node]bool
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if isMergeKey(k) {
				merges = append(merges, n.Content[i+1])
			} else if k.Kind == yaml.ScalarNode {
				fn(k, n.Content[i+1])
			}
		}
		for _, m := range merges {
			m = aliasTarget(m)
			items := []*yaml.Node{m}
			if m != nil && m.Kind == yaml.SequenceNode {
				items = m.Content
			}
			for _, item := range items {
				item = aliasTarget(item)
				if item == nil || item.Kind != yaml.MappingNode || visited[item] {
					continue
				}
				if visited == nil {
					visited = map[*yaml.Node]bool{n: true}
				}
				visited[item] = true
				walk(item)
			}
		}
	}
	walk(n)
}

// keySet records the keys of one mapping. Small mappings, which are almost
// all of them, are scanned linearly to save allocating a map per mapping.
type keySet struct {
	small []*yaml.Node
	large map[string]*yaml.Node
}

func newKeySet(size int) keySet {
	if size > 16 {
		return keySet{large: make(map[string]*yaml.Node, size)}
	}
	return keySet{small: make([]*yaml.Node, 0, size)}
}

// add records k and returns the key node first recorded with its value, or
// nil if k is new.
func (s *keySet) add(k *yaml.Node) *yaml.Node {
	if s.large != nil {
		if first, ok := s.large[k.Value]; ok {
			return first
		}
		s.large[k.Value] = k
		return nil
	}
	for _, first := range s.small {
		if first.Value == k.Value {
			return first
		}
	}
	s.small = append(s.small, k)
	return nil
}
