package collector

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// stallHandler sends 16 bytes of a 1 MiB body, flushes them, and then sends
// nothing more until the client goes away.
func stallHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", strconv.Itoa(1<<20))
	w.Write(make([]byte, 16))
	w.(http.Flusher).Flush()
	<-r.Context().Done()
}

// TestProbeBodyStall checks that a body that stops arriving ends the probe
// at the timeout, with the time spent as its duration. There is no body
// check yet and the prober always reads the body, so one variant covers
// probes with and without a body check.
func TestProbeBodyStall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(stallHandler))
	defer srv.Close()
	prober := NewHTTPProber(HTTPProberOptions{})
	const timeout = 500 * time.Millisecond

	res := prober.Probe(context.Background(), loadTarget(t, "url: "+srv.URL+"/stall\ntimeout: 500ms"))

	checkResult(t, res, false, ReasonTimeout, "timed out after 500ms while reading the body")
	if res.StatusCode != 200 {
		t.Errorf("StatusCode = %d, want 200", res.StatusCode)
	}
	if res.BodySize != 16 || res.BodyTruncated {
		t.Errorf("BodySize, BodyTruncated = %d, %v, want 16, false", res.BodySize, res.BodyTruncated)
	}
	if res.Duration < timeout || res.Duration > timeout+100*time.Millisecond {
		t.Errorf("Duration = %v, want between %v and %v", res.Duration, timeout, timeout+100*time.Millisecond)
	}
	if transfer := res.Phases[PhaseTransfer]; transfer < timeout-100*time.Millisecond {
		t.Errorf("transfer phase = %v, want about %v", transfer, timeout)
	}
}

// TestProbeBodyStallReleasesResources checks that probes abandoned at the
// timeout leave no goroutine or file descriptor behind.
func TestProbeBodyStallReleasesResources(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(stallHandler))
	defer srv.Close()
	prober := NewHTTPProber(HTTPProberOptions{})
	target := loadTarget(t, "url: "+srv.URL+"/stall\ntimeout: 100ms")

	// A first probe starts what stays running for the whole test, such as
	// the server's accept loop, before the baseline is taken.
	prober.Probe(context.Background(), target)
	settled := func(goroutines, fds int) func() bool {
		return func() bool {
			prober.transport.CloseIdleConnections()
			return runtime.NumGoroutine() <= goroutines && openFDs(t) <= fds
		}
	}
	// The server closes its side of the first probe's connection a moment
	// after the client, so the baseline is the lowest count seen in 1s.
	baseGoroutines, baseFDs := runtime.NumGoroutine(), openFDs(t)
	eventually(time.Second, func() bool {
		baseGoroutines = min(baseGoroutines, runtime.NumGoroutine())
		baseFDs = min(baseFDs, openFDs(t))
		return false
	})

	for i := range 20 {
		res := prober.Probe(context.Background(), target)
		if res.Reason != ReasonTimeout {
			t.Fatalf("probe %d: Reason = %q (%s), want timeout", i, res.Reason, res.Message)
		}
	}

	if !eventually(5*time.Second, settled(baseGoroutines, baseFDs)) {
		t.Errorf("after 20 probes: %d goroutines and %d open fds, want at most %d and %d",
			runtime.NumGoroutine(), openFDs(t), baseGoroutines, baseFDs)
	}
}

// TestProbeSlowBody checks a body that arrives slowly but in time: it is a
// success, read in full only when body_size_limit allows.
func TestProbeSlowBody(t *testing.T) {
	const (
		chunk  = 64 << 10
		chunks = 40 // 2.5 MiB over about 400 ms
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, chunk)
		for range chunks {
			if !pause(r, 10*time.Millisecond) {
				return
			}
			w.Write(buf)
			w.(http.Flusher).Flush()
		}
	}))
	defer srv.Close()
	prober := NewHTTPProber(HTTPProberOptions{})

	tests := []struct {
		name        string
		limit       string
		bodySize    int64
		truncated   bool
		minDuration time.Duration
		maxDuration time.Duration
	}{
		{
			name:        "limit above body reads it all",
			limit:       "\nbody_size_limit: 4MiB",
			bodySize:    chunk * chunks,
			minDuration: chunks * 10 * time.Millisecond,
			maxDuration: time.Second,
		},
		{
			name:        "default limit stops at 1MiB",
			bodySize:    1 << 20,
			truncated:   true,
			maxDuration: 300 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := prober.Probe(context.Background(), loadTarget(t, "url: "+srv.URL+"/slow-ok\ntimeout: 3s"+tt.limit))

			checkResult(t, res, true, ReasonNone, "")
			if res.BodySize != tt.bodySize || res.BodyTruncated != tt.truncated {
				t.Errorf("BodySize, BodyTruncated = %d, %v, want %d, %v", res.BodySize, res.BodyTruncated, tt.bodySize, tt.truncated)
			}
			if res.Duration < tt.minDuration || res.Duration > tt.maxDuration {
				t.Errorf("Duration = %v, want between %v and %v", res.Duration, tt.minDuration, tt.maxDuration)
			}
		})
	}
}

