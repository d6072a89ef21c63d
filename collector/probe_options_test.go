package collector

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// seenRequest is what a test server received.
type seenRequest struct {
	Server        string
	Method        string
	Path          string
	Host          string
	Body          string
	Authorization string
	Cookie        string
	ContentType   string
	UserAgent     string
	Encoding      string
	Custom        string
}

// requestLog records the requests that test servers receive.
type requestLog struct {
	mu   sync.Mutex
	seen []seenRequest
}

// handler returns a handler that records each request under server's name
// and then calls next, if any.
func (l *requestLog) handler(server string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		l.mu.Lock()
		l.seen = append(l.seen, seenRequest{
			Server:        server,
			Method:        r.Method,
			Path:          r.URL.Path,
			Host:          r.Host,
			Body:          string(body),
			Authorization: r.Header.Get("Authorization"),
			Cookie:        r.Header.Get("Cookie"),
			ContentType:   r.Header.Get("Content-Type"),
			UserAgent:     r.Header.Get("User-Agent"),
			Encoding:      r.Header.Get("Accept-Encoding"),
			Custom:        r.Header.Get("X-Custom"),
		})
		l.mu.Unlock()
		if next != nil {
			next.ServeHTTP(w, r)
		}
	})
}

// take returns the requests recorded so far and clears the log.
func (l *requestLog) take() []seenRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := l.seen
	l.seen = nil
	return seen
}

// writeTempFile writes content to a new file in a temporary directory and
// returns its path.
func writeTempFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestProbeRequestOptions checks the request that method, body, headers,
// basic_auth, bearer_token and URL userinfo produce.
func TestProbeRequestOptions(t *testing.T) {
	var log requestLog
	srv := httptest.NewServer(log.handler("api", nil))
	defer srv.Close()
	host := srv.Listener.Addr().String()
	tokenFile := writeTempFile(t, "token", "file-token\n")
	prober := NewHTTPProber(HTTPProberOptions{UserAgent: "apiwatch/test"})

	defaults := seenRequest{Server: "api", Method: "GET", Path: "/", Host: host, UserAgent: "apiwatch/test", Encoding: "gzip"}
	with := func(change func(*seenRequest)) seenRequest {
		r := defaults
		change(&r)
		return r
	}
	tests := []struct {
		name     string
		endpoint string
		want     seenRequest
	}{
		{name: "defaults", endpoint: "url: " + srv.URL + "/", want: defaults},
		{
			name: "POST with body and headers",
			endpoint: "url: " + srv.URL + "/\nmethod: POST\nbody: '{\"q\":1}'\n" +
				"headers:\n  Content-Type: application/json\n  X-Custom: yes",
			want: with(func(r *seenRequest) {
				r.Method, r.Body, r.ContentType, r.Custom = "POST", `{"q":1}`, "application/json", "yes"
			}),
		},
		{
			name:     "Host header sets the host",
			endpoint: "url: " + srv.URL + "/\nheaders:\n  host: api.internal",
			want:     with(func(r *seenRequest) { r.Host = "api.internal" }),
		},
		{
			name:     "User-Agent header replaces the default",
			endpoint: "url: " + srv.URL + "/\nheaders:\n  User-Agent: probe/2",
			want:     with(func(r *seenRequest) { r.UserAgent = "probe/2" }),
		},
		{
			name:     "Accept-Encoding header replaces gzip",
			endpoint: "url: " + srv.URL + "/\nheaders:\n  Accept-Encoding: identity",
			want:     with(func(r *seenRequest) { r.Encoding = "identity" }),
		},
		{
			name:     "HEAD asks for no encoding",
			endpoint: "url: " + srv.URL + "/\nmethod: HEAD",
			want:     with(func(r *seenRequest) { r.Method, r.Encoding = "HEAD", "" }),
		},
		{
			name:     "basic_auth",
			endpoint: "url: " + srv.URL + "/\nbasic_auth:\n  username: user\n  password: pw",
			want:     with(func(r *seenRequest) { r.Authorization = "Basic dXNlcjpwdw==" }),
		},
		{
			name:     "bearer_token",
			endpoint: "url: " + srv.URL + "/\nbearer_token: tok",
			want:     with(func(r *seenRequest) { r.Authorization = "Bearer tok" }),
		},
		{
			name:     "bearer_token_file",
			endpoint: "url: " + srv.URL + "/\nbearer_token_file: " + tokenFile,
			want:     with(func(r *seenRequest) { r.Authorization = "Bearer file-token" }),
		},
		{
			name:     "bearer_token replaces Authorization header",
			endpoint: "url: " + srv.URL + "/\nbearer_token: tok\nheaders:\n  Authorization: Token old",
			want:     with(func(r *seenRequest) { r.Authorization = "Bearer tok" }),
		},
		{
			name:     "Authorization header without auth settings",
			endpoint: "url: " + srv.URL + "/\nheaders:\n  Authorization: Token abc",
			want:     with(func(r *seenRequest) { r.Authorization = "Token abc" }),
		},
		{
			name:     "URL userinfo",
			endpoint: "url: http://user:pw@" + host + "/",
			want:     with(func(r *seenRequest) { r.Authorization = "Basic dXNlcjpwdw==" }),
		},
		{
			name:     "basic_auth wins over URL userinfo",
			endpoint: "url: http://other:x@" + host + "/\nbasic_auth:\n  username: user\n  password: pw",
			want:     with(func(r *seenRequest) { r.Authorization = "Basic dXNlcjpwdw==" }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := prober.Probe(context.Background(), loadTarget(t, tt.endpoint))

			checkResult(t, res, true, ReasonNone, "")
			seen := log.take()
			if len(seen) != 1 {
				t.Fatalf("server received %d requests, want 1", len(seen))
			}
			if seen[0] != tt.want {
				t.Errorf("server received\n%+v\nwant\n%+v", seen[0], tt.want)
			}
		})
	}
}

