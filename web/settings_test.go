package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/apiwatch/apiwatch/config"
)

// loadEndpoint loads a configuration with the company acme, whose labels
// are team=payments, and one endpoint with the given YAML keys.
func loadEndpoint(t *testing.T, keys string) (*config.Company, *config.Endpoint) {
	t.Helper()
	doc := "companies:\n  - name: acme\n    labels: {team: payments}\n    endpoints:\n      - name: api\n"
	for _, line := range strings.Split(keys, "\n") {
		doc += "        " + line + "\n"
	}
	path := filepath.Join(t.TempDir(), "apiwatch.yml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadFile(path)
	if err != nil {
		t.Fatalf("loading:\n%s\nerror: %v", doc, err)
	}
	return cfg.Companies[0], cfg.Companies[0].Endpoints[0]
}

func TestDescribeSettings(t *testing.T) {
	tests := []struct {
		name string
		keys string
		want settingsView
	}{
		{
			name: "defaults",
			keys: "url: https://api.acme.example/",
			want: settingsView{
				Probe:      "HTTP GET request",
				Schedule:   "every 1m",
				Timeout:    "10s",
				Thresholds: "down after 1 failed probe in a row, up again after 1 successful probe in a row",
				Expect: []expectation{
					{Text: "status is 2xx"},
					{Text: "follows up to 10 redirects and judges the final response"},
					{Text: "reads at most 1MiB of the body"},
				},
				Labels: []label{{"team", "payments"}},
			},
		},
		{
			name: "every HTTP expectation",
			keys: `url: https://user:pw@api.acme.example/?token=t
method: POST
body: '{"secret": "s3"}'
headers: {Authorization: Bearer abc}
interval: 30s
timeout: 5s
failure_threshold: 3
success_threshold: 2
retries: 2
retry_delay: 2s
follow_redirects: false
body_size_limit: 64KiB
labels: {team: checkout, tier: gold}
expect:
  status: [200, 204, 3xx]
  fail_if_body_too_large: true
  body_contains: ['"ok":true']
  body_not_contains: error
  body_regex: '^\{'
  body_not_regex: ['"status":\s*"down"']
  json: ['$.status == "ok"', '$.queue.depth < 1000']
  headers: {X-Request-Id: '.+', Content-Type: '^application/json'}
  max_duration: 800ms
  tls_cert_min_days: 14`,
			want: settingsView{
				Probe:      "HTTP POST request",
				Schedule:   "every 30s",
				Timeout:    "5s",
				Thresholds: "down after 3 failed probes in a row, up again after 2 successful probes in a row",
				Retries:    "a failed probe is tried again up to 2 times, 2s apart, before it counts as a failure",
				Expect: []expectation{
					{Text: "status is 200, 204 or 3xx"},
					{Text: "does not follow redirects and judges the first response"},
					{Text: "body contains", Code: `"ok":true`},
					{Text: "body does not contain", Code: "error"},
					{Text: "body matches the regular expression", Code: `^\{`},
					{Text: "body does not match the regular expression", Code: `"status":\s*"down"`},
					{Text: "JSON body meets", Code: `$.status == "ok"`},
					{Text: "JSON body meets", Code: `$.queue.depth < 1000`},
					{Text: "header Content-Type matches", Code: "^application/json"},
					{Text: "header X-Request-Id matches", Code: ".+"},
					{Text: "reads at most 64KiB of the body and fails when it is longer"},
					{Text: "degraded when a probe takes longer than 800ms"},
					{Text: "degraded when a certificate expires within 14 days"},
				},
				Labels: []label{{"team", "checkout"}, {"tier", "gold"}},
			},
		},
		{
			name: "cron in a time zone",
			keys: "url: https://api.acme.example/\nschedule: '*/15 9-17 * * 1-5'\ntime_zone: Europe/Berlin\nexpect: {status: 204}",
			want: settingsView{
				Probe:      "HTTP GET request",
				Schedule:   "cron schedule */15 9-17 * * 1-5 in Europe/Berlin",
				Timeout:    "10s",
				Thresholds: "down after 1 failed probe in a row, up again after 1 successful probe in a row",
				Expect: []expectation{
					{Text: "status is 204"},
					{Text: "follows up to 10 redirects and judges the final response"},
					{Text: "reads at most 1MiB of the body"},
				},
				Labels: []label{{"team", "payments"}},
			},
		},
		{
			name: "cron with CRON_TZ",
			keys: "url: https://api.acme.example/\nschedule: 'CRON_TZ=Asia/Tokyo 0 * * * *'",
			want: settingsView{
				Probe:      "HTTP GET request",
				Schedule:   "cron schedule CRON_TZ=Asia/Tokyo 0 * * * *",
				Timeout:    "10s",
				Thresholds: "down after 1 failed probe in a row, up again after 1 successful probe in a row",
				Expect: []expectation{
					{Text: "status is 2xx"},
					{Text: "follows up to 10 redirects and judges the final response"},
					{Text: "reads at most 1MiB of the body"},
				},
				Labels: []label{{"team", "payments"}},
			},
		},
		{
			name: "TCP hides what it sends",
			keys: "url: tcp://cache.acme.example:6379\ntcp:\n  tls: true\n  send: \"AUTH hunter2\\r\\nPING\\r\\n\"\n" +
				"  expect: '^\\+PONG'\nexpect: {max_duration: 1s}",
			want: settingsView{
				Probe:      "TCP connection with TLS",
				Schedule:   "every 1m",
				Timeout:    "10s",
				Thresholds: "down after 1 failed probe in a row, up again after 1 successful probe in a row",
				Expect: []expectation{
					{Text: "sends 20 bytes after connecting"},
					{Text: "response matches the regular expression", Code: `^\+PONG`},
					{Text: "degraded when a probe takes longer than 1s"},
				},
				Labels: []label{{"team", "payments"}},
			},
		},
		{
			name: "TCP connect only",
			keys: "url: tcp://db.acme.example:5432",
			want: settingsView{
				Probe:      "TCP connection",
				Schedule:   "every 1m",
				Timeout:    "10s",
				Thresholds: "down after 1 failed probe in a row, up again after 1 successful probe in a row",
				Expect:     []expectation{{Text: "the connection opens"}},
				Labels:     []label{{"team", "payments"}},
			},
		},
		{
			name: "gRPC service over TLS",
			keys: "url: grpcs://orders.acme.example:443\ngrpc: {service: demo.Orders}",
			want: settingsView{
				Probe:      "gRPC health check over TLS",
				Schedule:   "every 1m",
				Timeout:    "10s",
				Thresholds: "down after 1 failed probe in a row, up again after 1 successful probe in a row",
				Expect:     []expectation{{Text: "health service reports SERVING for", Code: "demo.Orders"}},
				Labels:     []label{{"team", "payments"}},
			},
		},
		{
			name: "gRPC whole server",
			keys: "url: grpc://orders.acme.example:50051",
			want: settingsView{
				Probe:      "gRPC health check",
				Schedule:   "every 1m",
				Timeout:    "10s",
				Thresholds: "down after 1 failed probe in a row, up again after 1 successful probe in a row",
				Expect:     []expectation{{Text: "the server as a whole reports SERVING"}},
				Labels:     []label{{"team", "payments"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, e := loadEndpoint(t, tt.keys)
			got := describeSettings(c, e)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("describeSettings (-want +got):\n%s", diff)
			}
		})
	}
}
