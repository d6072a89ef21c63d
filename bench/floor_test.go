package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestNextSlot(t *testing.T) {
	tests := []struct {
		name     string
		t        time.Time
		interval time.Duration
		offset   time.Duration
		want     time.Time
	}{
		{"before the offset in the interval", time.Unix(100, 0), 10 * time.Second, 3 * time.Second, time.Unix(103, 0)},
		{"after the offset in the interval", time.Unix(105, 0), 10 * time.Second, 3 * time.Second, time.Unix(113, 0)},
		{"exactly on a slot moves to the next", time.Unix(103, 0), 10 * time.Second, 3 * time.Second, time.Unix(113, 0)},
		{"sub-second interval", time.Unix(0, 1_250_000_000), 500 * time.Millisecond, 100 * time.Millisecond, time.Unix(0, 1_600_000_000)},
		{"before the epoch", time.Unix(-5, 0), 10 * time.Second, 3 * time.Second, time.Unix(3, 0)},
		{"before the epoch on a slot", time.Unix(-7, 0), 10 * time.Second, 3 * time.Second, time.Unix(3, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextSlot(tt.t, tt.interval, tt.offset); !got.Equal(tt.want) {
				t.Errorf("nextSlot(%v, %v, %v) = %v, want %v", tt.t.UnixNano(), tt.interval, tt.offset, got.UnixNano(), tt.want.UnixNano())
			}
		})
	}
}

func TestPhaseOffset(t *testing.T) {
	const interval = 10 * time.Second
	a := phaseOffset("company-0000", "endpoint-0", interval)
	if a < 0 || a >= interval {
		t.Errorf("phaseOffset = %v, want within [0, %v)", a, interval)
	}
	if b := phaseOffset("company-0000", "endpoint-0", interval); b != a {
		t.Errorf("phaseOffset is not stable: %v then %v", a, b)
	}
	// The zero byte between the names keeps ("ab", "c") apart from ("a", "bc").
	if phaseOffset("ab", "c", interval) == phaseOffset("a", "bc", interval) {
		t.Errorf("phaseOffset does not separate company from endpoint")
	}
	// FNV-1a 64 of "a\x00b" is 0xe5d29919042666b2 (computed in Python:
	// arithmetic: start at 0xcbf29ce484222325, for each byte xor then
	// multiply by 0x100000001b3 modulo 2^64).
	if got, want := phaseOffset("a", "b", time.Duration(1<<62)), time.Duration(0xe5d29919042666b2%(1<<62)); got != want {
		t.Errorf("phaseOffset(a, b) = %#x, want %#x", int64(got), int64(want))
	}
}

func TestFloorProbeCounts(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(targetBody)) })
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusInternalServerError) })
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	p := &floorProber{client: &http.Client{
		Timeout:   200 * time.Millisecond,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}}
	for _, path := range []string{"/ok", "/ok", "/fail", "/hang"} {
		p.probe(srv.URL + path)
	}
	p.probe("http://127.0.0.1:1/closed-port")
	if got := p.ok.Load(); got != 2 {
		t.Errorf("ok = %d, want 2", got)
	}
	if got := p.fail.Load(); got != 3 {
		t.Errorf("fail = %d, want 3 (a 500, a timeout and a refused connection)", got)
	}
}

// TestFloorStartWithPastSlot starts timers whose first slot has passed, as
// happens while thousands of them are being armed: each fires at once, and
// its callback must find its timer set.
func TestFloorStartWithPastSlot(t *testing.T) {
	const targets = 200
	hits := make(chan struct{}, targets)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits <- struct{}{}
	}))
	defer srv.Close()
	p := &floorProber{
		interval: time.Hour,
		client: &http.Client{
			Timeout:   5 * time.Second,
			Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		},
	}

	past := time.Now().Add(-time.Second)
	var started []*floorTarget
	for range targets {
		started = append(started, p.start(srv.URL, past))
	}
	defer func() {
		for _, ft := range started {
			ft.timer.Stop()
		}
	}()

	timeout := time.After(10 * time.Second)
	for i := range targets {
		select {
		case <-hits:
		case <-timeout:
			t.Fatalf("%d of %d probes arrived within 10s", i, targets)
		}
	}
	if got := p.ok.Load() + p.fail.Load(); got > targets {
		t.Errorf("%d probes counted, want at most %d", got, targets)
	}
}
