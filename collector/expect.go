package collector

import (
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/apiwatch/apiwatch/config"
)

// judgeResponse checks the final response of an HTTP probe against the
// endpoint's expectations and records the first failure in res. body holds
// the decoded body, up to body_size_limit, when the endpoint has body
// checks, and is nil otherwise; truncated reports that the body went on
// past the limit.
func judgeResponse(e *config.Endpoint, resp *http.Response, body []byte, truncated bool, res *Result) {
	switch {
	case !e.Expect.Status.Matches(resp.StatusCode):
		res.fail(ReasonStatus, fmt.Sprintf("status %d, expected %s", resp.StatusCode, e.Expect.Status))
	case truncated && e.Expect.FailIfBodyTooLarge:
		res.fail(ReasonBodyTooLarge, fmt.Sprintf("body is larger than body_size_limit %s", e.BodySizeLimit))
	}
}

// recordTLS notes in res the certificate expiry of a TLS connection.
func recordTLS(state *tls.ConnectionState, res *Result) {}

// judgeDegraded marks a successful probe degraded when it took longer than
// max_duration or a certificate expires within tls_cert_min_days. It runs
// once the probe's duration is known.
func judgeDegraded(e *config.Endpoint, res *Result) {}
