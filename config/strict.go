package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

func reflectTypeOf(v any) reflect.Type { return reflect.TypeOf(v) }

// checkKnownFields walks node beside the Go type t and reports every mapping
// key that t does not define, with its line, column and the closest known
// key. yaml.v3 can do this itself only when decoding from bytes, and the
// loader decodes from the node tree so that it parses each file once.
func (l *loader) checkKnownFields(file string, node *yaml.Node, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if node.Kind == yaml.AliasNode {
		node = node.Alias
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if node.Kind != yaml.MappingNode {
			return // decoding reports the type mismatch
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(node.Content); i += 2 {
			key, value := node.Content[i], node.Content[i+1]
			ft, ok := fields[key.Value]
			if !ok {
				l.add(&Error{File: file, Line: key.Line, Column: key.Column,
					Msg: unknownFieldMessage(key.Value, fields)})
				continue
			}
			l.checkKnownFields(file, value, ft)
		}
	case reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			return
		}
		for _, item := range node.Content {
			l.checkKnownFields(file, item, t.Elem())
		}
	case reflect.Map:
		if node.Kind != yaml.MappingNode {
			return
		}
		for i := 1; i < len(node.Content); i += 2 {
			l.checkKnownFields(file, node.Content[i], t.Elem())
		}
	}
}

// yamlFields maps each YAML key of struct t to its field type, following
// inline fields.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range yamlFields(ft) {
				fields[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

func unknownFieldMessage(key string, fields map[string]reflect.Type) string {
	msg := fmt.Sprintf("unknown field %q", key)
	best, bestDist := "", 4
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if d := editDistance(key, name); d < bestDist {
			best, bestDist = name, d
		}
	}
	if best == "" {
		for _, name := range names {
			if len(name) >= 4 && (strings.HasPrefix(key, name) || strings.HasPrefix(name, key)) {
				best = name
				break
			}
		}
	}
	if best != "" {
		return msg + fmt.Sprintf(", did you mean %q?", best)
	}
	return msg + " (valid fields: " + strings.Join(names, ", ") + ")"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