// hugeBodyServer serves /stream, a chunked body of 64 KiB every 10 ms that
// never ends, and /huge, a body announced as 2 GiB and sent as fast as the
// client reads. Each handler reports on the returned channel when it stops,
// which happens only when the client closes the connection.
func hugeBodyServer(t *testing.T) (*httptest.Server, <-chan string) {
	t.Helper()
	pattern := bytes.Repeat([]byte("apiwatch"), 8<<10) // 64 KiB
	stopped := make(chan string, 100)
	mux := http.NewServeMux()
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		defer func() { stopped <- r.URL.Path }()
		for pause(r, 10*time.Millisecond) {
			if _, err := w.Write(pattern); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		defer func() { stopped <- r.URL.Path }()
		w.Header().Set("Content-Length", strconv.Itoa(2<<30))
		for {
			if _, err := w.Write(pattern); err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, stopped
}

// TestProbeHugeBody checks that an endless or huge body is read only up to
// body_size_limit, after which the connection is closed.
func TestProbeHugeBody(t *testing.T) {
	srv, stopped := hugeBodyServer(t)
	prober := NewHTTPProber(HTTPProberOptions{})

	tests := []struct {
		name     string
		endpoint string
		limit    int64
		reason   Reason
		message  string
	}{
		{
			name:     "endless stream is truncated",
			endpoint: "url: " + srv.URL + "/stream\nbody_size_limit: 256KiB",
			limit:    256 << 10,
		},
		{
			name:     "endless stream fails when too large",
			endpoint: "url: " + srv.URL + "/stream\nbody_size_limit: 256KiB\nexpect:\n  fail_if_body_too_large: true",
			limit:    256 << 10,
			reason:   ReasonBodyTooLarge,
			message:  "body is larger than body_size_limit 256KiB",
		},
		{
			name:     "2GiB body is truncated",
			endpoint: "url: " + srv.URL + "/huge",
			limit:    1 << 20,
		},
		{
			name:     "2GiB body fails when too large",
			endpoint: "url: " + srv.URL + "/huge\nexpect:\n  fail_if_body_too_large: true",
			limit:    1 << 20,
			reason:   ReasonBodyTooLarge,
			message:  "body is larger than body_size_limit 1MiB",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := prober.Probe(context.Background(), loadTarget(t, tt.endpoint+"\ntimeout: 5s"))

			checkResult(t, res, tt.reason == ReasonNone, tt.reason, tt.message)
			if res.BodySize != tt.limit || !res.BodyTruncated {
				t.Errorf("BodySize, BodyTruncated = %d, %v, want %d, true", res.BodySize, res.BodyTruncated, tt.limit)
			}
			if res.Duration > time.Second {
				t.Errorf("Duration = %v, want below 1s, far below the 5s timeout", res.Duration)
			}
			select {
			case <-stopped:
			case <-time.After(2 * time.Second):
				t.Errorf("server still sending 2s after the probe ended: the connection was not closed")
			}
		})
	}
}

// TestProbeHugeBodyHeap checks that the memory a probe of a huge body uses
// does not grow with the body.
func TestProbeHugeBodyHeap(t *testing.T) {
	srv, stopped := hugeBodyServer(t)
	prober := NewHTTPProber(HTTPProberOptions{})
	target := loadTarget(t, "url: "+srv.URL+"/huge\ntimeout: 5s")

	heapInUse := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	probe := func(i int) {
		res := prober.Probe(context.Background(), target)
		if !res.Success || !res.BodyTruncated {
			t.Fatalf("probe %d: Success, BodyTruncated = %v, %v (%s), want true, true", i, res.Success, res.BodyTruncated, res.Message)
		}
		select {
		case <-stopped:
		case <-time.After(2 * time.Second):
			t.Fatalf("probe %d: server still sending 2s after the probe ended", i)
		}
	}
	probe(0)
	before := heapInUse()
	for i := range 20 {
		probe(i + 1)
	}
	after := heapInUse()

	const maxGrowth = 4 << 20
	if after > before+maxGrowth {
		t.Errorf("heap in use grew from %d to %d bytes over 20 probes, want at most %d more", before, after, maxGrowth)
	}
}
