package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

const acmeFragment = `
companies:
  - name: acme
    endpoints:
      - name: api
        url: https://api.example.com/health
`

// TestIncludeUnreadable checks the included files that exist as names but
// cannot be read. Each is reported with its own path.
func TestIncludeUnreadable(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  string
	}{
		{"dangling symlink", func(t *testing.T, path string) {
			if err := os.Symlink("missing-target.yml", path); err != nil {
				t.Fatal(err)
			}
		}, "reading file: no such file or directory"},
		{"no permission", func(t *testing.T, path string) {
			if os.Geteuid() == 0 {
				t.Skip("root reads files whatever their mode")
			}
			if err := os.WriteFile(path, []byte(acmeFragment), 0o000); err != nil {
				t.Fatal(err)
			}
		}, "reading file: permission denied"},
		// Reading a FIFO would block the load forever.
		{"fifo", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o644); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}, "is not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"apiwatch.yml": "config_files: [conf.d/*.yml]\n" + acmeFragment})
			if err := os.Mkdir(filepath.Join(dir, "conf.d"), 0o755); err != nil {
				t.Fatal(err)
			}
			bad := filepath.Join(dir, "conf.d", "bad.yml")
			tc.setup(t, bad)

			_, err := LoadFile(filepath.Join(dir, "apiwatch.yml"))
			if err == nil {
				t.Fatal("LoadFile succeeded")
			}
			if !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadFile error = %q, want it to name %s and say %q", err, bad, tc.want)
			}
		})
	}
}

func TestLoadFileMainUnreadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.yml")
	_, err := LoadFile(path)
	if want := path + ": reading file: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("LoadFile error = %v, want %q", err, want)
	}
}

// TestIncludeOrderAndDuplicates checks that many fragments, which are
// parsed concurrently, keep the order of their patterns and sorted names,
// and that a file matched twice is read once.
func TestIncludeOrderAndDuplicates(t *testing.T) {
	files := map[string]string{}
	var names []string
	for i := range 20 {
		name := fmt.Sprintf("c%02d", i)
		names = append(names, name)
		files[filepath.Join("conf.d", name+".yml")] = strings.ReplaceAll(acmeFragment, "acme", name)
	}
	files["extra/zz.yml"] = strings.ReplaceAll(acmeFragment, "acme", "zz")
	dir := writeFiles(t, files)
	files["apiwatch.yml"] = ""
	main := filepath.Join(dir, "apiwatch.yml")
	// The extra pattern comes first and is absolute. conf.d/c05.yml is
	// matched by two patterns.
	config := fmt.Sprintf("config_files:\n  - %s\n  - conf.d/c05.yml\n  - conf.d/*.yml\n", filepath.Join(dir, "extra", "*.yml"))
	if err := os.WriteFile(main, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, main)

	var got []string
	for _, c := range cfg.Companies {
		got = append(got, c.Name)
	}
	want := append([]string{"zz", "c05"}, slices.DeleteFunc(names, func(n string) bool { return n == "c05" })...)
	if !slices.Equal(got, want) {
		t.Errorf("companies = %q, want %q", got, want)
	}
	if len(cfg.Files) != 22 {
		t.Errorf("Files has %d entries, want 22 (main file and 21 fragments)", len(cfg.Files))
	}
}

// TestIncludeErrorsTogether checks that problems in several fragments are
// reported together, in include order, while the good fragments still load.
func TestIncludeErrorsTogether(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"apiwatch.yml": "config_files: [conf.d/*.yml]\n",
		"conf.d/a.yml": acmeFragment,
		"conf.d/b.yml": "companies:\n  - name: b\n    endpoints: [{name: api, url: 'https://x.example/', interval: fast}]\n",
		"conf.d/c.yml": "companies:\n  - name: c\n   endpoints: []\n",
		"conf.d/d.yml": strings.ReplaceAll(acmeFragment, "api.example.com", "api.example.com:0"),
	})
	_, err := LoadFile(filepath.Join(dir, "apiwatch.yml"))
	if err == nil {
		t.Fatal("LoadFile succeeded")
	}
	got := strings.Split(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""), "\n")
	want := []string{
		`conf.d/b.yml:3:66: company "b": endpoint "api": interval: invalid duration "fast": use a number with a unit (ms, s, m, h, d, w, y), for example 30s or 1h30m`,
		`conf.d/c.yml:1: invalid YAML: did not find expected '-' indicator in the block that starts on this line: check the indentation of its lines`,
		`conf.d/d.yml:3:11: company "acme": name: duplicate company name, first defined at conf.d/a.yml:3:11`,
		`conf.d/d.yml:6:14: company "acme": endpoint "api": url: invalid port: use a number from 1 to 65535`,
	}
	checkLines(t, "problems", got, want)
}

func TestRoutingKeyFileNotRegular(t *testing.T) {
	dir := writeFiles(t, map[string]string{"apiwatch.yml": `
companies:
  - name: acme
    contacts:
      pagerduty:
        - routing_key_file: key.fifo
    endpoints:
      - name: api
        url: https://api.example.com/health
`})
	fifo := filepath.Join(dir, "key.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	_, err := LoadFile(filepath.Join(dir, "apiwatch.yml"))
	want := filepath.Join(dir, "apiwatch.yml") + `:6:29: company "acme": contacts.pagerduty[0].routing_key_file: reading the file: ` +
		fifo + " is not a regular file"
	if err == nil || err.Error() != want {
		t.Errorf("LoadFile error:\n got: %v\nwant: %s", err, want)
	}
}
