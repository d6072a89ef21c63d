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
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// certDay is a day, the unit of certificate lifetimes.
const certDay = 24 * time.Hour

// testCert is a certificate of a test PKI with its key.
type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// certSpec describes a certificate to issue.
type certSpec struct {
	name string // subject common name, and DNS name of a leaf
	// notAfter is how long from now the certificate stays valid, negative
	// for one that expired. It became valid a year before it expires, or an
	// hour ago if that is earlier.
	notAfter time.Duration
	ca       bool
	// key reuses the key of another certificate, to cross-sign it.
	key *ecdsa.PrivateKey
}

// issueCert creates a certificate signed by parent, or self-signed when
// parent is nil.
func issueCert(t *testing.T, spec certSpec, parent *testCert) *testCert {
	t.Helper()
	key := spec.key
	if key == nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}

	notAfter := time.Now().Add(spec.notAfter)
	notBefore := notAfter.Add(-365 * certDay)
	if hourAgo := time.Now().Add(-time.Hour); hourAgo.Before(notBefore) {
		notBefore = hourAgo
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.name, Organization: []string{"apiwatch test"}},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	if spec.ca {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else {
		tmpl.DNSNames = []string{spec.name}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}

	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{cert: cert, key: key}
}

// serverCert returns the TLS certificate of leaf, sending chain after it.
func serverCert(leaf *testCert, chain ...*testCert) tls.Certificate {
	c := tls.Certificate{Certificate: [][]byte{leaf.cert.Raw}, PrivateKey: leaf.key, Leaf: leaf.cert}
	for _, extra := range chain {
		c.Certificate = append(c.Certificate, extra.cert.Raw)
	}
	return c
}

// writeRootPEM writes root as PEM to a temporary file for tls_config.ca_file.
func writeRootPEM(t *testing.T, root *testCert) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "root.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.cert.Raw})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startNamedTLSServer serves "ok" over TLS with cert and returns its port.
func startNamedTLSServer(t *testing.T, cert tls.Certificate, clientAuth tls.ClientAuthType) string {
	t.Helper()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	base := startTLSServer(t, &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: clientAuth}, ok)
	_, port, _ := strings.Cut(strings.TrimPrefix(base, "https://"), ":")
	return port
}

// chainPKI is a private PKI with a trusted root R, and two servers:
//   - S1 (one.test) sends its leaf (300 days), intermediate I issued by R
//     (200 days) and X, which is I cross-signed by an untrusted old root and
//     expired 100 days ago;
//   - S2 (two.test) sends its leaf (300 days) and intermediate I2 issued by
//     R, valid for 10 days and an hour, so 10 whole days at probe time.
type chainPKI struct {
	root, i, x, i2 *testCert
	caFile         string
	resolver       *net.Resolver
	s1, s2         string // ports
}

func newChainPKI(t *testing.T) *chainPKI {
	t.Helper()
	p := &chainPKI{}
	p.root = issueCert(t, certSpec{name: "apiwatch test root R", notAfter: 3650 * certDay, ca: true}, nil)
	oldRoot := issueCert(t, certSpec{name: "apiwatch test old root", notAfter: 30 * certDay, ca: true}, nil)
	p.i = issueCert(t, certSpec{name: "apiwatch test intermediate I", notAfter: 200 * certDay, ca: true}, p.root)
	p.x = issueCert(t, certSpec{name: "apiwatch test intermediate I", notAfter: -100 * certDay, ca: true, key: p.i.key}, oldRoot)
	p.i2 = issueCert(t, certSpec{name: "apiwatch test intermediate I2", notAfter: 10*certDay + time.Hour, ca: true}, p.root)
	leaf1 := issueCert(t, certSpec{name: "one.test", notAfter: 300 * certDay}, p.i)
	leaf2 := issueCert(t, certSpec{name: "two.test", notAfter: 300 * certDay}, p.i2)

	p.caFile = writeRootPEM(t, p.root)
	p.s1 = startNamedTLSServer(t, serverCert(leaf1, p.i, p.x), tls.NoClientCert)
	p.s2 = startNamedTLSServer(t, serverCert(leaf2, p.i2), tls.NoClientCert)
	p.resolver = startDNS(t, map[string][]string{"one.test": {"127.0.0.1"}, "two.test": {"127.0.0.1"}})
	return p
}

