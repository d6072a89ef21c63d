package collector

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// pathLog records the paths a test server was asked for.
type pathLog struct {
	mu    sync.Mutex
	paths []string
}

func (l *pathLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.paths = append(l.paths, r.URL.Path)
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// take returns the paths logged so far and clears the log.
func (l *pathLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	paths := l.paths
	l.paths = nil
	return paths
}

// TestProbeRedirects checks which redirects are followed, how they are
// counted, and which server saw which path. TestProbeRedirectMethod covers
// the method and body of each hop.
func TestProbeRedirects(t *testing.T) {
	var otherLog pathLog
	other := httptest.NewServer(otherLog.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	defer other.Close()
	_, otherPort, _ := net.SplitHostPort(other.Listener.Addr().String())

	var mainLog pathLog
	mux := http.NewServeMux()
	redirect := func(from, to string, code int) {
		mux.HandleFunc(from, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", to)
			w.WriteHeader(code)
		})
	}
	redirect("/old", "/new", http.StatusMovedPermanently)
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) {})
	redirect("/relative/old", "new", http.StatusFound)
	mux.HandleFunc("/relative/new", func(w http.ResponseWriter, r *http.Request) {})
	redirect("/a", "/b", http.StatusFound)
	redirect("/b", "/c", http.StatusTemporaryRedirect)
	redirect("/c", "/d", http.StatusPermanentRedirect)
	mux.HandleFunc("/d", func(w http.ResponseWriter, r *http.Request) {})
	redirect("/ftp", "ftp://api.test/file", http.StatusFound)
	mux.HandleFunc("/stalled-redirect", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/new")
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusFound)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	// other.test resolves only through the test resolver, so reaching it
	// shows that the resolver serves every hop.
	redirect("/away", "http://other.test:"+otherPort+"/landing", http.StatusSeeOther)
	srv := httptest.NewServer(mainLog.wrap(mux))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	redirect("/absolute", "http://api.test:"+port+"/new", http.StatusFound)

	resolver := startDNS(t, map[string][]string{
		"api.test":   {"127.0.0.1"},
		"other.test": {"127.0.0.1"},
	})
	prober := NewHTTPProber(HTTPProberOptions{Resolver: resolver})
	base := "url: http://api.test:" + port

	tests := []struct {
		name            string
		endpoint        string
		reason          Reason
		message         string
		statusCode      int
		firstStatusCode int
		redirects       int
		paths           []string
		otherPaths      []string
	}{
		{
			name:            "301 checked without following",
			endpoint:        base + "/old\nfollow_redirects: false\nexpect:\n  status: 301",
			statusCode:      301,
			firstStatusCode: 301,
			paths:           []string{"/old"},
		},
		{
			name:            "301 unfollowed fails 2xx",
			endpoint:        base + "/old\nfollow_redirects: false",
			reason:          ReasonStatus,
			message:         "status 301, expected 2xx",
			statusCode:      301,
			firstStatusCode: 301,
			paths:           []string{"/old"},
		},
		{
			name:            "301 followed to 200",
			endpoint:        base + "/old\nexpect:\n  status: 200",
			statusCode:      200,
			firstStatusCode: 301,
			redirects:       1,
			paths:           []string{"/old", "/new"},
		},
		{
			name:            "relative Location",
			endpoint:        base + "/relative/old",
			statusCode:      200,
			firstStatusCode: 302,
			redirects:       1,
			paths:           []string{"/relative/old", "/relative/new"},
		},
		{
			name:            "absolute Location",
			endpoint:        base + "/absolute",
			statusCode:      200,
			firstStatusCode: 302,
			redirects:       1,
			paths:           []string{"/absolute", "/new"},
		},
		{
			name:            "other host and port",
			endpoint:        base + "/away",
			statusCode:      200,
			firstStatusCode: 303,
			redirects:       1,
			paths:           []string{"/away"},
			otherPaths:      []string{"/landing"},
		},
		{
			name:            "3 hops within max_redirects 3",
			endpoint:        base + "/a\nmax_redirects: 3",
			statusCode:      200,
			firstStatusCode: 302,
			redirects:       3,
			paths:           []string{"/a", "/b", "/c", "/d"},
		},
		{
			name:            "3 hops over max_redirects 2",
			endpoint:        base + "/a\nmax_redirects: 2",
			reason:          ReasonRedirectLimit,
			message:         "stopped after 2 redirects (max_redirects)",
			statusCode:      308,
			firstStatusCode: 302,
			redirects:       2,
			paths:           []string{"/a", "/b", "/c"},
		},
		{
			name:            "unsupported Location scheme",
			endpoint:        base + "/ftp",
			reason:          ReasonHTTP,
			message:         `starting the request: unsupported protocol scheme "ftp"`,
			statusCode:      302,
			firstStatusCode: 302,
			redirects:       1,
			paths:           []string{"/ftp"},
		},
		{
			name:            "stalled redirect body times out",
			endpoint:        base + "/stalled-redirect\ntimeout: 200ms",
			reason:          ReasonTimeout,
			message:         "timed out after 200ms while reading the body",
			statusCode:      302,
			firstStatusCode: 302,
			paths:           []string{"/stalled-redirect"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := prober.Probe(context.Background(), loadTarget(t, tt.endpoint))

			checkResult(t, res, tt.reason == ReasonNone, tt.reason, tt.message)
			if res.StatusCode != tt.statusCode {
				t.Errorf("StatusCode = %d, want %d", res.StatusCode, tt.statusCode)
			}
			if res.FirstStatusCode != tt.firstStatusCode {
				t.Errorf("FirstStatusCode = %d, want %d", res.FirstStatusCode, tt.firstStatusCode)
			}
			if res.Redirects != tt.redirects {
				t.Errorf("Redirects = %d, want %d", res.Redirects, tt.redirects)
			}
			if got := mainLog.take(); !slices.Equal(got, tt.paths) {
				t.Errorf("server saw %s, want %s", strings.Join(got, " "), strings.Join(tt.paths, " "))
			}
			if got := otherLog.take(); !slices.Equal(got, tt.otherPaths) {
				t.Errorf("other server saw %s, want %s", strings.Join(got, " "), strings.Join(tt.otherPaths, " "))
			}
		})
	}
}
