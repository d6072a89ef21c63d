package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestPprofSeconds(t *testing.T) {
	tests := []struct {
		length, window time.Duration
		want           int
	}{
		{30 * time.Second, time.Minute, 30},
		{30 * time.Second, 5 * time.Second, 5},
		{1500 * time.Millisecond, time.Minute, 1},
		{100 * time.Millisecond, time.Minute, 1},
	}
	for _, tt := range tests {
		if got := pprofSeconds(tt.length, tt.window); got != tt.want {
			t.Errorf("pprofSeconds(%v, %v) = %d, want %d", tt.length, tt.window, got, tt.want)
		}
	}
}

func TestStartPprof(t *testing.T) {
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests = append(requests, r.URL.RequestURI())
		if r.URL.Path != "/debug/pprof/profile" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("profile bytes"))
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: time.Minute}
	out := filepath.Join(t.TempDir(), "run.cpu.pprof")

	rp := &runningProber{metricsURL: srv.URL + "/metrics"}
	startPprof(client, rp, 30*time.Second, 10*time.Second, out)()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("no profile written: %v", err)
	}
	if string(b) != "profile bytes" {
		t.Errorf("profile = %q, want the server's body", b)
	}
	if len(requests) != 1 || requests[0] != "/debug/pprof/profile?seconds=10" {
		t.Errorf("requests = %q, want one profile of 10 seconds, the window", requests)
	}

	// The floor serves no metrics, and 0 turns profiling off: neither
	// sends a request.
	startPprof(client, &runningProber{}, 30*time.Second, time.Minute, out)()
	startPprof(client, rp, 0, time.Minute, out)()
	if len(requests) != 1 {
		t.Errorf("requests = %q, want no more after the first", requests)
	}
}
