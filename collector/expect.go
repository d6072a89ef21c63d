package collector

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apiwatch/apiwatch/config"
)

// judgeResponse checks the final response of an HTTP probe against the
// endpoint's expectations and records the first failure in res. body holds
// the decoded body, up to body_size_limit, when the endpoint has body
// checks, and is nil otherwise; truncated reports that the body went on
// past the limit.
//
// The checks run in this order, and the first failure wins: status, body
// size, body_contains, body_not_contains, body_regex, body_not_regex, json,
// headers. A body check that the part read cannot settle, because the body
// is longer than body_size_limit, fails with ReasonBodyTooLarge rather than
// pass unproven.
func judgeResponse(e *config.Endpoint, resp *http.Response, body []byte, truncated bool, res *Result) {
	x := &e.Expect
	switch {
	case !x.Status.Matches(resp.StatusCode):
		res.fail(ReasonStatus, fmt.Sprintf("status %d, expected %s", resp.StatusCode, x.Status))
		return
	case truncated && x.FailIfBodyTooLarge:
		res.fail(ReasonBodyTooLarge, fmt.Sprintf("body is larger than body_size_limit %s", e.BodySizeLimit))
		return
	}
	b := bodyJudge{e: e, body: body, truncated: truncated}
	reason, msg := b.checkText()
	if reason == ReasonNone {
		reason, msg = b.checkJSON()
	}
	if reason == ReasonNone {
		reason, msg = checkHeaders(e, resp.Header)
	}
	if reason != ReasonNone {
		res.fail(reason, msg)
	}
}

// judgeDegraded marks a successful probe degraded when a certificate expires
// within tls_cert_min_days or the probe took longer than max_duration. When
// both apply, the reason is cert_expiry, which lasts until someone acts. It
// runs once the probe's duration is known.
func judgeDegraded(e *config.Endpoint, res *Result) {
	if !res.Success {
		return
	}
	x := &e.Expect
	end := res.Start.Add(res.Duration)
	if x.TLSCertMinDays > 0 && !res.TLSCertExpiry.IsZero() {
		minLeft := time.Duration(x.TLSCertMinDays) * 24 * time.Hour
		if left := res.TLSCertExpiry.Sub(end); left < minLeft {
			res.degrade(ReasonCertExpiry, fmt.Sprintf("certificate %q %s (%s), expected at least %d days (tls_cert_min_days)",
				res.TLSCertSubject, expiresIn(left), res.TLSCertExpiry.UTC().Format(time.RFC3339), x.TLSCertMinDays))
		}
	}
	if limit := time.Duration(x.MaxDuration); limit > 0 && res.Duration > limit {
		took := res.Duration.Round(time.Millisecond)
		if took <= limit {
			took = res.Duration.Round(time.Microsecond)
		}
		res.degrade(ReasonSlow, fmt.Sprintf("took %s, expected at most %s (max_duration)", took, x.MaxDuration))
	}
}

// bodyJudge runs the body expectations of one response.
type bodyJudge struct {
	e         *config.Endpoint
	body      []byte
	truncated bool
}

// checkText runs body_contains, body_not_contains, body_regex and
// body_not_regex, in that order.
func (b *bodyJudge) checkText() (Reason, string) {
	x := &b.e.Expect
	for _, s := range x.BodyContains {
		if !bytes.Contains(b.body, []byte(s)) {
			if b.truncated {
				return b.unsettled(fmt.Sprintf("body_contains %q", s), "not found before the limit")
			}
			return ReasonBody, fmt.Sprintf("body does not contain %q (%s)", s, b.describeStart())
		}
	}
	for _, s := range x.BodyNotContains {
		i := bytes.Index(b.body, []byte(s))
		switch {
		case i >= 0:
			return ReasonBody, fmt.Sprintf("body contains %q at byte offset %d: %s", s, i, b.quoteAround(i, i+len(s)))
		case b.truncated:
			return b.unsettled(fmt.Sprintf("body_not_contains %q", s), "absent before the limit, but the body is longer")
		}
	}
	for _, re := range x.BodyRegex {
		loc := re.FindIndex(b.body)
		if loc == nil || b.unproven(re.Regexp, loc) {
			if b.truncated {
				return b.unsettled("body_regex "+re.String(), "no match before the limit")
			}
			return ReasonBody, fmt.Sprintf("body does not match %s (%s)", re, b.describeStart())
		}
	}
	for _, re := range x.BodyNotRegex {
		loc := re.FindIndex(b.body)
		switch {
		case loc != nil && !b.unproven(re.Regexp, loc):
			return ReasonBody, fmt.Sprintf("body matches %s at byte offset %d: %s", re, loc[0], b.quoteAround(loc[0], loc[1]))
		case b.truncated:
			return b.unsettled("body_not_regex "+re.String(), "no match before the limit, but the body is longer")
		}
	}
	return ReasonNone, ""
}

