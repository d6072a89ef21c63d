package collector

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// gzipped returns the gzip compression of s.
func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestProbeBodyChecksSeeDecodedBody probes a /health that reports
// "status: ERROR database unreachable" gzip-compressed, in three variants.
// The server always compresses, or compresses only when the request's
// Accept-Encoding includes gzip, or the endpoint itself sets
// Accept-Encoding: gzip, so that Go's transport leaves the body
// compressed. Checks on the compressed bytes would find no "ERROR" and
// pass, but on the decoded text every check fails.
func TestProbeBodyChecksSeeDecodedBody(t *testing.T) {
	compressed := gzipped(t, errorBody)
	var compressedSent atomic.Int64
	always := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		compressedSent.Add(1)
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(compressed)
	}))
	defer always.Close()
	whenAsked := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			w.Write([]byte(errorBody))
			return
		}
		compressedSent.Add(1)
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(compressed)
	}))
	defer whenAsked.Close()
	prober := NewHTTPProber(HTTPProberOptions{})

	const (
		notContains = "body_not_contains: ERROR"
		contains    = "body_contains: 'status: OK'"
	)
	tests := []struct {
		name    string
		url     string
		header  string
		expect  string
		message string
		// compressed is set for variants whose server must have sent
		// gzip.
		compressed bool
	}{
		{
			name: "always compressed, not contains", url: always.URL, expect: notContains, compressed: true,
			message: `body contains "ERROR" at byte offset 8: "status: ERROR database unreachable"`,
		},
		{
			name: "always compressed, contains", url: always.URL, expect: contains, compressed: true,
			message: `body does not contain "status: OK" (body begins "status: ERROR database unreachable")`,
		},
		{
			name: "compressed when asked, not contains", url: whenAsked.URL, expect: notContains,
			message: `body contains "ERROR" at byte offset 8: "status: ERROR database unreachable"`,
		},
		{
			name: "compressed when asked, contains", url: whenAsked.URL, expect: contains,
			message: `body does not contain "status: OK" (body begins "status: ERROR database unreachable")`,
		},
		{
			name: "user asks for gzip, not contains", url: whenAsked.URL, expect: notContains, compressed: true,
			header:  "headers: {Accept-Encoding: gzip}",
			message: `body contains "ERROR" at byte offset 8: "status: ERROR database unreachable"`,
		},
		{
			name: "user asks for gzip, contains", url: whenAsked.URL, expect: contains, compressed: true,
			header:  "headers: {Accept-Encoding: gzip}",
			message: `body does not contain "status: OK" (body begins "status: ERROR database unreachable")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint := "url: " + tt.url + "/health\n"
			if tt.header != "" {
				endpoint += tt.header + "\n"
			}
			target := loadTarget(t, endpoint+"expect:\n  "+tt.expect)
			before := compressedSent.Load()

			res := prober.Probe(context.Background(), target)

			checkResult(t, res, false, ReasonBody, tt.message)
			if res.StatusCode != http.StatusOK {
				t.Errorf("StatusCode = %d, want 200", res.StatusCode)
			}
			if tt.compressed && compressedSent.Load() == before {
				t.Errorf("the server sent no compressed body, so the variant proves nothing")
			}
		})
	}
}

// TestProbeJSONDegradedStatusIsDown checks that an endpoint that responds
// 200 with {"status":"degraded"} fails $.status == "ok" and goes DOWN, with
// a message that names the field and both values.
func TestProbeJSONDegradedStatusIsDown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"degraded"}`))
	}))
	defer srv.Close()
	cfg := loadYAMLConfig(t, fmt.Sprintf(`
companies:
  - name: acme
    endpoints:
      - name: api
        url: %s/health
        expect:
          json: ['$.status == "ok"']
`, srv.URL))
	m, _ := newTestManager(t, Options{Prober: NewHTTPProber(HTTPProberOptions{})})
	m.ApplyConfig(cfg)
	key := Key{"acme", "api"}

	m.probe(context.Background(), m.endpoints[key], time.Now())

	st, ok := m.Status(key)
	if !ok {
		t.Fatalf("no status for %s", key)
	}
	const want = `$.status is "degraded", expected == "ok"`
	if st.State != StateDown || st.LastStatusCode != http.StatusOK {
		t.Errorf("state %s after status %d, want down after 200", st.State, st.LastStatusCode)
	}
	if st.LastReason != ReasonJSON || st.LastError != want {
		t.Errorf("LastReason, LastError = %q, %q, want json, %q", st.LastReason, st.LastError, want)
	}
	if st.FailureReason != ReasonJSON || st.FailureMessage != want {
		t.Errorf("FailureReason, FailureMessage = %q, %q, want json, %q", st.FailureReason, st.FailureMessage, want)
	}
}

// TestProbeBodyBeyondLimit probes a 64 KiB body whose marker comes after
// body_size_limit: a check that needs it is not evaluated and fails with
// body_too_large, while a marker within the limit is found.
func TestProbeBodyBeyondLimit(t *testing.T) {
	body := strings.Repeat(".", 32<<10) + "status: OK" + strings.Repeat(".", 32<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(body))
	}))
	defer srv.Close()
	prober := NewHTTPProber(HTTPProberOptions{})
	tests := []struct {
		name    string
		limit   string
		expect  string
		reason  Reason
		message string
	}{
		{name: "marker within limit", limit: "48KiB", expect: "body_contains: 'status: OK'"},
		{
			name: "marker past limit", limit: "16KiB", expect: "body_contains: 'status: OK'",
			reason:  ReasonBodyTooLarge,
			message: `body_contains "status: OK" could not be evaluated within body_size_limit 16KiB: not found before the limit`,
		},
		{
			name: "absence past limit unproven", limit: "16KiB", expect: "body_not_contains: ERROR",
			reason:  ReasonBodyTooLarge,
			message: `body_not_contains "ERROR" could not be evaluated within body_size_limit 16KiB: absent before the limit, but the body is longer`,
		},
		{name: "whole body read", limit: "1MiB", expect: "body_not_contains: ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := loadTarget(t, "url: "+srv.URL+"/\nbody_size_limit: "+tt.limit+"\nexpect:\n  "+tt.expect)
			res := prober.Probe(context.Background(), target)
			checkResult(t, res, tt.reason == ReasonNone, tt.reason, tt.message)
		})
	}
}
