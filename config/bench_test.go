package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeLargeConfig writes a configuration of endpoints endpoints, ten per
// company, spread over files files (the main file and files-1 fragments),
// and returns the main file's path. Every tenth endpoint runs on a cron
// schedule.
func writeLargeConfig(tb testing.TB, endpoints, files int) string {
	tb.Helper()
	dir := tb.TempDir()
	bodies := make([]strings.Builder, files)
	for i := range bodies {
		bodies[i].WriteString("companies:\n")
	}
	for c := range endpoints / 10 {
		b := &bodies[c%files]
		fmt.Fprintf(b, "  - name: company-%d\n    labels: {tier: gold, team: team-%d}\n", c, c%50)
		fmt.Fprintf(b, "    contacts:\n      email: [ops-%d@example.com]\n    endpoints:\n", c)
		for e := range 10 {
			fmt.Fprintf(b, "      - name: endpoint-%d\n        url: https://api-%d.example.com/v1/health?check=%d\n", e, c, e)
			if e == 9 {
				b.WriteString("        schedule: \"*/5 * * * *\"\n")
			} else {
				b.WriteString("        interval: 30s\n        timeout: 5s\n")
			}
			b.WriteString("        expect:\n          status: [200, 204]\n")
		}
	}
	main := filepath.Join(dir, "apiwatch.yml")
	header := "global:\n  interval: 1m\n  timeout: 10s\nconfig_files: [conf.d/*.yml]\n"
	if err := os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755); err != nil {
		tb.Fatal(err)
	}
	for i := range bodies {
		path, text := main, header+bodies[i].String()
		if i > 0 {
			path, text = filepath.Join(dir, "conf.d", fmt.Sprintf("part-%03d.yml", i)), bodies[i].String()
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return main
}

func benchmarkLoad(b *testing.B, endpoints, files int) {
	path := writeLargeConfig(b, endpoints, files)
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := LoadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		if n := len(cfg.Companies); n != endpoints/10 {
			b.Fatalf("loaded %d companies, want %d", n, endpoints/10)
		}
	}
}

// BenchmarkLoad10000 loads 10,000 endpoints from one file.
func BenchmarkLoad10000(b *testing.B) { benchmarkLoad(b, 10_000, 1) }

// BenchmarkLoad10000Split loads 10,000 endpoints from a main file and seven
// fragments, which are parsed concurrently.
func BenchmarkLoad10000Split(b *testing.B) { benchmarkLoad(b, 10_000, 8) }

// BenchmarkLoad100000 loads 100,000 endpoints from one file.
func BenchmarkLoad100000(b *testing.B) { benchmarkLoad(b, 100_000, 1) }

// BenchmarkLoad100000Split loads 100,000 endpoints from eight files.
func BenchmarkLoad100000Split(b *testing.B) { benchmarkLoad(b, 100_000, 8) }

// TestLoadLarge checks that a large generated configuration loads, with
// every endpoint present, so the benchmarks measure a successful load.
func TestLoadLarge(t *testing.T) {
	cfg := mustLoad(t, writeLargeConfig(t, 2_000, 3))
	n := 0
	for _, c := range cfg.Companies {
		n += len(c.Endpoints)
	}
	if n != 2_000 {
		t.Errorf("loaded %d endpoints, want 2000", n)
	}
}

// benchmarkReloadOneChange reloads a configuration of endpoints endpoints in
// one file, with a LoadCache, after changing one endpoint's timeout: the
// reload a running daemon does for a one-line edit.
func benchmarkReloadOneChange(b *testing.B, endpoints int) {
	main := writeLargeConfig(b, endpoints, 1)
	data, err := os.ReadFile(main)
	if err != nil {
		b.Fatal(err)
	}
	cache := NewLoadCache()
	cfg, err := Load(main, LoadOptions{Cache: cache})
	if err != nil {
		b.Fatal(err)
	}
	cache.Update(cfg)
	// The first endpoint of a company in the middle of the file.
	mid := fmt.Sprintf("  - name: company-%d\n", endpoints/20)
	at := strings.Index(string(data), mid)
	timeoutAt := at + strings.Index(string(data[at:]), "timeout: 5s")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		changed := []byte(string(data))
		changed[timeoutAt+len("timeout: ")] = byte('1' + i%4)
		if err := os.WriteFile(main, changed, 0o644); err != nil {
			b.Fatal(err)
		}
		cfg, err := Load(main, LoadOptions{Cache: cache})
		if err != nil {
			b.Fatal(err)
		}
		cache.Update(cfg)
	}
}

// BenchmarkReload10000OneChange reloads 10,000 endpoints after a one-line
// change.
func BenchmarkReload10000OneChange(b *testing.B) { benchmarkReloadOneChange(b, 10_000) }

// BenchmarkReload100000OneChange reloads 100,000 endpoints after a one-line
// change.
func BenchmarkReload100000OneChange(b *testing.B) { benchmarkReloadOneChange(b, 100_000) }
