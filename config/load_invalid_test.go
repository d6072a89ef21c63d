package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// invalidConfigs pairs each file in testdata/invalid with the exact problems
// LoadFile reports for it, in order.
var invalidConfigs = []struct {
	name string
	want []string
}{
	{"alerting-alertmanager-url", []string{
		"testdata/invalid/alerting-alertmanager-url.yml:3:12: alerting.alertmanagers[0].url: unsupported scheme \"ftp\": use http or https",
		"testdata/invalid/alerting-alertmanager-url.yml:4:12: alerting.alertmanagers[1].url: missing host: give the Alertmanager's base URL, such as http://127.0.0.1:9093",
		"testdata/invalid/alerting-alertmanager-url.yml:5:12: alerting.alertmanagers[2].url: invalid URL: missing ']' in host (the URL is not shown because it may contain credentials)",
		"testdata/invalid/alerting-alertmanager-url.yml:6:7: alerting.alertmanagers[3].url: missing url: give the Alertmanager's base URL, such as http://127.0.0.1:9093",
		"testdata/invalid/alerting-alertmanager-url.yml:7:12: alerting.alertmanagers[4].url: missing scheme: give the Alertmanager's base URL, such as http://127.0.0.1:9093",
		"testdata/invalid/alerting-alertmanager-url.yml:8:6: alerting.alertmanagers[5]: empty alertmanager entry",
		"testdata/invalid/alerting-alertmanager-url.yml:9:12: alerting.alertmanagers[6].url: invalid port: use a number from 1 to 65535",
	}},
	{"alerting-basic-auth-unknown-key", []string{
		"testdata/invalid/alerting-basic-auth-unknown-key.yml:6:9: alerting.alertmanagers[0].basic_auth: unknown field \"pasword\", did you mean \"password\"?",
	}},
	{"alerting-duplicate-alertmanager", []string{
		"testdata/invalid/alerting-duplicate-alertmanager.yml:5:12: alerting.alertmanagers[2].url: same Alertmanager as alertmanagers[0]",
		"testdata/invalid/alerting-duplicate-alertmanager.yml:6:12: alerting.alertmanagers[3].url: same Alertmanager as alertmanagers[1]",
	}},
	{"alerting-http-client", []string{
		"testdata/invalid/alerting-http-client.yml:3:7: alerting.alertmanagers[0]: invalid HTTP client settings: at most one of basic_auth, oauth2 & authorization must be configured",
		"testdata/invalid/alerting-http-client.yml:11:9: alerting.alertmanagers[1].tls_config: unknown field \"insecure_skip_verfy\", did you mean \"insecure_skip_verify\"?",
		"testdata/invalid/alerting-http-client.yml:13:25: alerting.alertmanagers[2].follow_redirects: invalid value \"maybe\": expected true or false",
	}},
	{"alerting-numbers", []string{
		"testdata/invalid/alerting-numbers.yml:4:16: alerting.alertmanagers[0].timeout: must be longer than 0s",
		"testdata/invalid/alerting-numbers.yml:5:20: alerting.resend_interval: 500ms is shorter than the minimum 1s",
		"testdata/invalid/alerting-numbers.yml:6:23: alerting.resolved_retention: must be longer than 0s",
		"testdata/invalid/alerting-numbers.yml:7:19: alerting.queue_capacity: must be at least 1, got 0",
		"testdata/invalid/alerting-numbers.yml:8:19: alerting.max_batch_size: must be at least 1, got -1",
	}},
	{"alerting-wrong-types", []string{
		"testdata/invalid/alerting-wrong-types.yml:2:3: alerting.alertmanagers: expected a list, got a mapping",
		"testdata/invalid/alerting-wrong-types.yml:4:20: alerting.resend_interval: invalid duration \"soon\": use a number with a unit (ms, s, m, h, d, w, y), for example 30s or 1h30m",
		"testdata/invalid/alerting-wrong-types.yml:5:19: alerting.queue_capacity: invalid value \"many\": expected a whole number",
		"testdata/invalid/alerting-wrong-types.yml:7:15: alerting.routing.group_by: invalid value \"alertname\": expected a list",
	}},
	{"alias-bad-value", []string{
		"testdata/invalid/alias-bad-value.yml:6:19: company \"acme\": endpoint \"api\": interval: invalid duration \"fast\": use a number with a unit (ms, s, m, h, d, w, y), for example 30s or 1h30m",
		"testdata/invalid/alias-bad-value.yml:9:18: company \"acme\": endpoint \"web\": timeout: invalid duration \"fast\": use a number with a unit (ms, s, m, h, d, w, y), for example 30s or 1h30m",
	}},
	{"bad-cron", []string{
		"testdata/invalid/bad-cron.yml:6:19: company \"acme\": endpoint \"minute-out-of-range\": schedule: invalid cron expression: end of range (61) above maximum (59): 61",
		"testdata/invalid/bad-cron.yml:9:19: company \"acme\": endpoint \"four-fields\": schedule: invalid cron expression: expected exactly 5 fields, found 4: [* * * *]",
		"testdata/invalid/bad-cron.yml:12:19: company \"acme\": endpoint \"prefix-only\": schedule: invalid cron expression \"CRON_TZ=UTC\": CRON_TZ= must be followed by a space and an expression",
		"testdata/invalid/bad-cron.yml:15:19: company \"acme\": endpoint \"never\": schedule: the schedule never runs",
		"testdata/invalid/bad-cron.yml:18:19: company \"acme\": endpoint \"empty\": schedule: empty: give a cron expression such as \"*/5 * * * *\"",
	}},
	{"bad-indentation", []string{
		"testdata/invalid/bad-indentation.yml:3: invalid YAML: did not find expected '-' indicator in the block that starts on this line: check the indentation of its lines",
	}},
	{"bad-merge", []string{
		"testdata/invalid/bad-merge.yml:4:13: company \"acme\": endpoint \"api\": invalid merge: the value of << must be a mapping or a list of mappings",
	}},
	{"contacts-sms", []string{
		"testdata/invalid/contacts-sms.yml:6:11: company \"acme\": contacts.sms[1]: invalid phone number \"15551234567\": use E.164 form, such as +15551234567",
		"testdata/invalid/contacts-sms.yml:7:11: company \"acme\": contacts.sms[2]: invalid phone number \"+0123456789\": use E.164 form, such as +15551234567",
		"testdata/invalid/contacts-sms.yml:8:11: company \"acme\": contacts.sms[3]: invalid phone number \"+1 555 123 4567\": use E.164 form, such as +15551234567",
		"testdata/invalid/contacts-sms.yml:9:11: company \"acme\": contacts.sms[4]: invalid phone number \"+1234567\": use E.164 form, such as +15551234567",
		"testdata/invalid/contacts-sms.yml:10:11: company \"acme\": contacts.sms[5]: invalid phone number \"+1234567890123456\": use E.164 form, such as +15551234567",
	}},
	{"contacts-webhook-slack", []string{
		"testdata/invalid/contacts-webhook-slack.yml:5:11: company \"acme\": contacts.webhook[0]: set exactly one of url and url_file",
		"testdata/invalid/contacts-webhook-slack.yml:7:11: company \"acme\": contacts.webhook[1]: set exactly one of url and url_file",
		"testdata/invalid/contacts-webhook-slack.yml:8:16: company \"acme\": contacts.webhook[2].url: invalid webhook URL: use an absolute URL such as https://api.example.com/health",
		"testdata/invalid/contacts-webhook-slack.yml:10:11: company \"acme\": contacts.slack[0]: set exactly one of api_url and api_url_file",
		"testdata/invalid/contacts-webhook-slack.yml:13:11: company \"acme\": contacts.slack[1].channel: missing channel, such as \"#oncall\"",
		"testdata/invalid/contacts-webhook-slack.yml:15:20: company \"acme\": contacts.slack[2].api_url: invalid Slack webhook URL: use https://hooks.slack.com/services/...",
		"testdata/invalid/contacts-webhook-slack.yml:17:20: company \"acme\": contacts.slack[3].api_url: invalid port: use a number from 1 to 65535",
	}},
	{"duplicate-company-include", []string{
		"testdata/invalid/duplicate-company-include.d/acme.yml:6:11: company \"acme\": name: duplicate company name, first defined at testdata/invalid/duplicate-company-include.yml:3:11",
	}},
	{"duplicate-company", []string{
		"testdata/invalid/duplicate-company.yml:6:11: company \"acme\": name: duplicate company name, first defined at testdata/invalid/duplicate-company.yml:2:11",
	}},
	{"duplicate-endpoint", []string{
		"testdata/invalid/duplicate-endpoint.yml:8:15: company \"acme\": endpoint \"api\": name: duplicate endpoint name in this company, first defined at testdata/invalid/duplicate-endpoint.yml:4:15",
	}},
	{"duplicate-key", []string{
		"testdata/invalid/duplicate-key.yml:7:9: company \"acme\": endpoint \"api\": duplicate key \"interval\", first set at line 6",
	}},
	{"email", []string{
		"testdata/invalid/email.yml:6:11: company \"acme\": contacts.email[1]: invalid email address \"not an address\"",
		"testdata/invalid/email.yml:7:11: company \"acme\": contacts.email[2]: invalid email address \"@example.com\"",
	}},
	{"empty-company", []string{
		"testdata/invalid/empty-company.yml:2:5: company \"acme\": endpoints: company has no endpoints: add at least one",
		"testdata/invalid/empty-company.yml:4:5: company \"globex\": endpoints: company has no endpoints: add at least one",
		"testdata/invalid/empty-company.yml:5:4: companies[2]: empty company entry",
	}},
	{"fragment-extra-key", []string{
		"testdata/invalid/fragment-extra-key.d/globex.yml:1:1: unknown field \"global\": an included file may contain only companies",
	}},
	{"include-unreadable", []string{
		"testdata/invalid/include-unreadable.yml:2:5: config_files[0]: testdata/invalid/include-unreadable.d is not a regular file",
		"testdata/invalid/include-unreadable.yml:3:5: config_files[1]: no file testdata/invalid/include-unreadable-missing.yml: a pattern without wildcards must name an existing file",
		"testdata/invalid/include-unreadable.yml:4:5: config_files[2]: invalid pattern \"[.yml\": syntax error in pattern",
	}},
	{"interval-and-schedule", []string{
		"testdata/invalid/interval-and-schedule.yml:7:19: company \"acme\": endpoint \"api\": schedule: set either interval or schedule, not both",
	}},
	{"interval-fast", []string{
		"testdata/invalid/interval-fast.yml:6:19: company \"acme\": endpoint \"api\": interval: invalid duration \"fast\": use a number with a unit (ms, s, m, h, d, w, y), for example 30s or 1h30m",
	}},
	{"alerting-resend-too-long", []string{
		"testdata/invalid/alerting-resend-too-long.yml:2:20: alerting.resend_interval: 292y is longer than the maximum 1w",
	}},
	{"json", []string{
		"testdata/invalid/json.yml:8:15: company \"acme\": endpoint \"api\": expect.json[0]: invalid JSON assertion: missing value after ==: use a JSON literal such as \"ok\", 42, true or null",
		"testdata/invalid/json.yml:9:15: company \"acme\": endpoint \"api\": expect.json[1]: invalid JSON assertion: invalid value ok after ==: use a JSON literal such as \"ok\", 42, true or null",
		"testdata/invalid/json.yml:10:15: company \"acme\": endpoint \"api\": expect.json[2]: invalid JSON assertion: < compares numbers, not \"deep\"",
	}},
	{"ports", []string{
		"testdata/invalid/ports.yml:4:16: alerting.routing.sms.api_url: invalid port: use a number from 1 to 65535",
		"testdata/invalid/ports.yml:7:18: company \"acme\": runbook_url: invalid port: use a number from 1 to 65535",
		"testdata/invalid/ports.yml:10:16: company \"acme\": contacts.webhook[0].url: invalid port: use a number from 1 to 65535",
		"testdata/invalid/ports.yml:14:20: company \"acme\": endpoint \"api\": proxy_url: invalid port: use a number from 1 to 65535",
	}},
	{"tcp", []string{
		"testdata/invalid/tcp.yml:8:19: company \"acme\": endpoint \"cache\": tcp.expect: invalid regular expression \"+PONG\": error parsing regexp: missing argument to repetition operator: `+`",
		"testdata/invalid/tcp.yml:12:19: company \"acme\": endpoint \"empty\": tcp.expect: empty: it would match any answer; remove it to check only the connection",
		"testdata/invalid/tcp.yml:15:9: company \"acme\": endpoint \"plain\": tls_config: applies only with TLS: use grpcs://, or set tcp.tls: true",
	}},
	{"interval-no-unit", []string{
		"testdata/invalid/interval-no-unit.yml:2:12: global.timeout: invalid duration \"5\": add a unit, for example 5s",
		"testdata/invalid/interval-no-unit.yml:8:19: company \"acme\": endpoint \"api\": interval: invalid duration \"30\": add a unit, for example 30s",
		"testdata/invalid/interval-no-unit.yml:9:18: company \"acme\": endpoint \"api\": timeout: invalid duration \"5\": add a unit, for example 5s",
		"testdata/invalid/interval-no-unit.yml:12:19: company \"acme\": endpoint \"long\": interval: invalid duration \"9999y\": too long, the longest is about 292y",
	}},
	{"interval-too-short", []string{
		"testdata/invalid/interval-too-short.yml:2:13: global.interval: 0s is shorter than the minimum 1s",
		"testdata/invalid/interval-too-short.yml:8:19: company \"acme\": endpoint \"zero\": interval: 0s is shorter than the minimum 1s",
		"testdata/invalid/interval-too-short.yml:11:19: company \"acme\": endpoint \"bare-zero\": interval: 0s is shorter than the minimum 1s",
		"testdata/invalid/interval-too-short.yml:14:19: company \"acme\": endpoint \"half-second\": interval: 500ms is shorter than the minimum 1s",
		"testdata/invalid/interval-too-short.yml:17:18: company \"acme\": endpoint \"zero-timeout\": timeout: must be longer than 0s",
	}},
	{"labels", []string{
		"testdata/invalid/labels.yml:4:7: company \"acme\": labels.team-name: invalid label name \"team-name\": use letters, digits and '_', not starting with a digit",
		"testdata/invalid/labels.yml:5:7: company \"acme\": labels.company: label name \"company\" is reserved: apiwatch sets company, endpoint, alertname and severity, and names starting with __ are internal to Prometheus",
		"testdata/invalid/labels.yml:6:7: company \"acme\": labels.1tier: invalid label name \"1tier\": use letters, digits and '_', not starting with a digit",
		"testdata/invalid/labels.yml:11:11: company \"acme\": endpoint \"api\": labels.__name__: label name \"__name__\" is reserved: apiwatch sets company, endpoint, alertname and severity, and names starting with __ are internal to Prometheus",
		"testdata/invalid/labels.yml:12:11: company \"acme\": endpoint \"api\": labels.severity: label name \"severity\" is reserved: apiwatch sets company, endpoint, alertname and severity, and names starting with __ are internal to Prometheus",
	}},
	{"maintenance", []string{
		"testdata/invalid/maintenance.yml:4:9: company \"acme\": maintenance[0]: set either start and end, or schedule and duration, not both",
		"testdata/invalid/maintenance.yml:9:14: company \"acme\": maintenance[1].end: end 2026-12-05T02:00:00Z is not after start 2026-12-05T04:00:00Z",
		"testdata/invalid/maintenance.yml:11:14: company \"acme\": maintenance[2].end: end 2026-12-05T03:00:00Z is not after start 2026-12-05T04:00:00+01:00",
		"testdata/invalid/maintenance.yml:12:9: company \"acme\": maintenance[3].duration: missing duration: how long each window lasts, such as 2h",
		"testdata/invalid/maintenance.yml:13:19: company \"acme\": maintenance[4].schedule: invalid cron expression: end of range (25) above maximum (23): 25",
		"testdata/invalid/maintenance.yml:17:20: company \"acme\": maintenance[5].time_zone: applies only to a recurring window: give start and end with their zone offset instead",
		"testdata/invalid/maintenance.yml:18:9: company \"acme\": maintenance[6].end: missing end",
		"testdata/invalid/maintenance.yml:19:9: company \"acme\": maintenance[7].start: missing start",
		"testdata/invalid/maintenance.yml:20:9: company \"acme\": maintenance[8].schedule: missing schedule: a cron expression for the start of each window",
		"testdata/invalid/maintenance.yml:21:9: company \"acme\": maintenance[9]: empty window: set start and end, or schedule and duration",
		"testdata/invalid/maintenance.yml:22:8: company \"acme\": maintenance[10]: empty maintenance entry",
		"testdata/invalid/maintenance.yml:25:20: company \"acme\": maintenance[11].time_zone: unknown time zone \"Mars/Olympus\": use an IANA name such as Europe/Berlin",
		"testdata/invalid/maintenance.yml:30:13: company \"acme\": endpoint \"api\": maintenance[0]: empty window: set start and end, or schedule and duration",
		"testdata/invalid/maintenance.yml:33:16: company \"globex\": maintenance[0].start: invalid time \"2026-12-05 02:00\": use RFC 3339 with a zone, such as 2026-12-05T02:00:00Z",
		"testdata/invalid/maintenance.yml:40:23: company \"globex\": endpoint \"api\": maintenance[0].duration: invalid duration \"2 hours\": use a number with a unit (ms, s, m, h, d, w, y), for example 30s or 1h30m",
		"testdata/invalid/maintenance.yml:44:19: company \"initech\": maintenance[0].duration: invalid duration \"-1h\": must not be negative",
	}},
	{"many-problems", []string{
		"testdata/invalid/many-problems.yml:8:9: company \"acme\": endpoint \"api\": unknown field \"intervl\", did you mean \"interval\"?",
		"testdata/invalid/many-problems.yml:10:14: company \"acme\": endpoint \"web\": url: unsupported scheme \"ftp\": use http or https, tcp://host:port, or grpc:// or grpcs:// for a gRPC health check",
		"testdata/invalid/many-problems.yml:11:18: company \"acme\": endpoint \"web\": timeout: 2m is longer than global.interval 1m",
		"testdata/invalid/many-problems.yml:14:26: company \"acme\": endpoint \"old\": expect.status: status 301 cannot match while redirects are followed, because the response after the last redirect is judged: set follow_redirects: false to check the redirect itself",
		"testdata/invalid/many-problems.yml:18:15: company \"globex\": contacts.email[0]: invalid email address \"nobody\"",
		"testdata/invalid/many-problems.yml:22:19: company \"globex\": endpoint \"api\": interval: invalid duration \"5\": add a unit, for example 5s",
	}},
	{"multi-document", []string{
		"testdata/invalid/multi-document.yml:6:1: a second YAML document starts here: put the whole configuration in one document",
	}},
	{"names", []string{
		"testdata/invalid/names.yml:2:5: name: missing company name",
		"testdata/invalid/names.yml:4:9: name: missing endpoint name",
		"testdata/invalid/names.yml:5:11: company \"Acme Corp\": name: invalid company name \"Acme Corp\": use 1 to 128 ASCII letters, digits, '.', '_' and '-', starting with a letter or digit",
		"testdata/invalid/names.yml:7:15: company \"Acme Corp\": endpoint \"-api\": name: invalid endpoint name \"-api\": use 1 to 128 ASCII letters, digits, '.', '_' and '-', starting with a letter or digit",
		"testdata/invalid/names.yml:9:9: company \"Acme Corp\": name: expected a string, got a list",
		"testdata/invalid/names.yml:11:11: name: missing company name",
		"testdata/invalid/names.yml:13:15: name: missing endpoint name",
		"testdata/invalid/names.yml:15:15: name: missing endpoint name",
		"testdata/invalid/names.yml:17:8: endpoints[2]: empty endpoint entry",
	}},
	{"negative-numbers", []string{
		"testdata/invalid/negative-numbers.yml:2:22: global.success_threshold: must be at least 1, got 0",
		"testdata/invalid/negative-numbers.yml:8:28: company \"acme\": endpoint \"api\": failure_threshold: must be at least 1, got -1",
		"testdata/invalid/negative-numbers.yml:9:28: company \"acme\": endpoint \"api\": success_threshold: must be at least 1, got 0",
		"testdata/invalid/negative-numbers.yml:10:24: company \"acme\": endpoint \"api\": max_redirects: must be at least 1, got 0. To stop following redirects, set follow_redirects: false",
		"testdata/invalid/negative-numbers.yml:11:26: company \"acme\": endpoint \"api\": body_size_limit: invalid size \"0\": must be at least 1 byte and less than 8EiB",
		"testdata/invalid/negative-numbers.yml:15:30: company \"acme\": endpoint \"certs\": expect.tls_cert_min_days: must be at most 36500 (100 years), got 106752",
		"testdata/invalid/negative-numbers.yml:19:22: company \"acme\": endpoint \"retry\": retry_delay: must be positive, got 0s",
	}},
	{"not-a-mapping", []string{
		"testdata/invalid/not-a-mapping.yml:1:1: expected a mapping, got a list",
	}},
	{"pagerduty", []string{
		"testdata/invalid/pagerduty.yml:5:11: company \"acme\": contacts.pagerduty[0]: set exactly one of routing_key and routing_key_file",
		"testdata/invalid/pagerduty.yml:7:11: company \"acme\": contacts.pagerduty[1]: set exactly one of routing_key and routing_key_file",
		"testdata/invalid/pagerduty.yml:8:10: company \"acme\": contacts.pagerduty[2]: set exactly one of routing_key and routing_key_file",
	}},
	{"redirect-status", []string{
		"testdata/invalid/redirect-status.yml:9:19: company \"acme\": endpoint \"moved\": expect.status: status 301 cannot match while redirects are followed, because the response after the last redirect is judged: set follow_redirects: false to check the redirect itself",
		"testdata/invalid/redirect-status.yml:13:11: company \"acme\": endpoint \"any-redirect\": expect.status: status 3xx cannot match while redirects are followed, because the response after the last redirect is judged: set follow_redirects: false to check the redirect itself",
		"testdata/invalid/redirect-status.yml:18:19: company \"acme\": endpoint \"explicit-follow\": expect.status: status 308 cannot match while redirects are followed, because the response after the last redirect is judged: set follow_redirects: false to check the redirect itself",
	}},
	{"routing-key-file-missing", []string{
		"testdata/invalid/routing-key-file-missing.yml:5:29: company \"acme\": contacts.pagerduty[0].routing_key_file: reading the file: open testdata/invalid/secrets/does-not-exist.key: no such file or directory",
	}},
	{"routing-template-missing", []string{
		"testdata/invalid/routing-template-missing.yml:3:20: alerting.routing.template_file: reading the file: open testdata/invalid/no-such-template.yml: no such file or directory",
		"testdata/invalid/routing-template-missing.yml:4:27: alerting.routing.group_by[1]: invalid label name \"bad-label\"",
		"testdata/invalid/routing-template-missing.yml:5:17: alerting.routing.group_wait: must be longer than 0s",
		"testdata/invalid/routing-template-missing.yml:6:21: alerting.routing.group_interval: invalid duration \"soon\": use a number with a unit (ms, s, m, h, d, w, y), for example 30s or 1h30m",
		"testdata/invalid/routing-template-missing.yml:8:16: alerting.routing.sms.api_url: invalid URL: use an absolute URL such as https://api.example.com/health",
		"testdata/invalid/routing-template-missing.yml:9:7: alerting.routing.sms.sigv4: set both access_key and secret_key, or neither to use the AWS environment of the Alertmanager process",
	}},
	{"severity", []string{
		"testdata/invalid/severity.yml:3:15: company \"acme\": severity: empty: give a severity such as critical or warning",
		"testdata/invalid/severity.yml:7:19: company \"acme\": endpoint \"api\": severity: invalid severity \"Very Bad\": use a word of up to 32 letters, digits, '_' and '-', such as critical or warning",
		"testdata/invalid/severity.yml:10:9: company \"acme\": endpoint \"list\": severity: expected a string, got a list",
		"testdata/invalid/severity.yml:13:22: company \"acme\": endpoint \"runbook\": runbook_url: invalid URL: use an absolute URL such as https://api.example.com/health",
	}},
	{"status", []string{
		"testdata/invalid/status.yml:6:26: company \"acme\": endpoint \"six-hundred\": expect.status: invalid status \"600\": use a code from 100 to 599 or a class from 1xx to 5xx",
		"testdata/invalid/status.yml:9:26: company \"acme\": endpoint \"six-class\": expect.status: invalid status \"6xx\": use a code from 100 to 599 or a class from 1xx to 5xx",
		"testdata/invalid/status.yml:12:32: company \"acme\": endpoint \"word\": expect.status: invalid status \"abc\": use a code from 100 to 599 or a class from 1xx to 5xx",
		"testdata/invalid/status.yml:12:37: company \"acme\": endpoint \"word\": expect.status: invalid status \"99\": use a code from 100 to 599 or a class from 1xx to 5xx",
		"testdata/invalid/status.yml:15:26: company \"acme\": endpoint \"empty-list\": expect.status: empty list: give at least one status code or class, or remove the key to accept 2xx",
		"testdata/invalid/status.yml:19:19: company \"acme\": endpoint \"mapping\": expect.status: expected a status code, a class such as 2xx, or a list of them",
	}},
	{"syntax-colon", []string{
		"testdata/invalid/syntax-colon.yml:6: invalid YAML: mapping values are not allowed in this context",
	}},
	{"syntax-tab", []string{
		"testdata/invalid/syntax-tab.yml:5: invalid YAML: found a tab character that violates indentation",
	}},
	{"time-zone-without-schedule", []string{
		"testdata/invalid/time-zone-without-schedule.yml:7:20: company \"acme\": endpoint \"api\": time_zone: applies only to a cron schedule: set schedule or remove time_zone",
	}},
	{"timeout-longer-than-cron-gap", []string{
		"testdata/invalid/timeout-longer-than-cron-gap.yml:7:18: company \"acme\": endpoint \"every-minute\": timeout: 1m1s is longer than the shortest gap 1m between scheduled runs",
		"testdata/invalid/timeout-longer-than-cron-gap.yml:11:18: company \"acme\": endpoint \"weekdays\": timeout: 13h is longer than the shortest gap 12h between scheduled runs",
	}},
	{"timeout-longer-than-default-interval", []string{
		"testdata/invalid/timeout-longer-than-default-interval.yml:6:18: company \"acme\": endpoint \"api\": timeout: 1m30s is longer than the default interval 1m",
	}},
	{"timeout-longer-than-interval", []string{
		"testdata/invalid/timeout-longer-than-interval.yml:3:12: global.timeout: 30s is longer than global.interval 20s",
		"testdata/invalid/timeout-longer-than-interval.yml:10:18: company \"acme\": endpoint \"own-interval\": timeout: 11s is longer than the interval 10s",
		"testdata/invalid/timeout-longer-than-interval.yml:13:18: company \"acme\": endpoint \"global-interval\": timeout: 21s is longer than global.interval 20s",
	}},
	{"unknown-key-company", []string{
		"testdata/invalid/unknown-key-company.yml:3:5: company \"acme\": unknown field \"lables\", did you mean \"labels\"?",
		"testdata/invalid/unknown-key-company.yml:4:5: company \"acme\": unknown field \"endpoint\", did you mean \"endpoints\"?",
	}},
	{"unknown-key-contacts", []string{
		"testdata/invalid/unknown-key-contacts.yml:4:7: company \"acme\": contacts: unknown field \"emails\", did you mean \"email\"?",
		"testdata/invalid/unknown-key-contacts.yml:6:11: company \"acme\": contacts.pagerduty[0]: unknown field \"routingkey\", did you mean \"routing_key\"?",
	}},
	{"unknown-key-endpoint", []string{
		"testdata/invalid/unknown-key-endpoint.yml:6:9: company \"acme\": endpoint \"api\": unknown field \"expected\", did you mean \"expect\"?",
		"testdata/invalid/unknown-key-endpoint.yml:7:9: company \"acme\": endpoint \"api\": unknown field \"cron\", did you mean \"schedule\"?",
		"testdata/invalid/unknown-key-endpoint.yml:8:9: company \"acme\": endpoint \"api\": unknown field \"foo\"; valid fields are name, url, interval, schedule, time_zone, timeout, failure_threshold, success_threshold, follow_redirects, max_redirects, body_size_limit, labels, expect, severity, runbook_url, maintenance, method, body, body_file, headers, basic_auth, bearer_token, bearer_token_file, tls_config, proxy_url, no_proxy, proxy_from_environment, ip_protocol, preferred_ip_protocol, enable_http2, retries, retry_delay, tcp, grpc",
	}},
	{"unknown-key-expect", []string{
		"testdata/invalid/unknown-key-expect.yml:7:11: company \"acme\": endpoint \"api\": expect: unknown field \"statsu\", did you mean \"status\"?",
		"testdata/invalid/unknown-key-expect.yml:10:9: company \"acme\": endpoint \"web\": unknown field \"expected_staus\", did you mean \"status\" under \"expect\"?",
	}},
	{"unknown-key-global", []string{
		"testdata/invalid/unknown-key-global.yml:2:3: global: unknown field \"intervall\", did you mean \"interval\"?",
		"testdata/invalid/unknown-key-global.yml:3:3: global: unknown field \"timout\", did you mean \"timeout\"?",
	}},
	{"unknown-key-top", []string{
		"testdata/invalid/unknown-key-top.yml:3:1: unknown field \"compnies\", did you mean \"companies\"?",
	}},
	{"unknown-time-zone", []string{
		"testdata/invalid/unknown-time-zone.yml:7:20: company \"acme\": endpoint \"unknown\": time_zone: unknown time zone \"Europe/Atlantis\": use an IANA name such as Europe/Berlin",
		"testdata/invalid/unknown-time-zone.yml:11:20: company \"acme\": endpoint \"twice\": time_zone: conflicts with the CRON_TZ= prefix of schedule: set the zone in one place",
	}},
	{"url", []string{
		"testdata/invalid/url.yml:5:14: company \"acme\": endpoint \"unparsable\": url: invalid URL: invalid port after host (the URL is not shown because it may contain credentials)",
		"testdata/invalid/url.yml:7:14: company \"acme\": endpoint \"ftp\": url: unsupported scheme \"ftp\": use http or https, tcp://host:port, or grpc:// or grpcs:// for a gRPC health check",
		"testdata/invalid/url.yml:9:14: company \"acme\": endpoint \"no-host\": url: missing host: use an absolute URL such as https://api.example.com/health",
		"testdata/invalid/url.yml:11:14: company \"acme\": endpoint \"no-scheme\": url: missing scheme: use an absolute URL such as https://api.example.com/health",
		"testdata/invalid/url.yml:13:14: company \"acme\": endpoint \"opaque\": url: missing host: use an absolute URL such as https://api.example.com/health",
		"testdata/invalid/url.yml:14:9: company \"acme\": endpoint \"missing\": url: missing url: use an absolute URL such as https://api.example.com/health",
		"testdata/invalid/url.yml:16:14: company \"acme\": endpoint \"empty\": url: missing url: use an absolute URL such as https://api.example.com/health",
		"testdata/invalid/url.yml:18:14: company \"acme\": endpoint \"port\": url: invalid port: use a number from 1 to 65535",
		"testdata/invalid/url.yml:20:14: company \"acme\": endpoint \"list\": url: expected a URL",
	}},
	{"wrong-types", []string{
		"testdata/invalid/wrong-types.yml:2:22: global.failure_threshold: invalid value \"abc\": expected a whole number",
		"testdata/invalid/wrong-types.yml:3:18: global.max_redirects: invalid value \"2.5\": expected a whole number",
		"testdata/invalid/wrong-types.yml:6:5: company \"acme\": labels: expected a mapping, got a list",
		"testdata/invalid/wrong-types.yml:10:27: company \"acme\": endpoint \"api\": follow_redirects: invalid value \"maybe\": expected true or false",
		"testdata/invalid/wrong-types.yml:11:26: company \"acme\": endpoint \"api\": body_size_limit: invalid size \"-1\": must be at least 1 byte and less than 8EiB",
		"testdata/invalid/wrong-types.yml:12:17: company \"acme\": endpoint \"api\": expect: invalid value \"200\": expected a mapping",
		"testdata/invalid/wrong-types.yml:14:5: company \"globex\": endpoints: expected a list, got a mapping",
		"testdata/invalid/wrong-types.yml:17:14: company \"initech\": contacts.email: invalid value \"ops@initech.example\": expected a list",
		"testdata/invalid/wrong-types.yml:18:5: company \"initech\": endpoints: expected a list, got a mapping",
	}},
}

func TestLoadFileInvalid(t *testing.T) {
	for _, tc := range invalidConfigs {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := LoadFile(filepath.Join("testdata", "invalid", tc.name+".yml"))
			if cfg != nil {
				t.Errorf("LoadFile returned a config along with the error")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("LoadFile error = %v (%T), want Errors", err, err)
			}
			checkLines(t, "problems", strings.Split(errs.Error(), "\n"), tc.want)
		})
	}
}

// TestInvalidConfigsCovered keeps the table and testdata/invalid in step: a
// file without an entry would never be checked.
func TestInvalidConfigsCovered(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tc := range invalidConfigs {
		listed[tc.name] = true
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yml")
		if !listed[name] {
			t.Errorf("%s has no entry in invalidConfigs", f)
		}
		delete(listed, name)
	}
	for name := range listed {
		t.Errorf("invalidConfigs lists %s, which has no file", name)
	}
}
