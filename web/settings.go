package web

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/apiwatch/apiwatch/config"
)

// settingsView describes an endpoint's configuration in words for its page.
type settingsView struct {
	Probe      string
	Schedule   string
	Timeout    string
	Thresholds string
	// Retries is "" when a failed probe is not retried.
	Retries string
	Expect  []expectation
	Labels  []label
}

// expectation is one condition a probe checks: Text in words, and Code,
// if not "", the value from the configuration, shown as code after it.
type expectation struct {
	Text string
	Code string
}

type label struct{ Name, Value string }

// describeSettings summarises e. It shows no request header, body or
// credential, because those often carry secrets; the URL is shown
// elsewhere, redacted.
func describeSettings(c *config.Company, e *config.Endpoint) settingsView {
	v := settingsView{
		Probe:      describeProbe(e),
		Schedule:   describeSchedule(e),
		Timeout:    e.Timeout.String(),
		Thresholds: describeThresholds(e),
		Retries:    describeRetries(e),
		Labels:     mergeLabels(c.Labels, e.Labels),
	}
	switch e.Kind() {
	case config.KindTCP:
		v.Expect = tcpExpectations(e)
	case config.KindGRPC:
		v.Expect = grpcExpectations(e)
	default:
		v.Expect = httpExpectations(e)
	}
	v.Expect = append(v.Expect, degradedExpectations(&e.Expect)...)
	return v
}

func describeProbe(e *config.Endpoint) string {
	switch e.Kind() {
	case config.KindTCP:
		if e.TCP.TLS {
			return "TCP connection with TLS"
		}
		return "TCP connection"
	case config.KindGRPC:
		if e.URL.URL != nil && e.URL.Scheme == "grpcs" {
			return "gRPC health check over TLS"
		}
		return "gRPC health check"
	}
	return "HTTP " + e.Method + " request"
}

func describeSchedule(e *config.Endpoint) string {
	if e.Schedule == "" {
		return "every " + e.Interval.String()
	}
	zone := e.TimeZone
	if zone == "" && !strings.HasPrefix(e.Schedule, "CRON_TZ=") {
		zone = "UTC"
	}
	if zone == "" {
		return "cron schedule " + e.Schedule
	}
	return "cron schedule " + e.Schedule + " in " + zone
}

func describeThresholds(e *config.Endpoint) string {
	return "down after " + countOf(e.FailureThreshold, "failed probe") + " in a row, up again after " +
		countOf(e.SuccessThreshold, "successful probe") + " in a row"
}

func describeRetries(e *config.Endpoint) string {
	if e.Retries == nil || *e.Retries == 0 {
		return ""
	}
	return "a failed probe is tried again up to " + countOf(*e.Retries, "time") + ", " +
		e.RetryDelay.String() + " apart, before it counts as a failure"
}

// countOf returns n and the noun, plural unless n is 1.
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func httpExpectations(e *config.Endpoint) []expectation {
	x := &e.Expect
	out := []expectation{{Text: "status is " + describeStatus(x.Status)}}
	if e.Follows() {
		out = append(out, expectation{Text: "follows up to " + countOf(e.MaxRedirects, "redirect") +
			" and judges the final response"})
	} else {
		out = append(out, expectation{Text: "does not follow redirects and judges the first response"})
	}
	for _, s := range x.BodyContains {
		out = append(out, expectation{Text: "body contains", Code: s})
	}
	for _, s := range x.BodyNotContains {
		out = append(out, expectation{Text: "body does not contain", Code: s})
	}
	for _, re := range x.BodyRegex {
		out = append(out, expectation{Text: "body matches the regular expression", Code: re.String()})
	}
	for _, re := range x.BodyNotRegex {
		out = append(out, expectation{Text: "body does not match the regular expression", Code: re.String()})
	}
	for _, a := range x.JSON {
		out = append(out, expectation{Text: "JSON body meets", Code: a.Text})
	}
	for _, name := range slices.Sorted(maps.Keys(x.Headers)) {
		out = append(out, expectation{Text: "header " + name + " matches", Code: x.Headers[name].String()})
	}
	return append(out, describeBodyLimit(e))
}

func describeBodyLimit(e *config.Endpoint) expectation {
	text := "reads at most " + e.BodySizeLimit.String() + " of the body"
	if e.Expect.FailIfBodyTooLarge {
		text += " and fails when it is longer"
	}
	return expectation{Text: text}
}

// describeStatus writes accepted status codes as "2xx", "200 or 204" or
// "200, 204 or 3xx".
func describeStatus(ms config.StatusMatchers) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

func tcpExpectations(e *config.Endpoint) []expectation {
	var out []expectation
	if e.TCP.Send != "" {
		// The payload may hold a password, as a Redis AUTH does, so only
		// its size is shown.
		out = append(out, expectation{Text: "sends " + countOf(len(e.TCP.Send), "byte") + " after connecting"})
	}
	if e.TCP.Expect != nil && e.TCP.Expect.Regexp != nil {
		out = append(out, expectation{Text: "response matches the regular expression", Code: e.TCP.Expect.String()})
	}
	if len(out) == 0 {
		out = append(out, expectation{Text: "the connection opens"})
	}
	return out
}

func grpcExpectations(e *config.Endpoint) []expectation {
	if e.GRPC.Service == "" {
		return []expectation{{Text: "the server as a whole reports SERVING"}}
	}
	return []expectation{{Text: "health service reports SERVING for", Code: e.GRPC.Service}}
}

func degradedExpectations(x *config.Expect) []expectation {
	var out []expectation
	if x.MaxDuration > 0 {
		out = append(out, expectation{Text: "degraded when a probe takes longer than " + x.MaxDuration.String()})
	}
	if x.TLSCertMinDays > 0 {
		out = append(out, expectation{Text: "degraded when a certificate expires within " +
			countOf(x.TLSCertMinDays, "day")})
	}
	return out
}

// mergeLabels returns the company's labels overridden by the endpoint's,
// sorted by name.
func mergeLabels(company, endpoint map[string]string) []label {
	merged := make(map[string]string, len(company)+len(endpoint))
	maps.Copy(merged, company)
	maps.Copy(merged, endpoint)
	out := make([]label, 0, len(merged))
	for _, k := range slices.Sorted(maps.Keys(merged)) {
		out = append(out, label{Name: k, Value: merged[k]})
	}
	return out
}
