package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder fills the configuration model from a yaml.Node tree. It replaces
// yaml.v3's Node.Decode for the loader because it reports every problem as
// an *Error carrying the position, company, endpoint and field, rejects
// unknown and duplicate keys, and keeps decoding after each problem. It
// records which fields of each company, endpoint and global block failed,
// so that validation can skip their checks instead of piling up follow-on
// errors.
//
// It handles the kinds the model uses: structs (with ",inline" struct
// fields), pointers, slices, maps with string keys, strings, integers and
// booleans, plus leaf types that implement nodeDecoder or yaml.Unmarshaler.
// Any other kind is handed to yaml.v3's Node.Decode.
type decoder struct {
	l    *loader
	file string
	// fragment is true for an included file, which may contain only
	// companies.
	fragment bool
	frames   []frame

	// plainVisits counts nodes decoded directly and aliasVisits nodes
	// decoded through an alias or merge key, to stop alias bombs.
	// aliasDepth is above 0 while decoding through one.
	plainVisits, aliasVisits int
	aliasDepth               int
	// aborted stops decoding after an alias bomb or absurd nesting.
	aborted bool
}

// frame is one step from the document root to the value being decoded.
type frame struct {
	key   string // mapping key, or "" for a sequence item
	index int    // sequence index, or -1 for a mapping key
	// item is the *Company, *Endpoint or *Global decoded at this step, if any.
	item any
	node *yaml.Node // mapping node of item
}

// nodeError is a problem with a YAML value, at the node it concerns.
type nodeError struct {
	node *yaml.Node
	msg  string
}

// nodeDecoder is implemented by the leaf types of the model. decodeNode
// parses the value from a non-null node and returns every problem with the
// node it concerns, which yaml.Unmarshaler can only do as text.
type nodeDecoder interface {
	decodeNode(n *yaml.Node) []nodeError
}

// Decoding limits. Once more than aliasVisitFloor nodes were reached
// through aliases, they may be at most aliasVisitRatio times the nodes
// reached directly; yaml.v3 guards its own decoder with a similar ratio.
// maxDepth is far above the nesting of the model.
const (
	aliasVisitFloor = 100_000
	aliasVisitRatio = 10
	maxDepth        = 100
)

// obsoleteUnmarshaler is the yaml.v2 form of yaml.Unmarshaler, which the
// prometheus/common types that the model embeds (HTTP client settings,
// secrets, TLS versions, proxy URLs) implement. yaml.v3 still honours it.
type obsoleteUnmarshaler interface {
	UnmarshalYAML(unmarshal func(any) error) error
}

// decodeDefaulter is implemented by model types whose fields start from
// non-zero defaults before the YAML is decoded over them.
type decodeDefaulter interface {
	setDecodeDefaults()
}

var (
	nodeDecoderType         = reflect.TypeFor[nodeDecoder]()
	unmarshalerType         = reflect.TypeFor[yaml.Unmarshaler]()
	obsoleteUnmarshalerType = reflect.TypeFor[obsoleteUnmarshaler]()
)

// decode fills out, a pointer, from node.
func (d *decoder) decode(node *yaml.Node, out any) {
	d.value(node, nil, reflect.ValueOf(out).Elem())
}

// value decodes n into v. key is the mapping key whose value n is, or nil.
func (d *decoder) value(n, key *yaml.Node, v reflect.Value) {
	if d.aborted {
		return
	}
	if len(d.frames) > maxDepth {
		d.errorAt(n, fmt.Sprintf("value nested deeper than %d levels", maxDepth))
		d.aborted = true
		return
	}
	site := n
	if n.Kind == yaml.AliasNode {
		n = d.resolveAlias(n)
		if n == nil {
			return
		}
		d.aliasDepth++
		defer func() { d.aliasDepth-- }()
		if n.Kind == yaml.ScalarNode {
			// Report a scalar's problems where the alias is used.
			c := *n
			c.Line, c.Column = site.Line, site.Column
			n = &c
		}
	}
	if !d.countVisit(site) {
		return
	}
	if isNull(n) {
		return // an empty value leaves the field unset
	}
	if v.CanAddr() {
		if d.leaf(n, v.Addr()) {
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, key, v.Elem())
	case reflect.Struct:
		d.structValue(n, key, v)
	case reflect.Slice:
		d.sliceValue(n, key, v)
	case reflect.Map:
		d.mapValue(n, key, v)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.typeError(n, key, "a string")
			return
		}
		v.SetString(n.Value)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.intValue(n, key, v)
	case reflect.Bool:
		b, ok := parseBool(n)
		if !ok {
			d.typeError(n, key, "true or false")
			return
		}
		v.SetBool(b)
	default:
		d.yamlDecode(n, v)
	}
}