// TestProbeRedirectMethod checks that 301, 302 and 303 turn a POST into a
// GET without body, while 307 and 308 resend method and body, and that a
// body once dropped stays dropped.
func TestProbeRedirectMethod(t *testing.T) {
	var log requestLog
	mux := http.NewServeMux()
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {})
	for _, code := range []int{301, 302, 303, 307, 308} {
		mux.HandleFunc("/"+strconv.Itoa(code), func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/to", code)
		})
	}
	mux.HandleFunc("/303-then-307", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/307", http.StatusSeeOther)
	})
	srv := httptest.NewServer(log.handler("api", mux))
	defer srv.Close()
	prober := NewHTTPProber(HTTPProberOptions{})
	const headers = "\nheaders:\n  Content-Type: text/plain\n  X-Custom: kept"

	type sent struct{ Method, Body, ContentType, Custom string }
	kept := sent{"POST", "payload", "text/plain", "kept"}
	dropped := sent{"GET", "", "", "kept"}
	tests := []struct {
		name   string
		method string
		path   string
		// final is what the last request carried.
		final sent
	}{
		{name: "POST 301 becomes GET", method: "POST", path: "/301", final: dropped},
		{name: "POST 302 becomes GET", method: "POST", path: "/302", final: dropped},
		{name: "POST 303 becomes GET", method: "POST", path: "/303", final: dropped},
		{name: "POST 307 kept", method: "POST", path: "/307", final: kept},
		{name: "POST 308 kept", method: "POST", path: "/308", final: kept},
		{name: "PUT 302 becomes GET", method: "PUT", path: "/302", final: dropped},
		{name: "PUT 308 kept", method: "PUT", path: "/308", final: sent{"PUT", "payload", "text/plain", "kept"}},
		{name: "HEAD 301 stays HEAD", method: "HEAD", path: "/301", final: sent{"HEAD", "", "", "kept"}},
		{name: "303 then 307 sends no body", method: "POST", path: "/303-then-307", final: dropped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint := "url: " + srv.URL + tt.path + "\nmethod: " + tt.method + headers
			if tt.method != "HEAD" {
				endpoint += "\nbody: payload"
			}

			res := prober.Probe(context.Background(), loadTarget(t, endpoint))

			checkResult(t, res, true, ReasonNone, "")
			seen := log.take()
			if len(seen) < 2 {
				t.Fatalf("server received %d requests, want a redirect and its target", len(seen))
			}
			if first := seen[0]; first.Method != tt.method {
				t.Errorf("first request method = %s, want %s", first.Method, tt.method)
			}
			last := seen[len(seen)-1]
			got := sent{last.Method, last.Body, last.ContentType, last.Custom}
			if got != tt.final {
				t.Errorf("final request carried %+v, want %+v", got, tt.final)
			}
		})
	}
}

