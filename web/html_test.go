package web_test

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// parseHTML parses a page, failing the test if it is not HTML.
func parseHTML(t *testing.T, page string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("parsing page: %v\n%s", err, page)
	}
	return doc
}

// findAll returns the elements under n, in document order, for which match
// returns true.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && match(d) {
			out = append(out, d)
		}
	}
	return out
}

// tag matches elements by tag name.
func tag(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name }
}

// withAttr matches elements whose attribute key has the value.
func withAttr(key, value string) func(*html.Node) bool {
	return func(n *html.Node) bool {
		v, ok := attr(n, key)
		return ok && v == value
	}
}

// byID returns the element with the id, failing the test if there is not
// exactly one.
func byID(t *testing.T, doc *html.Node, id string) *html.Node {
	t.Helper()
	found := findAll(doc, withAttr("id", id))
	if len(found) != 1 {
		t.Fatalf("page has %d elements with id %q, want 1", len(found), id)
	}
	return found[0]
}

// attr returns an attribute's value and whether it is present.
func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// text returns the text under n with runs of white space collapsed to one
// space, as a reader sees it. The text of <title> elements inside SVG is
// left out, because browsers show it only as a tooltip.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			b.WriteString(n.Data)
		case n.Type == html.ElementNode && n.Data == "title" && n.Parent != nil && n.Parent.Data != "head":
			return
		case n.Type == html.ElementNode && (n.Data == "span" || n.Data == "td" || n.Data == "th"):
			// A block-styled span and a cell start a new run of text.
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// cells returns the th and td children of a table row.
func cells(row *html.Node) []*html.Node {
	var out []*html.Node
	for c := row.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && (c.Data == "th" || c.Data == "td") {
			out = append(out, c)
		}
	}
	return out
}

// cellTexts returns the text of each cell of a row.
func cellTexts(row *html.Node) []string {
	var out []string
	for _, c := range cells(row) {
		out = append(out, text(c))
	}
	return out
}
