package main

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFaultsShares(t *testing.T) {
	const paths = 20000
	tests := []struct {
		name               string
		f                  faults
		wantFail, wantSlow float64
	}{
		{"none", faults{}, 0, 0},
		{"ten percent fail five percent slow", faults{Fail: 0.10, Slow: 0.05}, 0.10, 0.05},
		{"all fail", faults{Fail: 1}, 1, 0},
		{"all slow", faults{Slow: 1}, 0, 1},
		{"half and half", faults{Fail: 0.5, Slow: 0.5}, 0.5, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fail, slow int
			for i := range paths {
				switch tt.f.behaviourOf(i) {
				case behaveFail:
					fail++
				case behaveSlow:
					slow++
				}
			}
			// A hash spreads paths like uniform draws: allow 4 standard
			// deviations of a binomial count, at least 1 path.
			check := func(what string, got int, share float64) {
				want := share * paths
				tolerance := max(4*math.Sqrt(paths*share*(1-share)), 1)
				if d := float64(got) - want; d > tolerance || d < -tolerance {
					t.Errorf("%s paths = %d, want %.0f ± %.0f", what, got, want, tolerance)
				}
			}
			check("failing", fail, tt.wantFail)
			check("slow", slow, tt.wantSlow)
		})
	}
}

func TestFaultsValidate(t *testing.T) {
	tests := []struct {
		name string
		f    faults
		ok   bool
	}{
		{"zero", faults{}, true},
		{"sum of one", faults{Fail: 0.4, Slow: 0.6, SlowDelay: time.Second}, true},
		{"sum over one", faults{Fail: 0.6, Slow: 0.6}, false},
		{"negative share", faults{Fail: -0.1}, false},
		{"negative delay", faults{Slow: 0.1, SlowDelay: -time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f.validate(); (err == nil) != tt.ok {
				t.Errorf("validate(%+v) = %v, want ok=%v", tt.f, err, tt.ok)
			}
		})
	}
}

func TestParseTargetPath(t *testing.T) {
	tests := []struct {
		path   string
		want   int
		wantOK bool
	}{
		{"/t/0", 0, true},
		{"/t/9", 9, true},
		{"/t/10", 0, false}, // out of range for 10 paths
		{"/t/-1", 0, false},
		{"/t/01", 0, false},
		{"/t/", 0, false},
		{"/t/1/x", 0, false},
		{"/u/1", 0, false},
		{"/t/+1", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok := parseTargetPath(tt.path, 10)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseTargetPath(%q) = %d, %v, want %d, %v", tt.path, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// firstPathWith returns the first path that f gives behaviour b.
func firstPathWith(t *testing.T, f faults, b pathBehaviour) int {
	t.Helper()
	for i := range 10000 {
		if f.behaviourOf(i) == b {
			return i
		}
	}
	t.Fatalf("no path among 10000 has behaviour %d under %+v", b, f)
	return 0
}

func TestTargetServesAndRecords(t *testing.T) {
	s := newTargetServer(1000, faults{})
	probes := httptest.NewServer(http.HandlerFunc(s.serveProbe))
	defer probes.Close()
	admin := httptest.NewServer(s.adminHandler())
	defer admin.Close()

	f := faults{Fail: 0.1, Slow: 0.1, SlowDelay: 30 * time.Millisecond}
	resp, err := http.Post(admin.URL+"/faults", "application/json",
		strings.NewReader(fmt.Sprintf(`{"fail":0.1,"slow":0.1,"slow_delay_ns":%d}`, int64(f.SlowDelay))))
	if err != nil {
		t.Fatalf("POST /faults: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /faults: %s", resp.Status)
	}
	okPath := firstPathWith(t, f, behaveOK)
	failPath := firstPathWith(t, f, behaveFail)
	slowPath := firstPathWith(t, f, behaveSlow)

	tests := []struct {
		name     string
		path     string
		wantCode int
		wantBody string
		minTime  time.Duration
	}{
		{"healthy path", fmt.Sprintf("/t/%d", okPath), http.StatusOK, targetBody, 0},
		{"failing path", fmt.Sprintf("/t/%d", failPath), http.StatusInternalServerError, "injected failure\n", 0},
		{"slow path", fmt.Sprintf("/t/%d", slowPath), http.StatusOK, targetBody, f.SlowDelay},
		{"out of range", "/t/1000", http.StatusNotFound, "404 page not found\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			resp, err := http.Get(probes.URL + tt.path)
			if err != nil {
				t.Fatalf("GET %s: %v", tt.path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantCode)
			}
			if string(body) != tt.wantBody {
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
			if elapsed := time.Since(start); elapsed < tt.minTime {
				t.Errorf("answered after %v, want at least %v", elapsed, tt.minTime)
			}
		})
	}

	before := time.Now().UnixNano()
	resp, err = http.Get(admin.URL + "/hits")
	if err != nil {
		t.Fatalf("GET /hits: %v", err)
	}
	hits, err := readHits(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading /hits: %v", err)
	}
	if len(hits) != 1000 {
		t.Fatalf("/hits has %d paths, want 1000", len(hits))
	}
	total := 0
	for i, times := range hits {
		total += len(times)
		want := 0
		if i == okPath || i == failPath || i == slowPath {
			want = 1
		}
		if len(times) != want {
			t.Errorf("path %d has %d hits, want %d", i, len(times), want)
		}
		for _, at := range times {
			if at > before {
				t.Errorf("path %d hit at %d, after the requests ended at %d", i, at, before)
			}
		}
	}
	if total != 3 {
		t.Errorf("%d hits in total, want 3 (the out-of-range request is not recorded)", total)
	}

	resp, err = http.Post(admin.URL+"/reset", "", nil)
	if err != nil {
		t.Fatalf("POST /reset: %v", err)
	}
	resp.Body.Close()
	for i, times := range s.hits.snapshot() {
		if len(times) != 0 {
			t.Errorf("after /reset, path %d has %d hits", i, len(times))
		}
	}
}

func TestTargetRejectsInvalidFaults(t *testing.T) {
	s := newTargetServer(10, faults{Fail: 0.5})
	admin := httptest.NewServer(s.adminHandler())
	defer admin.Close()
	for _, body := range []string{`{"fail":0.7,"slow":0.7}`, `not json`} {
		resp, err := http.Post(admin.URL+"/faults", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST /faults: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST /faults %s: status %d, want 400", body, resp.StatusCode)
		}
	}
	if got := *s.faults.Load(); got != (faults{Fail: 0.5}) {
		t.Errorf("faults after rejected updates = %+v, want the original", got)
	}
}

func TestTargetFaultsSwitchTime(t *testing.T) {
	s := newTargetServer(10, faults{})
	admin := httptest.NewServer(s.adminHandler())
	defer admin.Close()
	tg := &target{addrs: targetAddrs{Admin: strings.TrimPrefix(admin.URL, "http://")}, client: admin.Client()}

	before := time.Now()
	at, err := tg.switchFaults(faults{Fail: 0.5})
	if err != nil {
		t.Fatalf("switchFaults: %v", err)
	}
	after := time.Now()
	if at.Before(before) || at.After(after) {
		t.Errorf("switch time %v, want between %v and %v", at, before, after)
	}
	if got := *s.faults.Load(); got != (faults{Fail: 0.5}) {
		t.Errorf("faults after the switch = %+v, want a fail share of 0.5", got)
	}
	if _, err := tg.switchFaults(faults{Fail: 2}); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("switchFaults with invalid faults: error %v, want the target's 400", err)
	}
}
