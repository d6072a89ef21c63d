package collector

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// issueFor returns a certificate signed by ca for the given DNS names, valid
// for an hour either side of now, for server or client authentication.
func issueFor(t *testing.T, ca *testCA, usage x509.ExtKeyUsage, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// writeCertFiles writes cert and its key as PEM files and returns their
// paths.
func writeCertFiles(t *testing.T, cert tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeTempFile(t, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})))
	keyFile = writeTempFile(t, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	return certFile, keyFile
}

// TestProbeTLSConfig checks each tls_config setting against servers built
// to need it.
func TestProbeTLSConfig(t *testing.T) {
	ca := newTestCA(t)
	caFile := writeTempFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})))
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

	// named serves a certificate for api.internal only, and records the
	// server name each client asked for.
	sni := make(chan string, 1)
	named := startTLSServer(t, &tls.Config{
		Certificates: []tls.Certificate{issueFor(t, ca, x509.ExtKeyUsageServerAuth, "api.internal")},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			select {
			case sni <- hello.ServerName:
			default:
			}
			return nil, nil
		},
	}, ok)
	localhost := issueFor(t, ca, x509.ExtKeyUsageServerAuth, "localhost")
	tls12 := startTLSServer(t, &tls.Config{Certificates: []tls.Certificate{localhost}, MaxVersion: tls.VersionTLS12}, ok)
	clientPool := x509.NewCertPool()
	clientPool.AddCert(ca.cert)
	mutual := startTLSServer(t, &tls.Config{
		Certificates: []tls.Certificate{localhost},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientPool,
	}, ok)
	certFile, keyFile := writeCertFiles(t, issueFor(t, ca, x509.ExtKeyUsageClientAuth, "apiwatch"))
	localURL := func(base string) string { return strings.Replace(base, "127.0.0.1", "localhost", 1) }
	resolver := startDNS(t, map[string][]string{"localhost": {"127.0.0.1"}})
	prober := NewHTTPProber(HTTPProberOptions{Resolver: resolver})

	tests := []struct {
		name     string
		endpoint string
		reason   Reason
		message  string
		// orMessage is a second message that the race of a case allows.
		orMessage string
		sni       string
	}{
		{
			name:     "private CA untrusted",
			endpoint: "url: " + localURL(named) + "/\ntls_config:\n  server_name: api.internal",
			reason:   ReasonTLS, message: "TLS handshake: tls: failed to verify certificate: x509: certificate signed by unknown authority",
			sni: "api.internal",
		},
		{
			name:     "ca_file without server_name",
			endpoint: "url: " + localURL(named) + "/\ntls_config:\n  ca_file: " + caFile,
			reason:   ReasonTLS, message: "TLS handshake: tls: failed to verify certificate: x509: certificate is valid for api.internal, not localhost",
			sni: "localhost",
		},
		{
			name:     "ca_file and server_name",
			endpoint: "url: " + localURL(named) + "/\ntls_config:\n  ca_file: " + caFile + "\n  server_name: api.internal",
			sni:      "api.internal",
		},
		{
			name:     "insecure_skip_verify",
			endpoint: "url: " + localURL(named) + "/\ntls_config:\n  insecure_skip_verify: true",
			sni:      "localhost",
		},
		{
			name:     "TLS 1.2 server accepted by default",
			endpoint: "url: " + localURL(tls12) + "/\ntls_config:\n  ca_file: " + caFile,
		},
		{
			name:     "min_version TLS13 rejects a TLS 1.2 server",
			endpoint: "url: " + localURL(tls12) + "/\ntls_config:\n  ca_file: " + caFile + "\n  min_version: TLS13",
			reason:   ReasonTLS, message: "TLS handshake: remote error: tls: protocol version not supported",
		},
		{
			name:     "client certificate accepted",
			endpoint: "url: " + localURL(mutual) + "/\ntls_config:\n  ca_file: " + caFile + "\n  cert_file: " + certFile + "\n  key_file: " + keyFile,
		},
		{
			// In TLS 1.3 the server's alert races the request: when the
			// server's reset discards it, the message names the request
			// for a certificate instead.
			name:     "client certificate missing",
			endpoint: "url: " + localURL(mutual) + "/\ntls_config:\n  ca_file: " + caFile,
			reason:   ReasonTLS, message: "waiting for the response headers: remote error: tls: certificate required",
			orMessage: "waiting for the response headers: use of closed network connection: " +
				"the server asked for a client certificate, and tls_config has none",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := prober.Probe(context.Background(), loadTarget(t, tt.endpoint+"\ntimeout: 5s"))

			want := tt.message
			if tt.orMessage != "" && res.Message == tt.orMessage {
				want = tt.orMessage
			}
			checkResult(t, res, tt.reason == ReasonNone, tt.reason, want)
			select {
			case got := <-sni:
				if got != tt.sni {
					t.Errorf("server name sent = %q, want %q", got, tt.sni)
				}
			default:
			}
		})
	}
}

