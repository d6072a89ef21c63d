package collector

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// queryLog records the questions a test DNS server received, as "NAME TYPE"
// such as "api.test A".
type queryLog struct {
	mu      sync.Mutex
	queries []string
}

func (l *queryLog) add(q string) {
	l.mu.Lock()
	l.queries = append(l.queries, q)
	l.mu.Unlock()
}

// take returns the distinct questions so far about the given names,
// sorted, and clears the log. Questions about other names, such as those
// the Go resolver makes from the search domains of resolv.conf, are left
// out.
func (l *queryLog) take(names ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var queries []string
	for _, q := range l.queries {
		name, _, _ := strings.Cut(q, " ")
		if slices.Contains(names, name) {
			queries = append(queries, q)
		}
	}
	l.queries = nil
	slices.Sort(queries)
	return slices.Compact(queries)
}

// startLoggingDNS runs a DNS server on 127.0.0.1 like startDNS, and also
// records every question it receives in the returned log.
func startLoggingDNS(t *testing.T, hosts map[string][]string) (*net.Resolver, *queryLog) {
	t.Helper()
	table := make(map[string][]netip.Addr, len(hosts))
	for name, addrs := range hosts {
		for _, a := range addrs {
			table[name] = append(table[name], netip.MustParseAddr(a))
		}
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	log := &queryLog{}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			if _, err := p.Start(buf[:n]); err == nil {
				if q, err := p.Question(); err == nil {
					typ := strings.TrimPrefix(q.Type.String(), "Type")
					log.add(strings.TrimSuffix(q.Name.String(), ".") + " " + typ)
				}
			}
			if reply, ok := answerDNS(buf[:n], table); ok {
				pc.WriteTo(reply, from)
			}
		}
	})
	t.Cleanup(func() {
		pc.Close()
		wg.Wait()
	})
	server := pc.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", server)
		},
	}, log
}

// startDualStack serves a 200 on 127.0.0.1:P and [::1]:P for one port P,
// and returns P and a channel that receives "4" or "6" for each request,
// by the family of the listener that served it.
func startDualStack(t *testing.T) (int, <-chan string) {
	t.Helper()
	families := make(chan string, 10)
	v4 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		families <- "4"
	}))
	t.Cleanup(v4.Close)
	port := listenOnBothLoopbacks(t, v4)
	ln, err := net.Listen("tcp6", "[::1]:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	v6 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		families <- "6"
	}))
	v6.Listener.Close()
	v6.Listener = ln
	v6.Start()
	t.Cleanup(v6.Close)
	return port, families
}

