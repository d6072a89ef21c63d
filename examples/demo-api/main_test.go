package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
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

func TestDemoAPIJSONEndpoints(t *testing.T) {
	h := newHandler(time.Now(), 3*time.Minute, 1500*time.Millisecond)
	tests := []struct {
		name     string
		method   string
		path     string
		header   map[string]string
		wantCode int
		wantBody string
	}{
		{"status", http.MethodGet, "/api/status", nil, http.StatusOK, `{"status":"ok","queue":{"depth":0}}` + "\n"},
		{"orders with token", http.MethodPost, "/api/orders", map[string]string{"Authorization": "Bearer demo-token"},
			http.StatusCreated, `{"accepted":true}` + "\n"},
		{"orders without token", http.MethodPost, "/api/orders", nil, http.StatusUnauthorized,
			`{"error":"missing or wrong bearer token"}` + "\n"},
		{"orders by GET", http.MethodGet, "/api/orders", map[string]string{"Authorization": "Bearer demo-token"},
			http.StatusMethodNotAllowed, "Method Not Allowed\n"},
		{"inventory", http.MethodGet, "/api/inventory", nil, http.StatusOK, `{"status":"degraded","detail":"replica lag 42s"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode {
				t.Errorf("status %d, want %d", rec.Code, tt.wantCode)
			}
			body := rec.Body.Bytes()
			if rec.Header().Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			if string(body) != tt.wantBody {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
		})
	}
}

func TestDemoAPIPing(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go servePing(l)
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if line != "+PONG\r\n" {
		t.Errorf("answer %q, want +PONG", line)
	}
}

func TestDemoAPIGRPCHealth(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newGRPCServer()
	go s.Serve(l)
	defer s.Stop()
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	for service, want := range map[string]healthpb.HealthCheckResponse_ServingStatus{
		"":             healthpb.HealthCheckResponse_SERVING,
		"demo.Orders":  healthpb.HealthCheckResponse_SERVING,
		"demo.Billing": healthpb.HealthCheckResponse_NOT_SERVING,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		cancel()
		if err != nil {
			t.Fatalf("Check(%q): %v", service, err)
		}
		if resp.Status != want {
			t.Errorf("Check(%q) = %s, want %s", service, resp.Status, want)
		}
	}
}
