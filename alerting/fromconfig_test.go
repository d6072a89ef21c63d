package alerting

import (
	"maps"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/collector"
)

func TestPoliciesFromConfig(t *testing.T) {
	cfg := loadConfig(t, map[string]string{"apiwatch.yml": `
companies:
  - name: acme
    labels: {team: payments, tier: gold}
    severity: warning
    runbook_url: https://wiki.example.com/acme
    maintenance:
      - start: 2026-12-05T02:00:00Z
        end: 2026-12-05T04:00:00Z
    endpoints:
      - name: api
        url: https://user:S3cr3t@api.acme.example/health?token=S3cr3t
        labels: {tier: platinum}
        severity: critical
        maintenance:
          - schedule: "0 2 * * 0"
            duration: 1h
            time_zone: Europe/Berlin
`})
	pol := PoliciesFromConfig(cfg)[collector.Key{Company: "acme", Endpoint: "api"}]
	if pol == nil {
		t.Fatal("no policy for acme/api")
	}
	if want := map[string]string{"team": "payments", "tier": "platinum"}; !maps.Equal(pol.Labels, want) {
		t.Errorf("labels = %v, want %v", pol.Labels, want)
	}
	if pol.Severity != "critical" || pol.RunbookURL != "https://wiki.example.com/acme" {
		t.Errorf("severity %q, runbook_url %q, want critical and the company's runbook", pol.Severity, pol.RunbookURL)
	}
	if want := "https://user:xxxxx@api.acme.example/health?token=xxxxx"; pol.URL != want {
		t.Errorf("url = %q, want the redacted %q", pol.URL, want)
	}
	if len(pol.Maintenance) != 2 {
		t.Fatalf("got %d windows, want the company's and the endpoint's", len(pol.Maintenance))
	}
	for _, tc := range []struct {
		at   string
		want bool
	}{
		{"2026-12-05T03:00:00Z", true},  // the company's fixed window
		{"2026-12-06T01:30:00Z", true},  // Sunday 02:30 in Berlin
		{"2026-12-06T02:30:00Z", false}, // Sunday 03:30 in Berlin
	} {
		if got := inMaintenance(pol.Maintenance, at(tc.at)); got != tc.want {
			t.Errorf("inMaintenance(%s) = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestAlertmanagersFromConfig(t *testing.T) {
	cfg := loadConfig(t, map[string]string{"apiwatch.yml": `
alerting:
  alertmanagers:
    - url: http://apiwatch:S3cr3t@127.0.0.1:9093/prefix
      timeout: 3s
companies:
  - name: acme
    endpoints:
      - name: api
        url: https://api.acme.example/health
`})
	ams, err := AlertmanagersFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(ams) != 1 {
		t.Fatalf("got %d Alertmanagers, want 1", len(ams))
	}
	am := ams[0]
	if want := "http://apiwatch:xxxxx@127.0.0.1:9093/prefix"; am.Name != want {
		t.Errorf("name = %q, want %q", am.Name, want)
	}
	if pw, _ := am.URL.User.Password(); pw != "S3cr3t" {
		t.Errorf("URL lost its password")
	}
	if am.Timeout != 3*time.Second || am.Client == nil {
		t.Errorf("timeout %s, client %v, want 3s and a client", am.Timeout, am.Client)
	}
}
