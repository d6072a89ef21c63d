package collector

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestResultFailCapsMessage(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want string
	}{
		{name: "short kept", msg: "status 500, expected 2xx", want: "status 500, expected 2xx"},
		{name: "at cap kept", msg: strings.Repeat("a", maxMessageLen), want: strings.Repeat("a", maxMessageLen)},
		{
			name: "long cut with ellipsis",
			msg:  strings.Repeat("a", maxMessageLen+1),
			want: strings.Repeat("a", maxMessageLen-3) + "...",
		},
		{
			// "é" is 2 bytes, so byte maxMessageLen-3 falls inside one.
			name: "cut on rune boundary",
			msg:  "b" + strings.Repeat("é", maxMessageLen),
			want: "b" + strings.Repeat("é", (maxMessageLen-4)/2) + "...",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Result
			r.fail(ReasonHTTP, tt.msg)
			if r.Message != tt.want {
				t.Errorf("Message = %q, want %q", r.Message, tt.want)
			}
			if len(r.Message) > maxMessageLen || !utf8.ValidString(r.Message) {
				t.Errorf("Message is %d bytes, valid UTF-8 %v: want at most %d bytes of valid UTF-8",
					len(r.Message), utf8.ValidString(r.Message), maxMessageLen)
			}
			if r.Reason != ReasonHTTP {
				t.Errorf("Reason = %q, want http", r.Reason)
			}
		})
	}
}

func TestNewHTTPProberCopiesTLSConfig(t *testing.T) {
	cache := tls.NewLRUClientSessionCache(1)
	cfg := &tls.Config{ServerName: "example.test", ClientSessionCache: cache}

	p := NewHTTPProber(HTTPProberOptions{TLSConfig: cfg})

	got := p.transport.baseTLS
	if got == cfg {
		t.Fatal("transport uses the caller's *tls.Config, want a clone")
	}
	if got.ServerName != "example.test" {
		t.Errorf("cloned ServerName = %q, want %q", got.ServerName, "example.test")
	}
	if got.ClientSessionCache != nil {
		t.Error("cloned config keeps ClientSessionCache, want nil so that every probe runs a full handshake")
	}
	if cfg.ClientSessionCache != cache {
		t.Error("caller's ClientSessionCache was changed")
	}
}

// BenchmarkProbe measures one successful probe of a loopback server,
// including the server's side, which runs in the same process.
func BenchmarkProbe(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	}))
	defer srv.Close()
	target := loadTarget(b, "url: "+srv.URL+"/health?token=x")
	prober := NewHTTPProber(HTTPProberOptions{})
	b.ReportAllocs()

	for b.Loop() {
		if res := prober.Probe(context.Background(), target); !res.Success {
			b.Fatalf("probe failed: %s: %s", res.Reason, res.Message)
		}
	}
}
