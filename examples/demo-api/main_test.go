package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"
)

func TestDemoAPI(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		after    time.Duration // time since the demo API started
		wantCode int
		wantLoc  string
	}{
		{"healthy", "/healthy", 0, http.StatusOK, ""},
		{"error", "/error", 0, http.StatusInternalServerError, ""},
		{"old redirects", "/old", 0, http.StatusMovedPermanently, "/healthy"},
		{"flaky first third up", "/flaky", 59 * time.Second, http.StatusOK, ""},
		{"flaky second third down", "/flaky", 60 * time.Second, http.StatusServiceUnavailable, ""},
		{"flaky last third up", "/flaky", 120 * time.Second, http.StatusOK, ""},
		{"flaky next cycle up", "/flaky", 180 * time.Second, http.StatusOK, ""},
		{"slow", "/slow", 0, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHandler(time.Now(), 3*time.Minute, 1500*time.Millisecond)
				time.Sleep(tt.after)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
				if rec.Code != tt.wantCode {
					t.Errorf("status %d, want %d", rec.Code, tt.wantCode)
				}
				if got := rec.Header().Get("Location"); got != tt.wantLoc {
					t.Errorf("Location = %q, want %q", got, tt.wantLoc)
				}
			})
		})
	}
}

func TestDemoAPISlowTakesDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHandler(time.Now(), 3*time.Minute, 1500*time.Millisecond)
		start := time.Now()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/slow", nil))
		if elapsed := time.Since(start); elapsed != 1500*time.Millisecond {
			t.Errorf("/slow answered after %v, want 1.5s", elapsed)
		}
	})
}
