package config

import (
	"fmt"
	"strings"
)

// Error is one problem in a configuration file.
type Error struct {
	File   string
	Line   int // 0 when unknown
	Column int // 0 when unknown
	// Company and Endpoint name the item the problem belongs to, if any.
	Company  string
	Endpoint string
	// Field is the key that holds the bad value, if known.
	Field string
	Msg   string
}

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

// Errors is every problem found while loading a configuration. Load returns
// it as its error; use errors.As to reach the individual problems.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}
