package collector

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/apiwatch/apiwatch/config"
)

// loadTarget writes a configuration with one endpoint, "acme/api", whose
// keys are the given YAML lines (top-level keys unindented), and loads it
// through config.LoadFile, so that the probe runs with the same defaults and
// checks as in production.
func loadTarget(t testing.TB, endpoint string) *Target {
	t.Helper()
	var b strings.Builder
	b.WriteString("companies:\n  - name: acme\n    endpoints:\n      - name: api\n")
	for line := range strings.Lines(strings.TrimSpace(endpoint)) {
		b.WriteString("        " + line)
	}
	b.WriteString("\n")
	path := filepath.Join(t.TempDir(), "apiwatch.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadFile(path)
	if err != nil {
		t.Fatalf("loading endpoint config:\n%s\nerror: %v", b.String(), err)
	}
	c := cfg.Companies[0]
	e := c.Endpoints[0]
	return &Target{Key: Key{Company: c.Name, Endpoint: e.Name}, Company: c, Endpoint: e}
}

// unusedPort returns a loopback address on which nothing listens, so that a
// dial is refused. The port is free when returned and could in principle be
// taken by another process before use.
func unusedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startDNS runs a DNS server on 127.0.0.1 over UDP and returns a resolver
// that sends every query to it. The server answers A and AAAA queries for
// the names in hosts (without the trailing dot) and NXDOMAIN for every other
// name. A name mapped to an empty list is never answered, so looking it up
// times out.
func startDNS(t *testing.T, hosts map[string][]string) *net.Resolver {
	t.Helper()
	table := make(map[string][]netip.Addr, len(hosts))
	for name, addrs := range hosts {
		parsed := []netip.Addr{}
		for _, a := range addrs {
			parsed = append(parsed, netip.MustParseAddr(a))
		}
		table[name] = parsed
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply, ok := answerDNS(buf[:n], table); ok {
				pc.WriteTo(reply, from)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	server := pc.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", server)
		},
	}
}

// answerDNS builds the reply to one query from table. It returns false for
// a query it drops: malformed, or for a name mapped to no addresses.
func answerDNS(query []byte, table map[string][]netip.Addr) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}

	name := strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))
	addrs, known := table[name]
	if known && len(addrs) == 0 {
		return nil, false
	}

	rcode := dnsmessage.RCodeSuccess
	if !known {
		rcode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{
		ID: h.ID, Response: true, Authoritative: true,
		RecursionDesired: h.RecursionDesired, RecursionAvailable: true, RCode: rcode,
	})
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil, false
	}

	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
	for _, a := range addrs {
		switch {
		case a.Is4() && q.Type == dnsmessage.TypeA:
			err = b.AResource(rh, dnsmessage.AResource{A: a.As4()})
		case a.Is6() && q.Type == dnsmessage.TypeAAAA:
			err = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
		if err != nil {
			return nil, false
		}
	}
	reply, err := b.Finish()
	return reply, err == nil
}

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "apiwatch test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a server certificate for localhost, 127.0.0.1 and ::1,
// valid from notBefore to notAfter.
func (ca *testCA) issue(t *testing.T, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// startTLSServer serves h over TLS with cfg on 127.0.0.1 and returns the
// base URL. Unlike httptest.Server.StartTLS it leaves cfg alone, so
// cfg.GetCertificate is called for every handshake even without SNI.
func startTLSServer(t *testing.T, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(tls.NewListener(ln, cfg))
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return "https://" + ln.Addr().String()
}

// startRawServer accepts TCP connections on 127.0.0.1 and runs handle on
// each in its own goroutine, after reading the request headers, so that a
// test can respond with bytes no HTTP server would send. Cleanup closes the
// listener and every connection and waits for the handlers to return.
func startRawServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		conns  = map[net.Conn]bool{}
		closed bool
		wg     sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			if closed {
				mu.Unlock()
				c.Close()
				return
			}
			conns[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		closed = true
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// pause waits for d, or until the client goes away. It reports whether the
// full time passed.
func pause(r *http.Request, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// eventually polls cond every 10 ms until it holds or timeout passes, for
// conditions that send no signal, such as the kernel releasing sockets. It
// reports whether cond held.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// checkResult compares the fields of got that a table row sets, so that
// each mismatch is its own error.
func checkResult(t *testing.T, got Result, success bool, reason Reason, message string) {
	t.Helper()
	if got.Success != success {
		t.Errorf("Success = %v, want %v (reason %q, message %q)", got.Success, success, got.Reason, got.Message)
	}
	if got.Reason != reason {
		t.Errorf("Reason = %q, want %q", got.Reason, reason)
	}
	if got.Message != message {
		t.Errorf("Message = %.300q, want %.300q", got.Message, message)
	}
}
