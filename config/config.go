// Package config defines apiwatch's YAML configuration: the companies, their
// alert contacts and the endpoints to probe. LoadFile reads a main file and
// the files it includes, rejects unknown keys, validates everything and fills
// in defaults, reporting each problem with its file, line, column, company,
// endpoint and field.
package config

import (
	"time"

	"github.com/robfig/cron/v3"
)

// Defaults used when neither the endpoint nor the global block sets a value.
const (
	DefaultInterval         = Duration(time.Minute)
	DefaultTimeout          = Duration(10 * time.Second)
	DefaultBodySizeLimit    = ByteSize(1 << 20)
	DefaultMaxRedirects     = 10
	DefaultFailureThreshold = 1
	DefaultSuccessThreshold = 1

	// MinInterval is the shortest interval accepted. It keeps a unit typo
	// such as 30ms from hammering a target.
	MinInterval = Duration(time.Second)

	// MaxTLSCertMinDays bounds tls_cert_min_days, well inside what a
	// time.Duration holds.
	MaxTLSCertMinDays = 36500
	// MaxResendInterval bounds alerting.resend_interval. A firing alert's
	// endsAt lies a few resend intervals ahead, which must stay inside what
	// a time.Duration holds.
	MaxResendInterval = Duration(7 * 24 * time.Hour)
)

// Config is the whole configuration after includes are merged.
type Config struct {
	Global Global `yaml:"global,omitempty"`
	// ConfigFiles lists glob patterns of further files, relative to the main
	// file, that each contain a companies list.
	ConfigFiles []string   `yaml:"config_files,omitempty"`
	Alerting    Alerting   `yaml:"alerting,omitempty"`
	Companies   []*Company `yaml:"companies,omitempty"`

	// File is the path of the main file.
	File string `yaml:"-"`
	// Files lists every file that was read, the main file first.
	Files []string `yaml:"-"`

	// cacheEntries is what LoadCache.Update keeps of this configuration.
	cacheEntries map[string]*cachedFile
}

// Global holds the defaults for every endpoint.
type Global struct {
	Interval         Duration `yaml:"interval,omitempty"`
	Timeout          Duration `yaml:"timeout,omitempty"`
	FailureThreshold int      `yaml:"failure_threshold,omitempty"`
	SuccessThreshold int      `yaml:"success_threshold,omitempty"`
	BodySizeLimit    ByteSize `yaml:"body_size_limit,omitempty"`
	FollowRedirects  *bool    `yaml:"follow_redirects,omitempty"`
	MaxRedirects     int      `yaml:"max_redirects,omitempty"`
	// ProbeSettings are the request settings every company inherits.
	ProbeSettings `yaml:",inline"`
}

// Company is a tenant: a set of endpoints and the people to alert about them.
type Company struct {
	Name     string            `yaml:"name"`
	Labels   map[string]string `yaml:"labels,omitempty"`
	Contacts Contacts          `yaml:"contacts,omitempty"`
	// Severity labels the company's alerts; endpoints inherit it.
	Severity string `yaml:"severity,omitempty"`
	// RunbookURL is linked from the company's alerts; endpoints inherit it.
	RunbookURL string `yaml:"runbook_url,omitempty"`
	// Maintenance windows apply to every endpoint of the company.
	Maintenance []*Maintenance `yaml:"maintenance,omitempty"`
	// ProbeSettings are the request settings the company's endpoints
	// inherit.
	ProbeSettings `yaml:",inline"`
	Endpoints     []*Endpoint `yaml:"endpoints"`

	// File is the file the company was read from.
	File string `yaml:"-"`
}

// Contacts are the receivers of a company's alerts.
type Contacts struct {
	Email     []string           `yaml:"email,omitempty"`
	PagerDuty []PagerDutyContact `yaml:"pagerduty,omitempty"`
	Webhook   []WebhookContact   `yaml:"webhook,omitempty"`
	Slack     []SlackContact     `yaml:"slack,omitempty"`
	// SMS lists phone numbers in E.164 form, such as +15551234567.
	SMS []string `yaml:"sms,omitempty"`
}

// PagerDutyContact is a PagerDuty Events API v2 integration.
type PagerDutyContact struct {
	RoutingKey     Secret `yaml:"routing_key,omitempty"`
	RoutingKeyFile string `yaml:"routing_key_file,omitempty"`
}

