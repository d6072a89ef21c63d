package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestAlertingDefaults(t *testing.T) {
	dir := writeFiles(t, map[string]string{"apiwatch.yml": `
alerting:
  alertmanagers:
    - url: http://127.0.0.1:9093
companies:
  - name: acme
    runbook_url: https://wiki.example.com/acme
    endpoints:
      - name: inherits
        url: https://api.example.com/health
      - name: overrides
        url: https://api.example.com/health
        severity: warning
        runbook_url: https://wiki.example.com/acme/overrides
  - name: globex
    severity: info
    endpoints:
      - name: inherits
        url: https://globex.example/
`})
	cfg := mustLoad(t, filepath.Join(dir, "apiwatch.yml"))
	a := cfg.Alerting
	if a.ResendInterval != Duration(time.Minute) {
		t.Errorf("resend_interval = %s, want 1m", a.ResendInterval)
	}
	if a.ResolvedRetention != Duration(15*time.Minute) {
		t.Errorf("resolved_retention = %s, want 15m", a.ResolvedRetention)
	}
	if a.QueueCapacity != 10000 {
		t.Errorf("queue_capacity = %d, want 10000", a.QueueCapacity)
	}
	if a.MaxBatchSize != 256 {
		t.Errorf("max_batch_size = %d, want 256", a.MaxBatchSize)
	}
	am := a.Alertmanagers[0]
	if am.Timeout != Duration(10*time.Second) {
		t.Errorf("alertmanagers[0].timeout = %s, want 10s", am.Timeout)
	}
	// The HTTP client defaults are those prometheus/common sets when it
	// decodes the block itself.
	if !am.HTTPClientConfig.FollowRedirects {
		t.Errorf("alertmanagers[0].follow_redirects = false, want true")
	}
	if !am.HTTPClientConfig.EnableHTTP2 {
		t.Errorf("alertmanagers[0].enable_http2 = false, want true")
	}
	for _, tc := range []struct {
		company, endpoint, severity, runbook string
	}{
		{"acme", "inherits", "critical", "https://wiki.example.com/acme"},
		{"acme", "overrides", "warning", "https://wiki.example.com/acme/overrides"},
		{"globex", "inherits", "info", ""},
	} {
		e := endpoint(t, cfg, tc.company, tc.endpoint)
		if e.Severity != tc.severity || e.RunbookURL != tc.runbook {
			t.Errorf("%s/%s: severity %q, runbook_url %q, want %q and %q",
				tc.company, tc.endpoint, e.Severity, e.RunbookURL, tc.severity, tc.runbook)
		}
	}
}

func TestAlertingHTTPClientSettings(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"apiwatch.yml": `
alerting:
  alertmanagers:
    - url: https://am.example.com/prefix
      timeout: 3s
      follow_redirects: false
      enable_http2: false
      basic_auth:
        username: apiwatch
        password_file: secrets/am.pw
      tls_config:
        insecure_skip_verify: true
companies:
  - name: acme
    endpoints:
      - name: api
        url: https://api.example.com/health
`,
		"secrets/am.pw": "S3cr3t-PW\n",
	})
	cfg := mustLoad(t, filepath.Join(dir, "apiwatch.yml"))
	am := cfg.Alerting.Alertmanagers[0]
	hc := am.HTTPClientConfig
	if am.Timeout != Duration(3*time.Second) || hc.FollowRedirects || hc.EnableHTTP2 || !hc.TLSConfig.InsecureSkipVerify {
		t.Errorf("settings = timeout %s, follow_redirects %v, enable_http2 %v, insecure_skip_verify %v; want 3s, false, false, true",
			am.Timeout, hc.FollowRedirects, hc.EnableHTTP2, hc.TLSConfig.InsecureSkipVerify)
	}
	// prometheus/common reads password_file when it sends, relative to
	// the directory of the main file.
	if want := filepath.Join(dir, "secrets", "am.pw"); hc.BasicAuth.PasswordFile != want {
		t.Errorf("password_file = %q, want %q", hc.BasicAuth.PasswordFile, want)
	}
}

// TestContactSecretFiles checks that *_file secrets are read relative to
// the file that names them: an included file's directory, not the main
// file's.
func TestContactSecretFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"apiwatch.yml": "config_files: [teams/*.yml]\n",
		"teams/acme.yml": `
companies:
  - name: acme
    contacts:
      webhook:
        - url_file: secrets/hook.url
      slack:
        - channel: "#acme"
          api_url_file: secrets/slack.url
    endpoints:
      - name: api
        url: https://api.example.com/health
`,
		"teams/secrets/hook.url":  "https://hooks.example.com/acme?token=S3cr3t-hook\n",
		"teams/secrets/slack.url": "https://hooks.slack.com/services/S3cr3t-slack\r\n",
		// Decoys where a resolver relative to the main file would look.
		"secrets/hook.url":  "https://wrong.example.com/\n",
		"secrets/slack.url": "https://wrong.example.com/\n",
	})
	cfg := mustLoad(t, filepath.Join(dir, "apiwatch.yml"))
	c := cfg.Companies[0].Contacts
	if got, want := c.Webhook[0].URL.Value(), "https://hooks.example.com/acme?token=S3cr3t-hook"; got != want {
		t.Errorf("webhook url = %q, want %q", got, want)
	}
	if got, want := c.Slack[0].APIURL.Value(), "https://hooks.slack.com/services/S3cr3t-slack"; got != want {
		t.Errorf("slack api_url = %q, want %q", got, want)
	}
}

func TestContactSecretFileErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"apiwatch.yml": `
companies:
  - name: acme
    contacts:
      webhook:
        - url_file: secrets/missing.url
        - url_file: secrets/empty.url
        - url_file: secrets/not-a-url
    endpoints:
      - name: api
        url: https://api.example.com/health
`,
		"secrets/empty.url": "\n",
		"secrets/not-a-url": "hooks.example.com/S3cr3t-hook\n",
	})
	file := filepath.Join(dir, "apiwatch.yml")
	_, err := LoadFile(file)
	if err == nil {
		t.Fatal("LoadFile succeeded, want errors")
	}
	want := []string{
		file + `:6:21: company "acme": contacts.webhook[0].url_file: reading the file: open ` +
			filepath.Join(dir, "secrets", "missing.url") + `: no such file or directory`,
		file + `:7:21: company "acme": contacts.webhook[1].url_file: file secrets/empty.url is empty`,
		file + `:8:21: company "acme": contacts.webhook[2].url_file: invalid webhook URL: ` + urlExample,
	}
	checkLines(t, "problems", strings.Split(err.Error(), "\n"), want)
	if strings.Contains(err.Error(), "S3cr3t") {
		t.Errorf("an error shows the secret:\n%v", err)
	}
}

// TestAlertingSecretsDoNotPrint prints a configuration with every alerting
// secret through fmt, slog, encoding/json and yaml.v3.
func TestAlertingSecretsDoNotPrint(t *testing.T) {
	secrets := []string{"S3cr3t-PW", "S3cr3t-T0ken", "S3cr3t-hook", "S3cr3t-slack", "S3cr3t-AWS", "S3cr3t-pd"}
	dir := writeFiles(t, map[string]string{"apiwatch.yml": `
alerting:
  alertmanagers:
    - url: http://apiwatch:S3cr3t-PW@127.0.0.1:9093
      basic_auth:
        username: apiwatch
        password: S3cr3t-PW
    - url: http://127.0.0.1:9094
      authorization:
        credentials: S3cr3t-T0ken
  routing:
    sms:
      sigv4:
        region: eu-west-1
        access_key: AKIAEXAMPLE
        secret_key: S3cr3t-AWS
companies:
  - name: acme
    contacts:
      pagerduty:
        - routing_key: S3cr3t-pd
      webhook:
        - url: https://hooks.example.com/S3cr3t-hook
      slack:
        - channel: "#acme"
          api_url: https://hooks.slack.com/services/S3cr3t-slack
      sms: ["+15551234567"]
    endpoints:
      - name: api
        url: https://api.example.com/health
`})
	cfg := mustLoad(t, filepath.Join(dir, "apiwatch.yml"))
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "alerting", cfg.Alerting, "companies", cfg.Companies)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "alerting", cfg.Alerting, "companies", cfg.Companies)
	jsonOut, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	yamlOut, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"fmt %v":  fmt.Sprintf("%v %v", cfg.Alerting, cfg.Companies[0].Contacts),
		"fmt %+v": fmt.Sprintf("%+v %+v", cfg.Alerting, cfg.Companies[0].Contacts),
		"fmt %#v": fmt.Sprintf("%#v %#v", cfg.Alerting, cfg.Companies[0].Contacts),
		"fmt %s":  fmt.Sprintf("%s %s", cfg.Alerting.Routing.SMS, cfg.Companies[0].Contacts.Webhook),
		"slog":    logs.String(),
		"json":    string(jsonOut),
		"yaml":    string(yamlOut),
		"am %+v":  fmt.Sprintf("%+v %+v", *cfg.Alerting.Alertmanagers[0], *cfg.Alerting.Alertmanagers[1]),
		//lint:ignore S1025 the test checks what fmt's %s prints, not String.
		"am url %s": fmt.Sprintf("%s", cfg.Alerting.Alertmanagers[0].URL),
	}
	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s shows %s:\n%s", name, s, out)
			}
		}
	}
	// The secrets are still there for the code that needs them.
	if cfg.Companies[0].Contacts.Slack[0].APIURL.Value() != "https://hooks.slack.com/services/S3cr3t-slack" {
		t.Errorf("slack api_url lost its value")
	}
}