// TestProbeRedirectCredentials checks that credentials go with redirects
// within the first host and its subdomains, but not to another host, and
// not back after they were dropped.
func TestProbeRedirectCredentials(t *testing.T) {
	var log requestLog
	other := httptest.NewServer(log.handler("other", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/back" {
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
		}
	})))
	defer other.Close()
	_, otherPort, _ := net.SplitHostPort(other.Listener.Addr().String())

	mux := http.NewServeMux()
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("loc"), http.StatusFound)
	})
	mux.HandleFunc("/landing", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(log.handler("api", mux))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	resolver := startDNS(t, map[string][]string{
		"api.test":     {"127.0.0.1"},
		"sub.api.test": {"127.0.0.1"},
		"other.test":   {"127.0.0.1"},
	})
	prober := NewHTTPProber(HTTPProberOptions{Resolver: resolver})

	apiURL := "http://api.test:" + port
	otherURL := "http://other.test:" + otherPort
	bearer := "\nbearer_token: tok\nheaders:\n  Cookie: c=1\n  X-Custom: kept"
	type sent struct {
		Server, Host, Authorization, Cookie, Custom string
	}
	tests := []struct {
		name     string
		endpoint string
		// final is what the last request carried.
		final sent
	}{
		{
			name:     "same host keeps credentials",
			endpoint: "url: " + apiURL + "/to?loc=/landing" + bearer,
			final:    sent{"api", "api.test:" + port, "Bearer tok", "c=1", "kept"},
		},
		{
			name:     "subdomain keeps credentials",
			endpoint: "url: " + apiURL + "/to?loc=http://sub.api.test:" + port + "/landing" + bearer,
			final:    sent{"api", "sub.api.test:" + port, "Bearer tok", "c=1", "kept"},
		},
		{
			name:     "other port of same host keeps credentials",
			endpoint: "url: " + apiURL + "/to?loc=http://api.test:" + otherPort + "/landing" + bearer,
			final:    sent{"other", "api.test:" + otherPort, "Bearer tok", "c=1", "kept"},
		},
		{
			name:     "other host drops bearer_token and Cookie",
			endpoint: "url: " + apiURL + "/to?loc=" + otherURL + "/landing" + bearer,
			final:    sent{"other", "other.test:" + otherPort, "", "", "kept"},
		},
		{
			name: "other host drops basic_auth",
			endpoint: "url: " + apiURL + "/to?loc=" + otherURL + "/landing" +
				"\nbasic_auth:\n  username: u\n  password: p",
			final: sent{"other", "other.test:" + otherPort, "", "", ""},
		},
		{
			name:     "other host drops Authorization header",
			endpoint: "url: " + apiURL + "/to?loc=" + otherURL + "/landing\nheaders:\n  Authorization: Token t",
			final:    sent{"other", "other.test:" + otherPort, "", "", ""},
		},
		{
			name:     "back from other host stays without",
			endpoint: "url: " + apiURL + "/to?loc=" + otherURL + "/back%3Fto%3D/landing" + bearer,
			final:    sent{"other", "other.test:" + otherPort, "", "", "kept"},
		},
		{
			name:     "userinfo kept by relative redirect",
			endpoint: "url: http://u:p@api.test:" + port + "/to?loc=/landing",
			final:    sent{"api", "api.test:" + port, "Basic dTpw", "", ""},
		},
		{
			name:     "userinfo not sent to absolute Location",
			endpoint: "url: http://u:p@api.test:" + port + "/to?loc=http://api.test:" + port + "/landing",
			final:    sent{"api", "api.test:" + port, "", "", ""},
		},
		{
			name:     "Host header kept by relative redirect",
			endpoint: "url: " + apiURL + "/to?loc=/landing\nheaders:\n  Host: virtual.test",
			final:    sent{"api", "virtual.test", "", "", ""},
		},
		{
			name:     "Host header dropped by absolute redirect",
			endpoint: "url: " + apiURL + "/to?loc=" + apiURL + "/landing\nheaders:\n  Host: virtual.test",
			final:    sent{"api", "api.test:" + port, "", "", ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := prober.Probe(context.Background(), loadTarget(t, tt.endpoint))

			checkResult(t, res, true, ReasonNone, "")
			seen := log.take()
			if len(seen) < 2 {
				t.Fatalf("servers received %d requests, want at least 2", len(seen))
			}
			last := seen[len(seen)-1]
			got := sent{last.Server, last.Host, last.Authorization, last.Cookie, last.Custom}
			if got != tt.final {
				t.Errorf("final request carried %+v, want %+v", got, tt.final)
			}
		})
	}
}
