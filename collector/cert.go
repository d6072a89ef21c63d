package collector

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"
)

// recordTLS notes in res the certificate of a TLS connection that expires
// first: in the verified chain, or when several chains verify, in the chain
// whose first expiry is latest. A certificate the server sent that no
// verified chain uses, such as an old cross-signed intermediate, does not
// count. Without verification (insecure_skip_verify) every certificate the
// server sent counts. state is nil for a connection without TLS.
func recordTLS(state *tls.ConnectionState, res *Result) {
	if state == nil {
		return
	}
	cert := firstToExpire(state.PeerCertificates)
	if len(state.VerifiedChains) > 0 {
		cert = nil
		for _, chain := range state.VerifiedChains {
			c := firstToExpire(chain)
			if cert == nil || c != nil && c.NotAfter.After(cert.NotAfter) {
				cert = c
			}
		}
	}
	if cert == nil {
		return
	}
	res.TLSCertExpiry = cert.NotAfter
	res.TLSCertSubject = certName(cert)
}

// firstToExpire returns the certificate with the earliest NotAfter, the
// first of them on a tie, or nil for an empty chain.
func firstToExpire(chain []*x509.Certificate) *x509.Certificate {
	var first *x509.Certificate
	for _, c := range chain {
		if first == nil || c.NotAfter.Before(first.NotAfter) {
			first = c
		}
	}
	return first
}

// certName names a certificate by its subject, or for a certificate with an
// empty subject, as some public CAs now issue, by its first DNS name.
func certName(c *x509.Certificate) string {
	if s := c.Subject.String(); s != "" {
		return s
	}
	if len(c.DNSNames) > 0 {
		return "DNS:" + c.DNSNames[0]
	}
	return "serial " + c.SerialNumber.String()
}

// expiresIn describes the time left until a certificate expires, in whole
// days, rounded down so that it never claims more time than is left.
func expiresIn(left time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case left <= -day:
		return fmt.Sprintf("expired %s ago", plural(int(-left/day), "day"))
	case left < 0:
		return "expired less than a day ago"
	case left < day:
		return "expires in less than a day"
	}
	return "expires in " + plural(int(left/day), "day")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