// resolveAlias returns the node an alias refers to.
func (d *decoder) resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.errorAt(n, "alias refers to no anchor")
			return nil
		}
		n = n.Alias
	}
	return n
}

// countVisit counts a decoded node and reports false once aliases have
// expanded the document too far.
func (d *decoder) countVisit(n *yaml.Node) bool {
	if d.aliasDepth > 0 {
		d.aliasVisits++
	} else {
		d.plainVisits++
	}
	if d.aliasVisits > aliasVisitFloor && d.aliasVisits > aliasVisitRatio*d.plainVisits {
		d.errorAt(n, "document expands too many aliases")
		d.aborted = true
		return false
	}
	return true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// Ways a type decodes itself, cached per type in loader.leaves.
const (
	notLeaf = iota + 1
	nodeDecoderLeaf
	unmarshalerLeaf
	// obsoleteScalarLeaf decodes a scalar through its yaml.v2 unmarshaler,
	// while a mapping of the same type is decoded field by field, so that
	// unknown keys inside it are still rejected with their position.
	obsoleteScalarLeaf
)

// leaf decodes n through a nodeDecoder or yaml.Unmarshaler that ptr
// implements, and reports whether it did.
func (d *decoder) leaf(n *yaml.Node, ptr reflect.Value) bool {
	t := ptr.Type()
	kind := d.l.leaves[t]
	if kind == 0 {
		switch {
		case t.Implements(nodeDecoderType):
			kind = nodeDecoderLeaf
		case t.Implements(unmarshalerType):
			kind = unmarshalerLeaf
		case t.Implements(obsoleteUnmarshalerType):
			kind = obsoleteScalarLeaf
		default:
			kind = notLeaf
		}
		d.l.leaves[t] = kind
	}
	switch kind {
	case nodeDecoderLeaf:
		for _, e := range ptr.Interface().(nodeDecoder).decodeNode(n) {
			d.errorAt(e.node, e.msg)
		}
		return true
	case unmarshalerLeaf:
		if err := ptr.Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.yamlError(n, err)
		}
		return true
	case obsoleteScalarLeaf:
		if n.Kind != yaml.ScalarNode {
			return false
		}
		if err := n.Decode(ptr.Interface()); err != nil {
			d.yamlError(n, err)
		}
		return true
	}
	return false
}

func (d *decoder) structValue(n, key *yaml.Node, v reflect.Value) {
	if item, ok := modelItem(v); ok && len(d.frames) > 0 {
		top := &d.frames[len(d.frames)-1]
		top.item, top.node = item, n
		d.l.nodes[item] = n
	}
	if n.Kind != yaml.MappingNode {
		d.typeError(n, key, "a mapping")
		return
	}
	if v.CanAddr() {
		if dd, ok := v.Addr().Interface().(decodeDefaulter); ok {
			dd.setDecodeDefaults()
		}
	}
	info := d.l.structInfo(v.Type())
	d.pairs(n, func(k, val *yaml.Node) {
		f := info.field(k.Value)
		if f == nil {
			// The field the key probably meant counts as bad, so that
			// validation does not also report it missing.
			msg, meant := d.unknownFieldMessage(k.Value, info)
			d.report(k, msg, meant)
			return
		}
		d.push(frame{key: k.Value, index: -1})
		d.value(val, k, v.FieldByIndex(f.index))
		d.pop()
	})
}

// modelItem returns the address of v if it is a company, an endpoint or the
// global block: the items that validation checks one by one.
func modelItem(v reflect.Value) (any, bool) {
	if !v.CanAddr() {
		return nil, false
	}
	switch p := v.Addr().Interface().(type) {
	case *Company, *Endpoint, *Global:
		return p, true
	}
	return nil, false
}

func (d *decoder) sliceValue(n, key *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.typeError(n, key, "a list")
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.push(frame{index: i})
		d.value(item, nil, s.Index(i))
		d.pop()
	}
	v.Set(s)
}

func (d *decoder) mapValue(n, key *yaml.Node, v reflect.Value) {
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		d.yamlDecode(n, v)
		return
	}
	if n.Kind != yaml.MappingNode {
		d.typeError(n, key, "a mapping")
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMapWithSize(t, len(n.Content)/2))
	}
	d.pairs(n, func(k, val *yaml.Node) {
		elem := reflect.New(t.Elem()).Elem()
		d.push(frame{key: k.Value, index: -1})
		d.value(val, k, elem)
		d.pop()
		v.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), elem)
	})
}