// checkJSON parses the body and runs the json assertions in order.
func (b *bodyJudge) checkJSON() (Reason, string) {
	assertions := b.e.Expect.JSON
	if len(assertions) == 0 {
		return ReasonNone, ""
	}
	var doc any
	if err := json.Unmarshal(b.body, &doc); err != nil {
		if b.truncated {
			return b.unsettled("json", "the body is cut off at the limit")
		}
		return ReasonJSON, jsonErrorMessage(b.body, err)
	}
	for _, a := range assertions {
		if ok, msg := a.Check(doc); !ok {
			return ReasonJSON, redactSecrets(msg, endpointSecrets(b.e))
		}
	}
	return ReasonNone, ""
}

// unsettled reports a check that the part of the body read cannot decide.
func (b *bodyJudge) unsettled(check, detail string) (Reason, string) {
	return ReasonBodyTooLarge, fmt.Sprintf("%s could not be evaluated within body_size_limit %s: %s",
		check, b.e.BodySizeLimit, detail)
}

// unproven reports whether a regular expression match at loc could come
// from the cut at body_size_limit: the match ends where the read stopped,
// and the expression tests what follows, with $, \z, \b or \B.
func (b *bodyJudge) unproven(re *regexp.Regexp, loc []int) bool {
	return b.truncated && loc[1] == len(b.body) && testsTextEnd(re)
}

// testsTextEnd reports whether re contains an assertion about the text
// after a match: an end of line or text, or a word boundary.
func testsTextEnd(re *regexp.Regexp) bool {
	parsed, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return true
	}
	var walk func(*syntax.Regexp) bool
	walk = func(r *syntax.Regexp) bool {
		switch r.Op {
		case syntax.OpEndLine, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
			return true
		}
		return slices.ContainsFunc(r.Sub, walk)
	}
	return walk(parsed)
}

// describeStart quotes the start of the body for a message about something
// the body lacks.
func (b *bodyJudge) describeStart() string {
	if len(b.body) == 0 {
		return "body is empty"
	}
	return "body begins " + quoteServerText(b.body, 0, 2*snippetContext, b.truncated, endpointSecrets(b.e))
}

// quoteAround quotes the body from start to end with some context around
// it.
func (b *bodyJudge) quoteAround(start, end int) string {
	end = min(end, start+maxQuotedMatch)
	return quoteServerText(b.body, start-snippetContext, end+snippetContext, b.truncated, endpointSecrets(b.e))
}

// jsonErrorMessage describes why body is not JSON, with the line and
// column of the error.
func jsonErrorMessage(body []byte, err error) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "body is empty, expected JSON"
	}
	var syntaxErr *json.SyntaxError
	if !errors.As(err, &syntaxErr) {
		return "body is not JSON: " + err.Error()
	}
	// Offset counts the bytes read when the error was found, so an invalid
	// character is the last of them.
	pos := int(syntaxErr.Offset)
	if strings.HasPrefix(syntaxErr.Error(), "invalid character") {
		pos--
	}
	pos = max(0, min(pos, len(body)))
	line := 1 + bytes.Count(body[:pos], []byte("\n"))
	column := pos - bytes.LastIndexByte(body[:pos], '\n')
	return fmt.Sprintf("body is not JSON: %v at line %d, column %d", syntaxErr, line, column)
}

// checkHeaders checks the expected response headers, in the order of their
// names. A header sent several times passes when any of its values
// matches.
func checkHeaders(e *config.Endpoint, header http.Header) (Reason, string) {
	want := e.Expect.Headers
	for _, name := range slices.Sorted(maps.Keys(want)) {
		re := want[name]
		displayName := textproto.CanonicalMIMEHeaderKey(name)
		values := header.Values(name)
		switch {
		case len(values) == 0:
			return ReasonHeader, fmt.Sprintf("header %s is missing", displayName)
		case slices.ContainsFunc(values, re.MatchString):
			continue
		case isSensitiveName(name):
			return ReasonHeader, fmt.Sprintf("header %s does not match %s (value not shown, because it may hold a secret)", displayName, re)
		}
		value := []byte(strings.Join(values, ", "))
		return ReasonHeader, fmt.Sprintf("header %s is %s, expected to match %s",
			displayName, quoteServerText(value, 0, maxQuotedMatch, false, endpointSecrets(e)), re)
	}
	return ReasonNone, ""
}

// Sizes of the server text that failure messages quote, in bytes.
const (
	// snippetContext is the context quoted on each side of a match.
	snippetContext = 32
	// maxQuotedMatch caps the quoted part of a match or a header value.
	maxQuotedMatch = 64
)

// quoteServerText quotes text[lo:hi], clamped to the text and moved to
// UTF-8 boundaries, for a failure message. It marks each cut with "...",
// also at the end of text when truncated reports that the text was cut
// there. It replaces the endpoint's secrets with "xxxxx", also where one
// straddles a cut, because a server may echo the request.
func quoteServerText(text []byte, lo, hi int, truncated bool, secrets []string) string {
	lo, hi = runeStart(text, max(lo, 0)), runeStart(text, min(hi, len(text)))
	var b strings.Builder
	if lo > 0 {
		b.WriteString("...")
	}
	pos := lo
	for _, m := range secretRanges(text, lo, hi, secrets) {
		b.Write(text[pos:m[0]])
		b.WriteString(redactedText)
		pos = m[1]
	}
	b.Write(text[pos:hi])
	if hi < len(text) || truncated {
		b.WriteString("...")
	}
	return fmt.Sprintf("%q", b.String())
}

