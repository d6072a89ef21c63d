package collector

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apiwatch/apiwatch/config"
)

// loadEndpoints loads a configuration with one company, acme, whose
// endpoints are given as YAML list items (each starting with "- ").
func loadEndpoints(t *testing.T, endpoints ...string) *config.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("companies:\n  - name: acme\n    endpoints:\n")
	for _, e := range endpoints {
		for line := range strings.Lines(strings.TrimSpace(e) + "\n") {
			b.WriteString("      " + line)
		}
	}
	path := filepath.Join(t.TempDir(), "apiwatch.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadFile(path)
	if err != nil {
		t.Fatalf("loading:\n%s\nerror: %v", b.String(), err)
	}
	return cfg
}

// transportOf returns the cached transport of the endpoint named name.
func transportOf(t *testing.T, p *HTTPProber, cfg *config.Config, name string) *http.Transport {
	t.Helper()
	for _, e := range cfg.Companies[0].Endpoints {
		if e.Name == name {
			tr, err := p.transport.get(&e.ProbeSettings)
			if err != nil {
				t.Fatalf("transport of %s: %v", name, err)
			}
			return tr
		}
	}
	t.Fatalf("no endpoint %s", name)
	return nil
}

// TestTransportCacheSharing checks that endpoints share a transport exactly
// when the settings that shape it are equal, and that ApplyConfig keeps
// only the settings in use.
func TestTransportCacheSharing(t *testing.T) {
	cfg := loadEndpoints(t,
		"- name: a\n  url: http://a.test/",
		"- name: b\n  url: https://b.test/\n  headers:\n    X-Key: k\n  retries: 1",
		"- name: c\n  url: http://c.test/\n  tls_config:\n    insecure_skip_verify: true",
		"- name: d\n  url: http://d.test/\n  tls_config:\n    insecure_skip_verify: true",
		"- name: e\n  url: http://e.test/\n  enable_http2: true",
		"- name: f\n  url: http://f.test/\n  proxy_url: http://proxy.test:3128",
		"- name: g\n  url: http://g.test/\n  proxy_url: http://user:pw@proxy.test:3128",
		"- name: h\n  url: http://h.test/\n  ip_protocol: ip4",
		"- name: i\n  url: http://i.test/\n  preferred_ip_protocol: ip4",
		"- name: j\n  url: tcp://j.test:22",
	)
	p := NewHTTPProber(HTTPProberOptions{})

	p.ApplyConfig(cfg)

	if got := p.transport.len(); got != 7 {
		t.Errorf("cached %d transports, want 7: a and b, c and d, e, f, g, h, i", got)
	}
	same := [][2]string{{"a", "b"}, {"c", "d"}}
	for _, pair := range same {
		if transportOf(t, p, cfg, pair[0]) != transportOf(t, p, cfg, pair[1]) {
			t.Errorf("endpoints %s and %s use different transports, want one", pair[0], pair[1])
		}
	}
	distinct := []string{"a", "c", "e", "f", "g", "h", "i"}
	seen := map[*http.Transport]string{}
	for _, name := range distinct {
		tr := transportOf(t, p, cfg, name)
		if other, ok := seen[tr]; ok {
			t.Errorf("endpoints %s and %s share a transport, want one each", other, name)
		}
		seen[tr] = name
	}
	if got := p.transport.len(); got != 7 {
		t.Errorf("after lookups cached %d transports, want still 7", got)
	}

	reloaded := loadEndpoints(t, "- name: a\n  url: http://a.test/", "- name: e\n  url: http://e.test/\n  enable_http2: true")
	before := transportOf(t, p, cfg, "a")
	p.ApplyConfig(reloaded)

	if got := p.transport.len(); got != 2 {
		t.Errorf("after reload cached %d transports, want 2", got)
	}
	if transportOf(t, p, reloaded, "a") == before {
		t.Errorf("reload kept the transport of a, want one built anew so that TLS files are read again")
	}
}

// TestTransportCacheManyEndpoints checks that 10,000 endpoints with equal
// settings, looked up concurrently, share one transport.
func TestTransportCacheManyEndpoints(t *testing.T) {
	endpoints := make([]string, 10000)
	for i := range endpoints {
		endpoints[i] = fmt.Sprintf("- name: e%d\n  url: https://host%d.test/\n  tls_config:\n    server_name: api.test", i, i)
	}
	cfg := loadEndpoints(t, endpoints...)
	p := NewHTTPProber(HTTPProberOptions{})

	var wg sync.WaitGroup
	transports := make([]*http.Transport, len(cfg.Companies[0].Endpoints))
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < len(transports); i += 8 {
				tr, err := p.transport.get(&cfg.Companies[0].Endpoints[i].ProbeSettings)
				if err != nil {
					t.Errorf("get: %v", err)
					return
				}
				transports[i] = tr
			}
		})
	}
	wg.Wait()

	if got := p.transport.len(); got != 1 {
		t.Errorf("cached %d transports, want 1", got)
	}
	for i, tr := range transports {
		if tr != transports[0] {
			t.Fatalf("endpoint %d got another transport than endpoint 0", i)
		}
	}
}

// TestProbeSurvivesReload checks that a probe running while ApplyConfig
// replaces the transports finishes on the transport it started with.
func TestProbeSurvivesReload(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	cfg := loadEndpoints(t, "- name: api\n  url: "+srv.URL+"/\n  enable_http2: false")
	p := NewHTTPProber(HTTPProberOptions{})
	p.ApplyConfig(cfg)
	c := cfg.Companies[0]
	target := &Target{Key: Key{Company: c.Name, Endpoint: "api"}, Company: c, Endpoint: c.Endpoints[0]}

	done := make(chan Result)
	go func() { done <- p.Probe(context.Background(), target) }()
	<-arrived
	p.ApplyConfig(loadEndpoints(t, "- name: other\n  url: http://other.test/\n  enable_http2: true"))
	close(release)
	res := <-done

	checkResult(t, res, true, ReasonNone, "")
	if res.BodySize != 2 {
		t.Errorf("BodySize = %d, want 2", res.BodySize)
	}
}
