package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/config"
)

// sleeper starts a child that lives until the test stops it.
func sleeper(t *testing.T) *child {
	t.Helper()
	c, err := startChild("sleeper", filepath.Join(t.TempDir(), "sleeper.log"), "/bin/sh", "-c", "exec sleep 30")
	if err != nil {
		t.Fatalf("startChild: %v", err)
	}
	t.Cleanup(func() { c.stop(time.Second) })
	return c
}

func TestWaitReadyAfterStalledPoll(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			<-r.Context().Done() // stalls until the poll gives up
		case 2:
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: time.Minute}

	start := time.Now()
	if err := waitReady(client, srv.URL, sleeper(t), 20*time.Second); err != nil {
		t.Fatalf("waitReady: %v", err)
	}
	if got := calls.Load(); got != 3 {
		t.Errorf("waitReady polled %d times, want 3 (stalled, 503, 200)", got)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("waitReady took %v; a stalled poll must give up after 2s", elapsed)
	}
}

func TestWaitReadyFailsWhenChildExits(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c, err := startChild("quitter", filepath.Join(t.TempDir(), "quitter.log"), "/bin/sh", "-c", "echo bad config >&2; exit 1")
	if err != nil {
		t.Fatalf("startChild: %v", err)
	}
	defer c.stop(time.Second)
	err = waitReady(http.DefaultClient, srv.URL, c, 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "bad config") {
		t.Errorf("waitReady error = %v, want one with the child's log", err)
	}
}

func TestAPIWatchConfig(t *testing.T) {
	url := func(i int) string { return fmt.Sprintf("http://127.0.0.%d:80/t/%d", i%2+1, i) }
	sc := scenario{Endpoints: 201, Interval: 1500 * time.Millisecond, Timeout: time.Second}
	got := string(apiwatchConfig(sc, url, nil, ""))

	if !strings.HasPrefix(got, "global:\n  interval: 1500ms\n  timeout: 1000ms\ncompanies:\n") {
		t.Errorf("config does not start with the global block and companies:\n%.200s", got)
	}
	if n := strings.Count(got, "  - name: company-"); n != 3 {
		t.Errorf("config has %d companies, want 3 for 201 endpoints", n)
	}
	if n := strings.Count(got, "      - name: endpoint-"); n != 201 {
		t.Errorf("config has %d endpoints, want 201", n)
	}
	for _, want := range []string{
		"  - name: company-0000\n    endpoints:\n      - name: endpoint-0\n        url: http://127.0.0.1:80/t/0\n",
		"  - name: company-0001\n    endpoints:\n      - name: endpoint-100\n        url: http://127.0.0.1:80/t/100\n",
		"  - name: company-0002\n    endpoints:\n      - name: endpoint-200\n        url: http://127.0.0.1:80/t/200\n",
		"      - name: endpoint-199\n        url: http://127.0.0.2:80/t/199\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q", want)
		}
	}

	empty := string(apiwatchConfig(scenario{Interval: time.Minute, Timeout: 10 * time.Second}, url, nil, ""))
	if want := "global:\n  interval: 60000ms\n  timeout: 10000ms\ncompanies: []\n"; empty != want {
		t.Errorf("config with no endpoints = %q, want %q", empty, want)
	}
}

// TestAPIWatchConfigAlerting loads a generated configuration with apiwatch's
// own loader, so a change of apiwatch's configuration format shows here
// rather than as a failed start in a long run.
func TestAPIWatchConfigAlerting(t *testing.T) {
	url := func(i int) string { return fmt.Sprintf("http://127.0.0.1:80/t/%d", i) }
	sc := scenario{Endpoints: 150, Interval: 10 * time.Second, Timeout: 5 * time.Second}
	got := apiwatchConfig(sc, url, nil, "http://127.0.0.1:9093")
	want := "global:\n  interval: 10000ms\n  timeout: 5000ms\n  failure_threshold: 1\n" +
		"alerting:\n  alertmanagers:\n    - url: http://127.0.0.1:9093\ncompanies:\n"
	if !strings.HasPrefix(string(got), want) {
		t.Errorf("config starts\n%.200s\nwant\n%s", got, want)
	}

	path := filepath.Join(t.TempDir(), "apiwatch.yml")
	if err := os.WriteFile(path, got, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadFile(path)
	if err != nil {
		t.Fatalf("apiwatch rejects the generated configuration: %v", err)
	}
	if n := len(cfg.Alerting.Alertmanagers); n != 1 {
		t.Errorf("loaded %d Alertmanagers, want 1", n)
	}
	endpoints := 0
	for _, c := range cfg.Companies {
		endpoints += len(c.Endpoints)
	}
	if endpoints != 150 {
		t.Errorf("loaded %d endpoints, want 150", endpoints)
	}
}

func TestAPIWatchConfigOverride(t *testing.T) {
	url := func(i int) string { return fmt.Sprintf("http://127.0.0.1:80/t/%d", i) }
	sc := scenario{Endpoints: 3, Interval: 10 * time.Second, Timeout: 5 * time.Second}
	tests := []struct {
		name     string
		override *endpointOverride
		want     string
		timeouts int // timeout keys, the global one included
	}{
		{"URL and timeout", &endpointOverride{Index: 1, URL: url(3), Timeout: 2500 * time.Millisecond},
			"      - name: endpoint-1\n        url: http://127.0.0.1:80/t/3\n        timeout: 2500ms\n" +
				"      - name: endpoint-2\n", 2},
		{"URL only", &endpointOverride{Index: 2, URL: url(3)},
			"      - name: endpoint-2\n        url: http://127.0.0.1:80/t/3\n", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(apiwatchConfig(sc, url, tt.override, ""))
			if !strings.Contains(got, tt.want) {
				t.Errorf("config lacks %q:\n%s", tt.want, got)
			}
			if n := strings.Count(got, "timeout:"); n != tt.timeouts {
				t.Errorf("config has %d timeout keys, want %d:\n%s", n, tt.timeouts, got)
			}
			other := (tt.override.Index + 1) % sc.Endpoints
			if want := fmt.Sprintf("name: endpoint-%d\n        url: %s\n", other, url(other)); !strings.Contains(got, want) {
				t.Errorf("override changed endpoint %d too:\n%s", other, got)
			}
		})
	}
}