// TestProbeTLSFileRemovedAfterLoad checks that a tls_config whose files
// are gone by the time the transport is built fails the probe with reason
// tls, naming the file.
func TestProbeTLSFileRemovedAfterLoad(t *testing.T) {
	ca := newTestCA(t)
	caFile := writeTempFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})))
	target := loadTarget(t, "url: https://localhost:1/\ntls_config:\n  ca_file: "+caFile)
	if err := os.Remove(caFile); err != nil {
		t.Fatal(err)
	}
	prober := NewHTTPProber(HTTPProberOptions{})

	res := prober.Probe(context.Background(), target)

	checkResult(t, res, false, ReasonTLS, "tls_config: unable to read CA cert: unable to read file "+caFile+": open "+caFile+": no such file or directory")
}

// TestProbeHTTP2 checks that enable_http2 offers HTTP/2, that probes stay
// on HTTP/1.1 without it, and that every probe opens its own connection
// either way.
func TestProbeHTTP2(t *testing.T) {
	protos := make(chan string, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos <- r.Proto
	}))
	var conns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			conns.Add(1)
		}
	}
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	prober := NewHTTPProber(HTTPProberOptions{TLSConfig: &tls.Config{RootCAs: roots}})

	tests := []struct {
		name     string
		settings string
		proto    string
	}{
		{name: "off by default", settings: "", proto: "HTTP/1.1"},
		{name: "enable_http2 false", settings: "enable_http2: false", proto: "HTTP/1.1"},
		{name: "enable_http2 true", settings: "enable_http2: true", proto: "HTTP/2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := loadTarget(t, "url: "+srv.URL+"/\n"+tt.settings)
			before := conns.Load()

			for range 2 {
				res := prober.Probe(context.Background(), target)

				checkResult(t, res, true, ReasonNone, "")
				if got := <-protos; got != tt.proto {
					t.Errorf("server saw %s, want %s", got, tt.proto)
				}
			}
			if got := conns.Load() - before; got != 2 {
				t.Errorf("2 probes opened %d connections, want 2", got)
			}
		})
	}
}

// TestProbeClientCertificateRequestedThenReset checks a server that requests
// a client certificate, receives none and resets the connection, so its
// alert never arrives. The reason must still be tls, and the message must
// name the missing certificate.
func TestProbeClientCertificateRequestedThenReset(t *testing.T) {
	ca := newTestCA(t)
	caFile := writeTempFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serverConfig := &tls.Config{
		Certificates: []tls.Certificate{issueFor(t, ca, x509.ExtKeyUsageServerAuth, "localhost")},
		ClientAuth:   tls.RequestClientCert,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		conn := tls.Server(raw, serverConfig)
		if err := conn.Handshake(); err == nil {
			// Read the request, then reset: SO_LINGER 0 makes Close send
			// RST instead of FIN.
			conn.Read(make([]byte, 4096))
		}
		raw.(*net.TCPConn).SetLinger(0)
		raw.Close()
	}()
	t.Cleanup(func() { ln.Close(); <-done })

	prober := NewHTTPProber(HTTPProberOptions{Resolver: startDNS(t, map[string][]string{"localhost": {"127.0.0.1"}})})
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	res := prober.Probe(context.Background(),
		loadTarget(t, "url: https://localhost:"+port+"/\ntimeout: 5s\ntls_config:\n  ca_file: "+caFile))
	if res.Success || res.Reason != ReasonTLS {
		t.Errorf("Success = %v, Reason = %q, want false and %q", res.Success, res.Reason, ReasonTLS)
	}
	// The client's port varies; the rest of the message is exact.
	want := regexp.MustCompile(`^waiting for the response headers: read tcp 127\.0\.0\.1:\d+->127\.0\.0\.1:` + port +
		`: read: connection reset by peer: the server asked for a client certificate, and tls_config has none$`)
	if !want.MatchString(res.Message) {
		t.Errorf("Message = %q, want a match of %s", res.Message, want)
	}
}
