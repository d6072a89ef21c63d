package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkLines reports every line of got that differs from want.
func checkLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("%s line %d:\n got: %q\nwant: %q", what, i+1, g, w)
		}
	}
	if t.Failed() {
		t.Logf("all %s:\n%s", what, strings.Join(got, "\n"))
	}
}

// writeFiles writes files, named relative to a new temporary directory,
// and returns that directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mustLoad loads path and fails the test on any error.
func mustLoad(t *testing.T, path string) *Config {
	t.Helper()
	cfg, err := LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile(%s):\n%v", path, err)
	}
	return cfg
}

// endpoint returns the named endpoint of the named company.
func endpoint(t *testing.T, cfg *Config, company, name string) *Endpoint {
	t.Helper()
	for _, c := range cfg.Companies {
		if c.Name != company {
			continue
		}
		for _, e := range c.Endpoints {
			if e.Name == name {
				return e
			}
		}
	}
	t.Fatalf("no endpoint %s/%s", company, name)
	return nil
}