// Endpoint is one URL to probe and the verdict rules for it.
type Endpoint struct {
	Name string `yaml:"name"`
	URL  URL    `yaml:"url"`
	// Interval and Schedule are exclusive: a fixed period, or a cron
	// expression with five fields or a descriptor such as @hourly. The
	// expression runs in TimeZone, in the zone of a CRON_TZ= prefix, or else
	// in UTC.
	Interval Duration `yaml:"interval,omitempty"`
	Schedule string   `yaml:"schedule,omitempty"`
	TimeZone string   `yaml:"time_zone,omitempty"`
	Timeout  Duration `yaml:"timeout,omitempty"`
	// FailureThreshold consecutive failed probes turn the endpoint down, and
	// SuccessThreshold consecutive good ones turn it up again.
	FailureThreshold int   `yaml:"failure_threshold,omitempty"`
	SuccessThreshold int   `yaml:"success_threshold,omitempty"`
	FollowRedirects  *bool `yaml:"follow_redirects,omitempty"`
	MaxRedirects     int   `yaml:"max_redirects,omitempty"`
	// BodySizeLimit caps how much of the body is read. A longer body is read
	// up to the cap and then the connection is closed.
	BodySizeLimit ByteSize          `yaml:"body_size_limit,omitempty"`
	Labels        map[string]string `yaml:"labels,omitempty"`
	Expect        Expect            `yaml:"expect,omitempty"`
	// Severity and RunbookURL override the company's for this endpoint's
	// alerts. Maintenance windows add to the company's.
	Severity    string         `yaml:"severity,omitempty"`
	RunbookURL  string         `yaml:"runbook_url,omitempty"`
	Maintenance []*Maintenance `yaml:"maintenance,omitempty"`

	// Method and Body make the HTTP request; BodyFile reads the body from a
	// file at load, relative to the file that names it.
	Method   string `yaml:"method,omitempty"`
	Body     string `yaml:"body,omitempty"`
	BodyFile string `yaml:"body_file,omitempty"`
	// ProbeSettings are the request settings, each inherited from the
	// company when unset.
	ProbeSettings `yaml:",inline"`
	TCP           TCPSettings  `yaml:"tcp,omitempty"`
	GRPC          GRPCSettings `yaml:"grpc,omitempty"`

	// cron is the parsed Schedule, nil for interval endpoints, and cronGap
	// the shortest time between two of its runs.
	cron    cron.Schedule
	cronGap time.Duration
}

// Expect holds the conditions a response must meet to count as a success.
type Expect struct {
	// Status lists the accepted codes and classes; the default is 2xx.
	Status StatusMatchers `yaml:"status,omitempty"`
	// FailIfBodyTooLarge turns a body longer than body_size_limit into a
	// failure. Without it the body is read up to the limit and judged on
	// that.
	FailIfBodyTooLarge bool `yaml:"fail_if_body_too_large,omitempty"`
	// BodyContains and BodyNotContains are substrings the body must and must
	// not contain; BodyRegex and BodyNotRegex are regular expressions it
	// must and must not match. They apply to the decoded body: gzip and
	// deflate are undone first.
	BodyContains    StringList `yaml:"body_contains,omitempty"`
	BodyNotContains StringList `yaml:"body_not_contains,omitempty"`
	BodyRegex       RegexpList `yaml:"body_regex,omitempty"`
	BodyNotRegex    RegexpList `yaml:"body_not_regex,omitempty"`
	// JSON are assertions on the body parsed as JSON.
	JSON []JSONAssertion `yaml:"json,omitempty"`
	// Headers maps response header names to regular expressions their value
	// must match; a missing header fails. ".*" checks presence only.
	Headers map[string]Regexp `yaml:"headers,omitempty"`
	// MaxDuration marks a probe slower than this DEGRADED rather than DOWN;
	// the timeout still fails it.
	MaxDuration Duration `yaml:"max_duration,omitempty"`
	// TLSCertMinDays marks the endpoint DEGRADED when a certificate of the
	// verified chain expires in fewer days.
	TLSCertMinDays int `yaml:"tls_cert_min_days,omitempty"`
}

// HasBodyChecks reports whether any expectation needs the body's content.
func (x *Expect) HasBodyChecks() bool {
	return len(x.BodyContains) > 0 || len(x.BodyNotContains) > 0 || len(x.BodyRegex) > 0 ||
		len(x.BodyNotRegex) > 0 || len(x.JSON) > 0
}

// Cron returns the parsed cron schedule, or nil when the endpoint runs on an
// interval.
func (e *Endpoint) Cron() cron.Schedule { return e.cron }

// Follows reports whether redirects are followed.
func (e *Endpoint) Follows() bool { return e.FollowRedirects == nil || *e.FollowRedirects }
