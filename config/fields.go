package config

import (
	"fmt"
	"reflect"
	"strings"
)

// structInfo lists the YAML keys of a struct type.
type structInfo struct {
	fields []*fieldInfo // in declaration order
	byName map[string]*fieldInfo
}

// fieldInfo is one YAML key of a struct.
type fieldInfo struct {
	name  string
	index []int // for reflect.Value.FieldByIndex
	typ   reflect.Type
}

func (s *structInfo) field(name string) *fieldInfo { return s.byName[name] }

// structInfo returns the YAML keys of struct type t, computing them once
// per load.
func (l *loader) structInfo(t reflect.Type) *structInfo {
	if info, ok := l.structs[t]; ok {
		return info
	}
	info := &structInfo{byName: map[string]*fieldInfo{}}
	addFields(info, t, nil)
	l.structs[t] = info
	return info
}

// addFields adds the exported fields of t to info, following ",inline"
// struct fields. Keys come from the yaml tag, or the lower-cased field name
// as in yaml.v3.
func addFields(info *structInfo, t reflect.Type, prefix []int) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if !f.IsExported() || tag == "-" {
			continue
		}
		index := append(append([]int(nil), prefix...), i)
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct {
			addFields(info, f.Type, index)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fi := &fieldInfo{name: name, index: index, typ: f.Type}
		info.fields = append(info.fields, fi)
		info.byName[name] = fi
	}
}

// keySynonyms maps keys that other tools use to ours.
var keySynonyms = map[string]string{
	"cron":     "schedule",
	"tz":       "time_zone",
	"timezone": "time_zone",
}

// unknownFieldMessage describes an unknown key and suggests the key the
// user probably meant: a known key within a small edit distance, a synonym,
// a nested key written flat (expect_status for expect.status), or a known
// key that it starts with. Without a suggestion it lists the valid keys in
// declaration order. It also returns the top-level field suggested, or "".
func (d *decoder) unknownFieldMessage(key string, info *structInfo) (msg, field string) {
	msg = fmt.Sprintf("unknown field %q", key)
	if d.fragment && len(d.frames) == 0 {
		return msg + ": an included file may contain only companies", ""
	}
	if s, field := suggestField(key, info, d.l); s != "" {
		return msg + ", did you mean " + s + "?", field
	}
	names := make([]string, len(info.fields))
	for i, f := range info.fields {
		names[i] = f.name
	}
	return msg + "; valid fields are " + strings.Join(names, ", "), ""
}

// suggestField returns the quoted key that key most likely misspells and
// the field of info that holds it, or two empty strings.
func suggestField(key string, info *structInfo, l *loader) (suggestion, field string) {
	if f := closestField(key, info); f != nil {
		return fmt.Sprintf("%q", f.name), f.name
	}
	if s, ok := keySynonyms[strings.ToLower(key)]; ok && info.field(s) != nil {
		return fmt.Sprintf("%q", s), s
	}
	// A nested key written flat, such as expect_status or expected_staus.
	for i := 1; i < len(key)-1; i++ {
		if key[i] != '_' && key[i] != '.' {
			continue
		}
		parent := closestField(key[:i], info)
		if parent == nil {
			continue
		}
		t := parent.typ
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			continue
		}
		if child := closestField(key[i+1:], l.structInfo(t)); child != nil {
			return fmt.Sprintf("%q under %q", child.name, parent.name), parent.name
		}
	}
	for _, f := range info.fields {
		if len(key) >= 4 && len(f.name) >= 4 && (strings.HasPrefix(key, f.name) || strings.HasPrefix(f.name, key)) {
			return fmt.Sprintf("%q", f.name), f.name
		}
	}
	return "", ""
}

// closestField returns the field nearest to key by edit distance, if it is
// near enough to be a typo: one edit for names up to five letters, and one
// more for every three letters after that. Ties go to the field declared
// first.
func closestField(key string, info *structInfo) *fieldInfo {
	var best *fieldInfo
	bestDist := 0
	for _, f := range info.fields {
		limit := max(1, len(f.name)/3)
		d := editDistance(strings.ToLower(key), f.name)
		if d <= limit && (best == nil || d < bestDist) {
			best, bestDist = f, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// the number of single-byte insertions, deletions, substitutions and swaps
// of neighbours that turn a into b.
func editDistance(a, b string) int {
	// rows[0], rows[1], rows[2] hold rows i-2, i-1 and i.
	var rows [3][]int
	for r := range rows {
		rows[r] = make([]int, len(b)+1)
	}
	for j := range rows[1] {
		rows[1][j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur, prev, prev2 := rows[2], rows[1], rows[0]
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		rows[0], rows[1], rows[2] = prev, cur, prev2
	}
	return rows[1][len(b)]
}