// secretRanges returns the ranges of text[lo:hi] that are part of a secret,
// sorted and merged. A secret that starts before lo or ends after hi
// counts, cut to the window.
func secretRanges(text []byte, lo, hi int, secrets []string) [][2]int {
	var ranges [][2]int
	for _, s := range secrets {
		from, to := max(0, lo-len(s)+1), min(len(text), hi+len(s)-1)
		for i := from; i < to; {
			k := bytes.Index(text[i:to], []byte(s))
			if k < 0 {
				break
			}
			ranges = append(ranges, [2]int{max(i+k, lo), min(i+k+len(s), hi)})
			i += k + 1
		}
	}
	slices.SortFunc(ranges, func(a, b [2]int) int { return a[0] - b[0] })
	merged := ranges[:0]
	for _, r := range ranges {
		if n := len(merged); n > 0 && r[0] <= merged[n-1][1] {
			merged[n-1][1] = max(merged[n-1][1], r[1])
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// redactSecrets replaces each secret in msg with "xxxxx".
func redactSecrets(msg string, secrets []string) string {
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, redactedText)
	}
	return msg
}

// runeStart moves i back to the start of the UTF-8 sequence it is in, if
// text is valid UTF-8 there.
func runeStart(text []byte, i int) int {
	for k := 0; k < 3 && i > 0 && i < len(text) && !utf8.RuneStart(text[i]); k++ {
		i--
	}
	return i
}

// redactedText replaces a secret in quoted server text, as config.RedactURL
// does in URLs.
const redactedText = "xxxxx"

// minSecretLen is the length below which a configured value is not
// searched for in server text: replacing every "on" or "1" would garble
// the quote and protect nothing.
const minSecretLen = 4

// sensitiveWords are substrings of header and query parameter names whose
// values are treated as secrets, the list config.RedactURL uses plus
// cookie.
var sensitiveWords = []string{
	"token", "key", "secret", "pass", "pwd", "auth", "sig", "credential", "session", "jwt", "cookie",
}

func isSensitiveName(name string) bool {
	name = strings.ToLower(name)
	return slices.ContainsFunc(sensitiveWords, func(w string) bool { return strings.Contains(name, w) })
}

// endpointSecrets returns the credentials the endpoint sends that a server
// could echo: the URL's password and the query values config.RedactURL
// hides, the values of headers with sensitive names, the bearer token and
// the basic auth password. A password also counts as the base64 of
// user:password, the form the Authorization header carries, and a secret
// with a slash also in the form with the slash escaped for JSON.
func endpointSecrets(e *config.Endpoint) []string {
	var out []string
	add := func(s string) {
		if len(s) >= minSecretLen {
			out = append(out, s)
			// JSON encoders such as PHP's write / as \/.
			if strings.Contains(s, "/") {
				out = append(out, strings.ReplaceAll(s, "/", `\/`))
			}
		}
	}
	addBasic := func(user, password string) {
		add(password)
		if password != "" {
			add(base64.StdEncoding.EncodeToString([]byte(user + ":" + password)))
		}
	}
	if u := e.URL.URL; u != nil {
		if p, ok := u.User.Password(); ok {
			addBasic(u.User.Username(), p)
		}
		for _, v := range redactedQueryValues(u.RawQuery) {
			add(v)
		}
	}
	for name, v := range e.Headers {
		if isSensitiveName(name) {
			add(v.Value())
		}
	}
	add(e.BearerToken.Value())
	if e.BasicAuth != nil {
		addBasic(e.BasicAuth.Username, e.BasicAuth.Password.Value())
	}
	return out
}

// redactedQueryValues returns the values that config.RedactURL hides in a
// raw query, both as sent and unescaped.
func redactedQueryValues(rawQuery string) []string {
	if rawQuery == "" {
		return nil
	}
	split := func(q string) []string {
		return strings.FieldsFunc(q, func(r rune) bool { return r == '&' || r == ';' })
	}
	redacted := strings.TrimPrefix(config.RedactURL(&url.URL{RawQuery: rawQuery}), "?")
	sentPairs, redactedPairs := split(rawQuery), split(redacted)
	if len(sentPairs) != len(redactedPairs) {
		return nil
	}
	var out []string
	for i := range sentPairs {
		if sentPairs[i] == redactedPairs[i] {
			continue
		}
		_, v, _ := strings.Cut(sentPairs[i], "=")
		out = append(out, v)
		if unescaped, err := url.QueryUnescape(v); err == nil && unescaped != v {
			out = append(out, unescaped)
		}
	}
	return out
}