func (d *decoder) intValue(n, key *yaml.Node, v reflect.Value) {
	if n.Kind == yaml.ScalarNode && n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 {
		if _, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			d.errorAt(n, fmt.Sprintf("invalid value %s: quotes make it a string; write the number without quotes", quoteNode(n)))
			return
		}
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.typeError(n, key, "a whole number")
		return
	}
	// Base 0 reads the forms YAML allows: 0x1f, 0o17, 0b101 and 1_000.
	i, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil || v.OverflowInt(i) {
		d.errorAt(n, fmt.Sprintf("invalid value %q: the number is out of range", n.Value))
		return
	}
	v.SetInt(i)
}

// parseBool accepts what yaml.v3 accepts for a typed bool: true and false,
// and the YAML 1.1 words yes, no, on, off, y and n.
func parseBool(n *yaml.Node) (value, ok bool) {
	if n.Kind != yaml.ScalarNode {
		return false, false
	}
	switch n.Value {
	case "true", "True", "TRUE", "y", "Y", "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "false", "False", "FALSE", "n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	return false, false
}

// yamlDecode hands a value of a kind the decoder does not handle to yaml.v3.
func (d *decoder) yamlDecode(n *yaml.Node, v reflect.Value) {
	if !v.CanAddr() {
		d.errorAt(n, fmt.Sprintf("cannot decode into %s", v.Type()))
		return
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.yamlError(n, err)
	}
}

// yamlError reports an error from yaml.v3 or from a yaml.Unmarshaler at n,
// or at the line that its "line N: " prefix names.
func (d *decoder) yamlError(n *yaml.Node, err error) {
	msgs := []string{err.Error()}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, msg := range msgs {
		at := n
		msg = strings.TrimPrefix(msg, "yaml: ")
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			num, tail, _ := strings.Cut(rest, ": ")
			if line, err := strconv.Atoi(num); err == nil {
				at = &yaml.Node{Line: line}
				msg = tail
			}
		}
		d.errorAt(at, msg)
	}
}

// typeError reports a value of the wrong kind. A mapping or list value is
// reported at its key, because in block style it starts on the next line.
func (d *decoder) typeError(n, key *yaml.Node, want string) {
	switch n.Kind {
	case yaml.ScalarNode:
		d.errorAt(n, fmt.Sprintf("invalid value %q: expected %s", n.Value, want))
		return
	case yaml.MappingNode:
		want += ", got a mapping"
	case yaml.SequenceNode:
		want += ", got a list"
	}
	at := n
	if key != nil {
		at = key
	}
	d.errorAt(at, "expected "+want)
}

func (d *decoder) push(f frame) { d.frames = append(d.frames, f) }
func (d *decoder) pop()         { d.frames = d.frames[:len(d.frames)-1] }

// errorAt records a problem at node n in the current item. It marks as bad
// the top-level field of the innermost company, endpoint or global block
// that holds n, or the whole item when n is the item itself. Validation
// then skips the checks on values that did not decode.
func (d *decoder) errorAt(n *yaml.Node, msg string) { d.report(n, msg, wholeItem) }

// keyError records a problem with a key of the current mapping, which sets
// no field.
func (d *decoder) keyError(k *yaml.Node, msg string) { d.report(k, msg, "") }

// report records a problem at n. itemField is the field to mark bad when n
// belongs to the innermost item itself rather than to one of its fields.
func (d *decoder) report(n *yaml.Node, msg, itemField string) {
	e := &Error{File: d.file, Line: n.Line, Column: n.Column, Msg: msg}
	var steps []any
	for _, f := range d.frames {
		switch f.item.(type) {
		case *Company:
			e.Company, e.Endpoint, steps = scalarValue(f.node, "name"), "", nil
			continue
		case *Endpoint:
			e.Endpoint, steps = scalarValue(f.node, "name"), nil
			continue
		}
		if f.index >= 0 {
			steps = append(steps, f.index)
		} else {
			steps = append(steps, f.key)
		}
	}
	e.Field = fieldPath(steps)
	for i := len(d.frames) - 1; i >= 0; i-- {
		item := d.frames[i].item
		if item == nil {
			continue
		}
		field := itemField
		if i+1 < len(d.frames) {
			field = d.frames[i+1].key
		}
		d.l.markBad(item, field)
		break
	}
	d.l.add(e)
}

// quoteNode returns a quoted scalar as it was written.
func quoteNode(n *yaml.Node) string {
	if n.Style&yaml.SingleQuotedStyle != 0 {
		return "'" + n.Value + "'"
	}
	return strconv.Quote(n.Value)
}