// TestProbeIPProtocol checks that ip_protocol restricts lookups and dials
// to one family, and that preferred_ip_protocol picks the family dialled
// first.
func TestProbeIPProtocol(t *testing.T) {
	port, families := startDualStack(t)
	resolver, queries := startLoggingDNS(t, map[string][]string{
		"dual.test": {"::1", "127.0.0.1"},
		"v4.test":   {"127.0.0.1"},
		"v6.test":   {"::1"},
	})
	prober := NewHTTPProber(HTTPProberOptions{Resolver: resolver})

	tests := []struct {
		name     string
		host     string
		settings string
		reason   Reason
		message  string
		// family is "4" or "6" for the listener that must serve the request.
		family  string
		queries []string
	}{
		{
			name: "ip4 dials IPv4", host: "dual.test", settings: "ip_protocol: ip4",
			family: "4", queries: []string{"dual.test A"},
		},
		{
			name: "ip6 dials IPv6", host: "dual.test", settings: "ip_protocol: ip6",
			family: "6", queries: []string{"dual.test AAAA"},
		},
		{
			name: "any prefers ip6 by default", host: "dual.test", settings: "ip_protocol: any",
			family: "6", queries: []string{"dual.test A", "dual.test AAAA"},
		},
		{
			name: "any with preferred ip4", host: "dual.test", settings: "preferred_ip_protocol: ip4",
			family: "4", queries: []string{"dual.test A", "dual.test AAAA"},
		},
		{
			name: "any reaches an IPv4-only name", host: "v4.test", settings: "preferred_ip_protocol: ip6",
			family: "4", queries: []string{"v4.test A", "v4.test AAAA"},
		},
		{
			name: "ip4 on an IPv6-only name", host: "v6.test", settings: "ip_protocol: ip4",
			reason: ReasonDNS, message: "resolving v6.test: no IPv4 address (ip_protocol: ip4)",
			queries: []string{"v6.test A"},
		},
		{
			name: "ip6 on an IPv4-only name", host: "v4.test", settings: "ip_protocol: ip6",
			reason: ReasonDNS, message: "resolving v4.test: no IPv6 address (ip_protocol: ip6)",
			queries: []string{"v4.test AAAA"},
		},
		{
			name: "ip4 on an unknown name", host: "nx.test", settings: "ip_protocol: ip4",
			reason: ReasonDNS, message: "resolving nx.test: no IPv4 address (ip_protocol: ip4)",
			queries: []string{"nx.test A"},
		},
		{
			name: "any on an unknown name", host: "nx.test", settings: "ip_protocol: any",
			reason: ReasonDNS, message: "resolving nx.test: no such host",
			queries: []string{"nx.test A", "nx.test AAAA"},
		},
		{
			name: "ip4 on an IPv6 literal", host: "[::1]", settings: "ip_protocol: ip4",
			reason: ReasonDNS, message: "resolving ::1: no IPv4 address (ip_protocol: ip4)",
		},
		{
			name: "ip6 on an IPv6 literal", host: "[::1]", settings: "ip_protocol: ip6",
			family: "6",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := "http://" + tt.host + ":" + strconv.Itoa(port) + "/"

			res := prober.Probe(context.Background(), loadTarget(t, "url: "+url+"\n"+tt.settings))

			checkResult(t, res, tt.reason == ReasonNone, tt.reason, tt.message)
			wantVersion := 0
			if tt.family != "" {
				wantVersion, _ = strconv.Atoi(tt.family)
			}
			if res.IPVersion != wantVersion {
				t.Errorf("IPVersion = %d, want %d", res.IPVersion, wantVersion)
			}
			var served []string
			for len(families) > 0 {
				served = append(served, <-families)
			}
			var want []string
			if tt.family != "" {
				want = []string{tt.family}
			}
			if !slices.Equal(served, want) {
				t.Errorf("served by the IPv%q listeners, want %q", served, want)
			}
			host := strings.Trim(tt.host, "[]")
			if got := queries.take(host); !slices.Equal(got, tt.queries) {
				t.Errorf("DNS questions = %q, want %q", got, tt.queries)
			}
		})
	}
}

// TestProbePreferredFamilyFallback checks that when the preferred family
// refuses the connection, the other one is dialled at once, and that the
// error of the preferred family is reported when both fail.
func TestProbePreferredFamilyFallback(t *testing.T) {
	v6 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	v6.Listener.Close()
	v6.Listener = ln
	v6.Start()
	defer v6.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	// Nothing listens on 127.0.0.1 at port, unless another process took it.
	if c, err := net.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
		c.Close()
		t.Skipf("127.0.0.1:%d is in use", port)
	}
	refused := unusedPort(t)
	_, refusedPort, _ := net.SplitHostPort(refused)
	resolver := startDNS(t, map[string][]string{"dual.test": {"::1", "127.0.0.1"}})
	prober := NewHTTPProber(HTTPProberOptions{Resolver: resolver})

	res := prober.Probe(context.Background(), loadTarget(t,
		"url: http://dual.test:"+strconv.Itoa(port)+"/\npreferred_ip_protocol: ip4\ntimeout: 5s"))

	checkResult(t, res, true, ReasonNone, "")
	if res.IPVersion != 6 {
		t.Errorf("IPVersion = %d, want 6", res.IPVersion)
	}
	if c := res.Phases[PhaseConnect]; c > 200*time.Millisecond {
		t.Errorf("connect phase = %v, want well below the 300ms fallback delay", c)
	}

	// Both families refused: the message names the preferred family's
	// address.
	res = prober.Probe(context.Background(), loadTarget(t,
		"url: http://dual.test:"+refusedPort+"/\npreferred_ip_protocol: ip4\ntimeout: 5s"))

	checkResult(t, res, false, ReasonConnect, "connecting to "+refused+": connection refused")
}
