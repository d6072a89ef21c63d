package collector

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestProbeLatency checks what Duration covers: from the start of the probe
// to the last body byte of the final response, over every redirect hop,
// and that the phases add up to it.
func TestProbeLatency(t *testing.T) {
	mux := http.NewServeMux()
	// /timed waits 300ms before its headers, then sends its body in 7
	// chunks, one every 100ms.
	mux.HandleFunc("/timed", func(w http.ResponseWriter, r *http.Request) {
		if !pause(r, 300*time.Millisecond) {
			return
		}
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for range 7 {
			if !pause(r, 100*time.Millisecond) {
				return
			}
			w.Write([]byte("0123456789"))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		if pause(r, 200*time.Millisecond) {
			http.Redirect(w, r, "/timed", http.StatusFound)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	prober := NewHTTPProber(HTTPProberOptions{})

	// The server's pauses are timers, so the measured times are late by
	// scheduling delay only. 50ms is ample, even under the race detector.
	const tolerance = 50 * time.Millisecond
	tests := []struct {
		name       string
		endpoint   string
		reason     Reason
		message    string
		duration   time.Duration
		processing time.Duration
		transfer   time.Duration
		bodySize   int64
	}{
		{
			name:       "headers then slow body",
			endpoint:   "url: " + srv.URL + "/timed",
			duration:   time.Second,
			processing: 300 * time.Millisecond,
			transfer:   700 * time.Millisecond,
			bodySize:   70,
		},
		{
			name:       "redirect hop counts",
			endpoint:   "url: " + srv.URL + "/hop",
			duration:   1200 * time.Millisecond,
			processing: 500 * time.Millisecond,
			transfer:   700 * time.Millisecond,
			bodySize:   70,
		},
		{
			name:       "timeout before headers lasts the timeout",
			endpoint:   "url: " + srv.URL + "/timed\ntimeout: 200ms",
			reason:     ReasonTimeout,
			message:    "timed out after 200ms while waiting for the response headers",
			duration:   200 * time.Millisecond,
			processing: 200 * time.Millisecond,
		},
		{
			name:       "timeout mid-body lasts the timeout",
			endpoint:   "url: " + srv.URL + "/timed\ntimeout: 450ms",
			reason:     ReasonTimeout,
			message:    "timed out after 450ms while reading the body",
			duration:   450 * time.Millisecond,
			processing: 300 * time.Millisecond,
			transfer:   150 * time.Millisecond,
			bodySize:   10,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := prober.Probe(context.Background(), loadTarget(t, tt.endpoint))

			checkResult(t, res, tt.reason == ReasonNone, tt.reason, tt.message)
			if res.BodySize != tt.bodySize {
				t.Errorf("BodySize = %d, want %d", res.BodySize, tt.bodySize)
			}
			within := func(name string, got, want time.Duration) {
				t.Helper()
				if got < want-tolerance || got > want+tolerance {
					t.Errorf("%s = %v, want %v ± %v", name, got, want, tolerance)
				}
			}
			within("Duration", res.Duration, tt.duration)
			within("processing phase", res.Phases[PhaseProcessing], tt.processing)
			within("transfer phase", res.Phases[PhaseTransfer], tt.transfer)
			var sum time.Duration
			for _, d := range res.Phases {
				sum += d
			}
			// The gaps between phases are the prober's own bookkeeping.
			if gap := res.Duration - sum; gap < 0 || gap > 5*time.Millisecond {
				t.Errorf("phases %v sum to %v, want Duration %v less at most 5ms", res.Phases, sum, res.Duration)
			}
		})
	}
}
