package config

import (
	"fmt"
	"strings"
)

// Error is one problem in a configuration file. Error() formats it as
//
//	FILE:LINE:COLUMN: company "NAME": endpoint "NAME": FIELD: MESSAGE
//
// leaving out the parts that are unknown or empty.
type Error struct {
	File   string
	Line   int // 0 when unknown
	Column int // 0 when unknown
	// Company and Endpoint name the item the problem belongs to, if any.
	Company  string
	Endpoint string
	// Field is the key path of the bad value inside the company or endpoint,
	// or from the top of the file, such as expect.status or global.interval.
	Field string
	Msg   string
}

// Error formats the problem on one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Company != "" {
		fmt.Fprintf(&b, "company %q: ", e.Company)
	}
	if e.Endpoint != "" {
		fmt.Fprintf(&b, "endpoint %q: ", e.Endpoint)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found while loading a configuration, in file order
// and then line order. LoadFile returns it as its error; errors.As reaches
// both Errors and each *Error in it.
type Errors []*Error

// Error formats the problems one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, so that errors.As can reach each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
