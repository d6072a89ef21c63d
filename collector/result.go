package collector

import (
	"time"
	"unicode/utf8"
)

// Reason is why a probe failed or found the endpoint degraded. The set is
// small and fixed so that it can be a metric label.
type Reason uint8

// Failure reasons. ReasonNone marks a successful probe.
const (
	ReasonNone Reason = iota
	// ReasonTimeout: the whole exchange did not finish within the timeout.
	ReasonTimeout
	// ReasonDNS: the host name did not resolve.
	ReasonDNS
	// ReasonConnect: no TCP connection could be opened (refused, unreachable).
	ReasonConnect
	// ReasonTLS: the TLS handshake or certificate verification failed.
	ReasonTLS
	// ReasonHTTP: the server broke the HTTP protocol or closed the connection.
	ReasonHTTP
	// ReasonStatus: the status code is not one of the expected ones.
	ReasonStatus
	// ReasonBodyTooLarge: the body exceeded body_size_limit and the endpoint
	// asked for that to fail.
	ReasonBodyTooLarge
	// ReasonRedirectLimit: more redirects than max_redirects.
	ReasonRedirectLimit
	// ReasonBody: a body_contains, body_not_contains, body_regex or
	// body_not_regex expectation failed, or a TCP expect did not match.
	ReasonBody
	// ReasonJSON: a JSON assertion failed or the body is not JSON.
	ReasonJSON
	// ReasonHeader: an expected response header is missing or does not
	// match.
	ReasonHeader
	// ReasonSlow: the probe took longer than max_duration; the endpoint is
	// degraded, not down.
	ReasonSlow
	// ReasonCertExpiry: a certificate of the verified chain expires within
	// tls_cert_min_days; the endpoint is degraded, not down.
	ReasonCertExpiry
	numReasons
)

var reasonNames = [numReasons]string{
	ReasonNone:          "",
	ReasonTimeout:       "timeout",
	ReasonDNS:           "dns",
	ReasonConnect:       "connect",
	ReasonTLS:           "tls",
	ReasonHTTP:          "http",
	ReasonStatus:        "status",
	ReasonBodyTooLarge:  "body_too_large",
	ReasonRedirectLimit: "redirect_limit",
	ReasonBody:          "body",
	ReasonJSON:          "json",
	ReasonHeader:        "header",
	ReasonSlow:          "slow",
	ReasonCertExpiry:    "cert_expiry",
}

func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// MarshalText writes the reason's name.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads a reason's name; an unknown name reads as ReasonHTTP
// so that a state file from a newer version still loads.
func (r *Reason) UnmarshalText(b []byte) error {
	v, ok := ParseReason(string(b))
	if !ok {
		v = ReasonHTTP
	}
	*r = v
	return nil
}

// ParseReason returns the Reason named s, or false.
func ParseReason(s string) (Reason, bool) {
	for i, name := range reasonNames {
		if name == s {
			return Reason(i), true
		}
	}
	return ReasonNone, false
}

// Phase is a part of an HTTP exchange whose duration is measured.
type Phase uint8

// Phases of an HTTP probe, in order. Over all redirect hops they add up to
// the probe's total duration, less a few microseconds of bookkeeping.
const (
	// PhaseResolve is the DNS lookup.
	PhaseResolve Phase = iota
	// PhaseConnect is the TCP connection set-up.
	PhaseConnect
	// PhaseTLS is the TLS handshake.
	PhaseTLS
	// PhaseProcessing runs from the connection being ready to the first
	// response byte: sending the request and the server's work.
	PhaseProcessing
	// PhaseTransfer runs from the first response byte to the last body byte
	// read.
	PhaseTransfer
	NumPhases
)

var phaseNames = [NumPhases]string{"resolve", "connect", "tls", "processing", "transfer"}

func (p Phase) String() string { return phaseNames[p] }

// Phases holds the time spent in each phase, summed over redirect hops.
type Phases [NumPhases]time.Duration

// Result is the outcome of one probe.
type Result struct {
	// Start is when the probe began and Duration how long it took, from the
	// start of the DNS lookup to the last body byte of the final response,
	// including every redirect hop. A probe that timed out reports the time
	// until it was abandoned.
	Start    time.Time
	Duration time.Duration
	// Success reports that the endpoint answered as expected. Degraded adds
	// that it answered slowly or with a certificate close to expiry; Reason
	// and Message then say which.
	Success  bool
	Degraded bool
	Reason   Reason
	// Message explains a failure in words, in at most maxMessageLen bytes.
	// It never contains the URL, which may carry credentials.
	Message string
	// StatusCode is the status of the final response, or 0 if none arrived.
	StatusCode int
	// FirstStatusCode is the status of the first response, which differs
	// from StatusCode when redirects were followed.
	FirstStatusCode int
	Redirects       int
	// BodySize counts the body bytes read from the final response, after
	// decompression. BodyTruncated reports that the body went on past
	// body_size_limit and was not read to its end.
	BodySize      int64
	BodyTruncated bool
	// BodyEncodedSize counts the body bytes received from the final
	// response, before a gzip or deflate Content-Encoding is decoded. It
	// equals BodySize for a body without one.
	BodyEncodedSize int64
	// IPVersion is 4 or 6 for the address of the final connection, or 0.
	IPVersion int
	Phases    Phases
	// Retries counts the attempts made after the first one failed.
	Retries int
	// TLSCertExpiry is the earliest NotAfter among the certificates of the
	// verified chain, or of the served chain when verification is off; zero
	// without TLS. TLSCertSubject names that certificate.
	TLSCertExpiry  time.Time
	TLSCertSubject string
}

// maxMessageLen caps Result.Message. Some errors quote what the server sent,
// such as a malformed status line of up to 1 MiB, and the message is stored
// in history, persisted and logged.
const maxMessageLen = 256

// fail records a failure with reason and msg, cutting msg to maxMessageLen
// bytes on a UTF-8 boundary.
func (r *Result) fail(reason Reason, msg string) {
	r.Reason, r.Message = reason, capMessage(msg)
}

// degrade marks a successful probe degraded with reason and msg, unless it
// already failed or is already degraded. Success is left as it is.
func (r *Result) degrade(reason Reason, msg string) {
	if r.Reason != ReasonNone {
		return
	}
	r.Degraded = true
	r.Reason, r.Message = reason, capMessage(msg)
}

func capMessage(msg string) string {
	if len(msg) > maxMessageLen {
		cut := maxMessageLen - len("...")
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "..."
	}
	return msg
}
