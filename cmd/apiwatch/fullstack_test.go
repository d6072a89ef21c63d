package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// fullStackDir holds the Prometheus and Grafana files of the README's full
// stack.
var fullStackDir = filepath.Join(repoRoot, "examples", "full-stack")

// TestFullStackPrometheusConfig checks the Prometheus configuration with
// promtool, which also loads its rule files, and that the rules use only
// metric names apiwatch exports.
func TestFullStackPrometheusConfig(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("APIWATCH_SKIP_PROMTOOL") == "1" {
			t.Skip("promtool not installed and APIWATCH_SKIP_PROMTOOL=1")
		}
		t.Fatalf("promtool not found (install Debian's prometheus package, or set APIWATCH_SKIP_PROMTOOL=1 to skip): %v", err)
	}
	file := filepath.Join(fullStackDir, "prometheus.yml")
	if out, err := exec.Command(promtool, "check", "config", file).CombinedOutput(); err != nil {
		t.Errorf("promtool check config %s: %v\n%s", file, err, out)
	}

	rules, err := os.ReadFile(filepath.Join(fullStackDir, "rules.yml"))
	if err != nil {
		t.Fatalf("reading rules: %v", err)
	}
	names := slices.Compact(slices.Sorted(slices.Values(
		regexp.MustCompile(`\bapiwatch_[a-z_]+`).FindAllString(string(rules), -1))))
	if len(names) == 0 {
		t.Fatalf("rules.yml uses no apiwatch_ metric, so this test checks nothing")
	}
	// The notification metrics exist once an Alertmanager is configured;
	// nothing needs to listen there.
	dir := t.TempDir()
	config := writeFile(t, dir, "apiwatch.yml", fmt.Sprintf(`
alerting:
  alertmanagers:
    - url: http://%s
companies:
  - name: acme
    endpoints:
      - name: health
        url: http://%s/
        interval: 1h
`, closedPort(t), closedPort(t)))
	d := startDaemon(t, config, filepath.Join(dir, "data"))
	_, metrics := d.get("/metrics")
	for _, name := range names {
		if !regexp.MustCompile(`(?m)^# TYPE ` + name + ` `).MatchString(metrics) {
			t.Errorf("rules.yml uses %s, which apiwatch does not export", name)
		}
	}
}

// TestFullStackGrafanaDataSource checks that Grafana's provisioned data
// source is the Prometheus of the full stack.
func TestFullStackGrafanaDataSource(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fullStackDir, "grafana", "datasources", "prometheus.yml"))
	if err != nil {
		t.Fatalf("reading the data source: %v", err)
	}
	var file struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			IsDefault                    bool `yaml:"isDefault"`
		} `yaml:"datasources"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	if file.APIVersion != 1 || len(file.Datasources) != 1 {
		t.Fatalf("got apiVersion %d and %d data sources, want 1 and 1", file.APIVersion, len(file.Datasources))
	}
	ds := file.Datasources[0]
	if ds.Type != "prometheus" || ds.URL != "http://127.0.0.1:9090" || !ds.IsDefault {
		t.Errorf("data source %+v, want the default, of type prometheus at http://127.0.0.1:9090", ds)
	}
}