// TestProbeCertExpiryFromVerifiedChain probes S1 and S2 of chainPKI with
// tls_cert_min_days: 30, trusting R through tls_config.ca_file, and checks
// the result, the state and the metrics.
func TestProbeCertExpiryFromVerifiedChain(t *testing.T) {
	p := newChainPKI(t)
	cfg := loadYAMLConfig(t, fmt.Sprintf(`
companies:
  - name: acme
    tls_config:
      ca_file: %s
    endpoints:
      - name: one
        url: https://one.test:%s/
        expect: {tls_cert_min_days: 30}
      - name: two
        url: https://two.test:%s/
        expect: {tls_cert_min_days: 30}
`, p.caFile, p.s1, p.s2))
	transitions := make(chan Transition, 2)
	m, reg := newTestManager(t, Options{
		Prober:       NewHTTPProber(HTTPProberOptions{Resolver: p.resolver}),
		OnTransition: func(tr Transition) { transitions <- tr },
	})
	m.ApplyConfig(cfg)
	got := map[string]Transition{}
	for _, name := range []string{"one", "two"} {
		m.probe(context.Background(), m.endpoints[Key{"acme", name}], time.Now())
		select {
		case tr := <-transitions:
			got[name] = tr
		default:
			t.Fatalf("acme/%s: the first probe caused no transition", name)
		}
	}

	one := got["one"]
	if one.To != StateUp {
		t.Errorf("acme/one: state %s, want up", one.To)
	}
	checkResult(t, one.Result, true, ReasonNone, "")
	if one.Result.Degraded {
		t.Errorf("acme/one: Degraded is set")
	}
	if !one.Result.TLSCertExpiry.Equal(p.i.cert.NotAfter) {
		t.Errorf("acme/one: TLSCertExpiry = %v, want I's %v, not X's %v",
			one.Result.TLSCertExpiry, p.i.cert.NotAfter, p.x.cert.NotAfter)
	}
	if want := "CN=apiwatch test intermediate I,O=apiwatch test"; one.Result.TLSCertSubject != want {
		t.Errorf("acme/one: TLSCertSubject = %q, want %q", one.Result.TLSCertSubject, want)
	}

	two := got["two"]
	if two.To != StateDegraded {
		t.Errorf("acme/two: state %s, want degraded", two.To)
	}
	wantMessage := fmt.Sprintf(`certificate "CN=apiwatch test intermediate I2,O=apiwatch test" expires in 10 days (%s), `+
		"expected at least 30 days (tls_cert_min_days)", p.i2.cert.NotAfter.UTC().Format(time.RFC3339))
	checkResult(t, two.Result, true, ReasonCertExpiry, wantMessage)
	if !two.Result.Degraded {
		t.Errorf("acme/two: Degraded is not set")
	}
	if !two.Result.TLSCertExpiry.Equal(p.i2.cert.NotAfter) {
		t.Errorf("acme/two: TLSCertExpiry = %v, want I2's %v", two.Result.TLSCertExpiry, p.i2.cert.NotAfter)
	}

	want := fmt.Sprintf(`
# HELP probe_degraded Whether the endpoint is degraded (1), that is up but slow or with a certificate close to expiry, or not (0); absent until the first verdict.
# TYPE probe_degraded gauge
probe_degraded{company="acme",endpoint="one"} 0
probe_degraded{company="acme",endpoint="two"} 1
# HELP probe_success Whether the last probe succeeded (1), also when it found the endpoint degraded.
# TYPE probe_success gauge
probe_success{company="acme",endpoint="one"} 1
probe_success{company="acme",endpoint="two"} 1
# HELP probe_tls_cert_expiry_timestamp_seconds Expiry of the certificate that expires first in the last probe's verified TLS chain, or in the chain the server sent when verification is off, in seconds since the Unix epoch.
# TYPE probe_tls_cert_expiry_timestamp_seconds gauge
probe_tls_cert_expiry_timestamp_seconds{company="acme",endpoint="one"} %d
probe_tls_cert_expiry_timestamp_seconds{company="acme",endpoint="two"} %d
# HELP probe_up Whether the endpoint is up (1) or down (0) after thresholds; absent until the first verdict.
# TYPE probe_up gauge
probe_up{company="acme",endpoint="one"} 1
probe_up{company="acme",endpoint="two"} 1
`, p.i.cert.NotAfter.Unix(), p.i2.cert.NotAfter.Unix())
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"probe_up", "probe_degraded", "probe_success", "probe_tls_cert_expiry_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}

// TestProbeCertExpiryWithoutVerification checks that with
// insecure_skip_verify every certificate the server sends counts, so S1's
// expired cross-signed X is reported and degrades the endpoint.
func TestProbeCertExpiryWithoutVerification(t *testing.T) {
	p := newChainPKI(t)
	prober := NewHTTPProber(HTTPProberOptions{Resolver: p.resolver})
	target := loadTarget(t, fmt.Sprintf(`
url: https://one.test:%s/
tls_config: {insecure_skip_verify: true}
expect: {tls_cert_min_days: 30}`, p.s1))

	res := prober.Probe(context.Background(), target)

	want := fmt.Sprintf(`certificate "CN=apiwatch test intermediate I,O=apiwatch test" expired 100 days ago (%s), `+
		"expected at least 30 days (tls_cert_min_days)", p.x.cert.NotAfter.UTC().Format(time.RFC3339))
	checkResult(t, res, true, ReasonCertExpiry, want)
	if !res.TLSCertExpiry.Equal(p.x.cert.NotAfter) {
		t.Errorf("TLSCertExpiry = %v, want X's %v", res.TLSCertExpiry, p.x.cert.NotAfter)
	}
}

// TestProbeCertFailuresAreTLS checks that a certificate that fails
// verification fails the probe with reason tls before any expiry check:
// the endpoint is down, not degraded, and no expiry is recorded.
func TestProbeCertFailuresAreTLS(t *testing.T) {
	root := issueCert(t, certSpec{name: "apiwatch test root R", notAfter: 3650 * certDay, ca: true}, nil)
	unknownRoot := issueCert(t, certSpec{name: "apiwatch test unknown root", notAfter: 3650 * certDay, ca: true}, nil)
	valid := issueCert(t, certSpec{name: "one.test", notAfter: 300 * certDay}, root)
	expired := issueCert(t, certSpec{name: "one.test", notAfter: -certDay}, root)
	untrusted := issueCert(t, certSpec{name: "one.test", notAfter: 300 * certDay}, unknownRoot)
	ports := map[string]string{
		"expired":     startNamedTLSServer(t, serverCert(expired), tls.NoClientCert),
		"untrusted":   startNamedTLSServer(t, serverCert(untrusted), tls.NoClientCert),
		"valid":       startNamedTLSServer(t, serverCert(valid), tls.NoClientCert),
		"client cert": startNamedTLSServer(t, serverCert(valid), tls.RequireAnyClientCert),
	}
	resolver := startDNS(t, map[string][]string{"one.test": {"127.0.0.1"}, "wrong.test": {"127.0.0.1"}})
	prober := NewHTTPProber(HTTPProberOptions{Resolver: resolver})
	caFile := writeRootPEM(t, root)

	tests := []struct {
		name    string
		host    string
		server  string
		message *regexp.Regexp
	}{
		{
			name:   "expired leaf",
			host:   "one.test",
			server: "expired",
			message: regexp.MustCompile(`^TLS handshake: tls: failed to verify certificate: x509: certificate has expired or is not yet valid: ` +
				`current time \S+ is after ` + regexp.QuoteMeta(expired.cert.NotAfter.UTC().Format(time.RFC3339)) + `$`),
		},
		{
			name:    "wrong host",
			host:    "wrong.test",
			server:  "valid",
			message: regexp.MustCompile(`^TLS handshake: tls: failed to verify certificate: x509: certificate is valid for one.test, not wrong.test$`),
		},
		{
			name:    "unknown CA",
			host:    "one.test",
			server:  "untrusted",
			message: regexp.MustCompile(`^TLS handshake: tls: failed to verify certificate: x509: certificate signed by unknown authority`),
		},
		{
			name:    "client certificate required",
			host:    "one.test",
			server:  "client cert",
			message: regexp.MustCompile(`^waiting for the response headers: remote error: tls: certificate required$`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := loadTarget(t, fmt.Sprintf(`
url: https://%s:%s/
tls_config: {ca_file: %s}
expect: {tls_cert_min_days: 30}`, tt.host, ports[tt.server], caFile))
			res := prober.Probe(context.Background(), target)
			if res.Success || res.Degraded || res.Reason != ReasonTLS {
				t.Errorf("Success %t, Degraded %t, Reason %q, want a failure with reason tls", res.Success, res.Degraded, res.Reason)
			}
			if !tt.message.MatchString(res.Message) {
				t.Errorf("Message = %q, want to match %s", res.Message, tt.message)
			}
			if !res.TLSCertExpiry.IsZero() || res.TLSCertSubject != "" {
				t.Errorf("TLSCertExpiry, TLSCertSubject = %v, %q, want none after a failed handshake", res.TLSCertExpiry, res.TLSCertSubject)
			}
		})
	}
}

// fakeCert returns an unsigned certificate with a subject and an expiry,
// enough for recordTLS.
func fakeCert(name string, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{Subject: pkix.Name{CommonName: name}, NotAfter: notAfter, SerialNumber: big.NewInt(7)}
}

func TestRecordTLS(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	leaf := fakeCert("leaf", now.Add(300*certDay))
	inter := fakeCert("intermediate", now.Add(200*certDay))
	shortInter := fakeCert("short intermediate", now.Add(50*certDay))
	root := fakeCert("root", now.Add(3650*certDay))
	shortRoot := fakeCert("short root", now.Add(20*certDay))
	expired := fakeCert("expired cross-sign", now.Add(-100*certDay))
	twin := fakeCert("twin", leaf.NotAfter)
	noSubject := &x509.Certificate{DNSNames: []string{"api.example.com"}, NotAfter: now.Add(5 * certDay), SerialNumber: big.NewInt(7)}
	noName := &x509.Certificate{NotAfter: now.Add(5 * certDay), SerialNumber: big.NewInt(42)}

	tests := []struct {
		name    string
		state   *tls.ConnectionState
		expiry  time.Time
		subject string
	}{
		{name: "no TLS", state: nil},
		{
			name: "intermediate expiring first",
			state: &tls.ConnectionState{
				PeerCertificates: []*x509.Certificate{leaf, inter, expired},
				VerifiedChains:   [][]*x509.Certificate{{leaf, inter, root}},
			},
			expiry: inter.NotAfter, subject: "CN=intermediate",
		},
		{
			name: "root in the verified chain counts",
			state: &tls.ConnectionState{
				PeerCertificates: []*x509.Certificate{leaf, inter},
				VerifiedChains:   [][]*x509.Certificate{{leaf, inter, shortRoot}},
			},
			expiry: shortRoot.NotAfter, subject: "CN=short root",
		},
		{
			name: "best of several verified chains",
			state: &tls.ConnectionState{
				PeerCertificates: []*x509.Certificate{leaf, shortInter, inter},
				VerifiedChains: [][]*x509.Certificate{
					{leaf, shortInter, root},
					{leaf, inter, root},
					{leaf, inter, shortRoot},
				},
			},
			expiry: inter.NotAfter, subject: "CN=intermediate",
		},
		{
			name:   "every sent certificate without verification",
			state:  &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf, inter, expired}},
			expiry: expired.NotAfter, subject: "CN=expired cross-sign",
		},
		{
			name:   "first of equal expiries",
			state:  &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf, twin}},
			expiry: leaf.NotAfter, subject: "CN=leaf",
		},
		{
			name:   "empty subject named by DNS name",
			state:  &tls.ConnectionState{PeerCertificates: []*x509.Certificate{noSubject}},
			expiry: noSubject.NotAfter, subject: "DNS:api.example.com",
		},
		{
			name:   "no name at all named by serial",
			state:  &tls.ConnectionState{PeerCertificates: []*x509.Certificate{noName}},
			expiry: noName.NotAfter, subject: "serial 42",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res Result
			recordTLS(tt.state, &res)
			if !res.TLSCertExpiry.Equal(tt.expiry) {
				t.Errorf("TLSCertExpiry = %v, want %v", res.TLSCertExpiry, tt.expiry)
			}
			if res.TLSCertSubject != tt.subject {
				t.Errorf("TLSCertSubject = %q, want %q", res.TLSCertSubject, tt.subject)
			}
		})
	}
}
