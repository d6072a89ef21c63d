package config

import (
	"fmt"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Alerting defaults.
const (
	DefaultResendInterval      = Duration(time.Minute)
	DefaultResolvedRetention   = Duration(15 * time.Minute)
	DefaultQueueCapacity       = 10000
	DefaultMaxBatchSize        = 256
	DefaultAlertmanagerTimeout = Duration(10 * time.Second)
	DefaultSeverity            = "critical"
)

// Alerting configures how alerts reach Alertmanager, and the Alertmanager
// routing that `apiwatch alertmanager-config` renders.
type Alerting struct {
	// Alertmanagers each receive every alert, through a queue of their own.
	Alertmanagers []*AlertmanagerConfig `yaml:"alertmanagers,omitempty"`
	// ResendInterval is how often a firing alert is sent again.
	ResendInterval Duration `yaml:"resend_interval,omitempty"`
	// ResolvedRetention is how long a resolved alert keeps being sent, so
	// that an Alertmanager that missed the first resolve still gets one.
	ResolvedRetention Duration `yaml:"resolved_retention,omitempty"`
	// QueueCapacity bounds the alerts waiting for one Alertmanager.
	QueueCapacity int `yaml:"queue_capacity,omitempty"`
	// MaxBatchSize bounds the alerts in one request.
	MaxBatchSize int     `yaml:"max_batch_size,omitempty"`
	Routing      Routing `yaml:"routing,omitempty"`
}

// AlertmanagerConfig is one Alertmanager and how to reach it.
type AlertmanagerConfig struct {
	// URL is the Alertmanager's base URL; alerts go to <URL>/api/v2/alerts.
	URL     URL      `yaml:"url"`
	Timeout Duration `yaml:"timeout,omitempty"`
	// HTTPClientConfig holds basic_auth, authorization, bearer_token,
	// tls_config, proxy_url and the other Prometheus HTTP client settings.
	// NOTE: prometheus/common's Secret hides itself only in YAML and JSON.
	// fmt prints a password in clear once it reaches the struct that holds
	// it (such as *BasicAuth), so never format these settings for a log.
	HTTPClientConfig commoncfg.HTTPClientConfig `yaml:",inline"`
}

// setDecodeDefaults starts the HTTP client settings from Prometheus's
// defaults (follow redirects, HTTP/2 on) before the YAML is decoded over
// them, as prometheus/common does when it decodes the block itself.
func (a *AlertmanagerConfig) setDecodeDefaults() {
	a.HTTPClientConfig = commoncfg.DefaultHTTPClientConfig
}

// Routing shapes the Alertmanager configuration that apiwatch renders from
// the companies' contacts.
type Routing struct {
	// TemplateFile is an Alertmanager configuration that the rendered one
	// starts from: global settings (SMTP smarthost, PagerDuty URL),
	// templates, inhibit rules, the root route's settings and extra
	// receivers. Relative to the main configuration file.
	TemplateFile   string   `yaml:"template_file,omitempty"`
	GroupBy        []string `yaml:"group_by,omitempty"`
	GroupWait      Duration `yaml:"group_wait,omitempty"`
	GroupInterval  Duration `yaml:"group_interval,omitempty"`
	RepeatInterval Duration `yaml:"repeat_interval,omitempty"`
	// SMS configures Alertmanager's Amazon SNS receiver, which sends the
	// text messages of sms contacts.
	SMS SMSSettings `yaml:"sms,omitempty"`
}

// SMSSettings are the Amazon SNS settings used for every sms contact.
type SMSSettings struct {
	APIURL string `yaml:"api_url,omitempty"`
	SigV4  SigV4  `yaml:"sigv4,omitempty"`
}

// SigV4 are AWS credentials for SNS. Empty fields fall back to the AWS
// environment of the Alertmanager process.
type SigV4 struct {
	Region    string `yaml:"region,omitempty"`
	AccessKey string `yaml:"access_key,omitempty"`
	SecretKey Secret `yaml:"secret_key,omitempty"`
	Profile   string `yaml:"profile,omitempty"`
	RoleARN   string `yaml:"role_arn,omitempty"`
}

// WebhookContact is a generic webhook receiver. Its URL is a secret, since
// webhook URLs usually embed a token.
type WebhookContact struct {
	URL     Secret `yaml:"url,omitempty"`
	URLFile string `yaml:"url_file,omitempty"`
}

// SlackContact posts to a Slack channel through an incoming webhook.
type SlackContact struct {
	Channel string `yaml:"channel"`
	// APIURL is the incoming webhook URL; if unset, the template's
	// global.slack_api_url is used.
	APIURL     Secret `yaml:"api_url,omitempty"`
	APIURLFile string `yaml:"api_url_file,omitempty"`
}

// Maintenance is a window during which an endpoint is probed but no new
// alert fires for it: a fixed range from Start to End, or a recurring one
// that starts at the times of the cron Schedule, in TimeZone, and lasts
// Duration.
type Maintenance struct {
	Start    Timestamp `yaml:"start,omitempty"`
	End      Timestamp `yaml:"end,omitempty"`
	Schedule string    `yaml:"schedule,omitempty"`
	Duration Duration  `yaml:"duration,omitempty"`
	TimeZone string    `yaml:"time_zone,omitempty"`
	Comment  string    `yaml:"comment,omitempty"`

	cron *cronSchedule
}

// Cron returns the parsed schedule of a recurring window, or nil.
func (m *Maintenance) Cron() cron.Schedule {
	if m.cron == nil {
		return nil
	}
	return m.cron.sched
}

// Timestamp is a point in time written in RFC 3339, such as
// 2026-12-05T02:00:00Z or 2026-12-05T03:00:00+01:00.
type Timestamp struct {
	time.Time
}

func (t *Timestamp) decodeNode(n *yaml.Node) []nodeError {
	if n.Kind != yaml.ScalarNode {
		return errorAt(n, "expected a time such as 2026-12-05T02:00:00Z")
	}
	v, err := time.Parse(time.RFC3339, n.Value)
	if err != nil {
		return errorAt(n, fmt.Sprintf("invalid time %q: use RFC 3339 with a zone, such as 2026-12-05T02:00:00Z", n.Value))
	}
	t.Time = v
	return nil
}

// UnmarshalYAML parses an RFC 3339 time.
func (t *Timestamp) UnmarshalYAML(n *yaml.Node) error { return typeError(t.decodeNode(n)) }

// MarshalYAML writes the time in RFC 3339.
func (t Timestamp) MarshalYAML() (any, error) { return t.Format(time.RFC3339), nil }

// setDefaults fills the alerting defaults.
func (a *Alerting) setDefaults() {
	a.ResendInterval = firstNonZero(a.ResendInterval, DefaultResendInterval)
	a.ResolvedRetention = firstNonZero(a.ResolvedRetention, DefaultResolvedRetention)
	a.QueueCapacity = firstNonZero(a.QueueCapacity, DefaultQueueCapacity)
	a.MaxBatchSize = firstNonZero(a.MaxBatchSize, DefaultMaxBatchSize)
	for _, am := range a.Alertmanagers {
		am.Timeout = firstNonZero(am.Timeout, DefaultAlertmanagerTimeout)
	}
}
