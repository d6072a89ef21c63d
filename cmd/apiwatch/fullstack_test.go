package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// fullStackDir holds the Grafana files of the README's full stack. Its
// Prometheus files are in examples/prometheus, which
// examples/prometheus/rules_test.go and prometheus_rules_test.go check.
var fullStackDir = filepath.Join(repoRoot, "examples", "full-stack")

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
