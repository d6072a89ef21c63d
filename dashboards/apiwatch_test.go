package dashboards

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiwatch/apiwatch/collector"
	"github.com/apiwatch/apiwatch/config"
	"github.com/apiwatch/apiwatch/web"
)

// certLifetime is how long the payments endpoint's certificate is valid
// from the start of the test.
const certLifetime = 30 * 24 * time.Hour

// wantStates are the states of the endpoints of company acme, which keep
// them from their first probe on. globex/payments flaps between UP and
// DOWN.
var wantStates = map[string]string{"up": "UP", "slow": "DEGRADED", "down": "DOWN"}

// apiwatchFixture is apiwatch running in this process: a collector.Manager
// with the real HTTP prober, probing every second, and web.New serving its
// HTTP endpoints at url.
type apiwatchFixture struct {
	url string
	// certNotAfter is when the payments endpoint's certificate expires.
	certNotAfter time.Time
}

// apiwatchConfig has four endpoints on the test's servers. acme/up returns
// 200, acme/slow returns 200 after 150ms against a max_duration of 50ms,
// and acme/down returns 500. globex/payments, over HTTPS, fails two
// requests in three, so that with one retry its probes alternate between
// a failure and a success. The timeouts leave room for a slow machine
// running the race detector.
const apiwatchConfig = `
global:
  interval: 1s
  timeout: 900ms
  failure_threshold: 1
  success_threshold: 1
companies:
  - name: acme
    endpoints:
      - name: up
        url: %[1]s/ok
      - name: slow
        url: %[1]s/slow
        expect:
          max_duration: 50ms
      - name: down
        url: %[1]s/error
  - name: globex
    endpoints:
      - name: payments
        url: %[2]s/pay
        interval: 2s
        timeout: 900ms
        retries: 1
        retry_delay: 100ms
        tls_config:
          ca_file: %[3]s
`

// startApiwatch starts the target servers and apiwatch, and returns once
// every endpoint has its state, and payments has both failed and
// succeeded, so that every per-endpoint series exists. The test's cleanup
// stops everything.
func startApiwatch(t *testing.T) *apiwatchFixture {
	t.Helper()
	plain := httptest.NewServer(targetHandler())
	t.Cleanup(plain.Close)

	serverCert, caFile, notAfter := issueCertificate(t)
	var requests atomic.Int64
	secure := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if requests.Add(1)%3 != 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	secure.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}}
	secure.StartTLS()
	t.Cleanup(secure.Close)

	path := filepath.Join(t.TempDir(), "apiwatch.yml")
	if err := os.WriteFile(path, fmt.Appendf(nil, apiwatchConfig, plain.URL, secure.URL, caFile), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadFile(path)
	if err != nil {
		t.Fatalf("loading the test configuration: %v", err)
	}

	transitions := newTransitionLog("acme/up up", "acme/slow degraded", "acme/down down",
		"globex/payments down", "globex/payments up")
	reg := prometheus.NewRegistry()
	httpProber := collector.NewHTTPProber(collector.HTTPProberOptions{})
	mgr, err := collector.New(collector.Options{
		Registerer:   reg,
		Prober:       collector.NewRetryingProber(httpProber),
		OnTransition: transitions.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	httpProber.ApplyConfig(cfg)
	mgr.ApplyConfig(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- mgr.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("collector.Manager.Run failed: %v", err)
		}
	})

	srv := httptest.NewServer(web.New(web.Options{Manager: mgr, Gatherer: reg}))
	t.Cleanup(srv.Close)

	// Each endpoint is first probed within one interval of the start, so
	// payments has failed and succeeded after two intervals, 4s.
	select {
	case <-transitions.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("endpoints did not reach their states within 20s (transitions seen: %v)", transitions.seen())
	}
	return &apiwatchFixture{url: srv.URL, certNotAfter: notAfter}
}

// targetHandler serves the plain HTTP endpoints of apiwatchConfig.
func targetHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("/slow", func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(150 * time.Millisecond):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/error", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	return mux
}

// transitionLog records state transitions as "company/endpoint state" and
// closes done once all of the wanted ones have happened.
type transitionLog struct {
	mu     sync.Mutex
	wanted map[string]bool
	all    []string
	done   chan struct{}
}

func newTransitionLog(wanted ...string) *transitionLog {
	l := &transitionLog{wanted: map[string]bool{}, done: make(chan struct{})}
	for _, w := range wanted {
		l.wanted[w] = true
	}
	return l
}

func (l *transitionLog) add(tr collector.Transition) {
	l.mu.Lock()
	defer l.mu.Unlock()
	event := tr.Key.String() + " " + tr.To.String()
	l.all = append(l.all, event)
	if l.wanted[event] {
		delete(l.wanted, event)
		if len(l.wanted) == 0 {
			close(l.done)
		}
	}
}

func (l *transitionLog) seen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.all...)
}

// issueCertificate creates a CA, valid for a year, and a server
// certificate for 127.0.0.1 signed by it that expires certLifetime from
// now. It returns the server certificate, the CA's PEM file and when the
// server certificate expires, which is the earliest expiry in the chain.
func issueCertificate(t *testing.T) (tls.Certificate, string, time.Time) {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "apiwatch dashboards test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// Certificates store times to the second.
	notAfter := now.Add(certLifetime).Truncate(time.Second)
	leafTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTemplate, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: key}, caFile, notAfter
}
