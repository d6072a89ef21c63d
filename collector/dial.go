package collector

import (
	"context"
	"errors"
	"net"
	"net/http/httptrace"
	"net/netip"
	"strconv"
	"time"

	"github.com/apiwatch/apiwatch/config"
)

// fallbackDelay is how long a dial to the preferred address family runs
// before a dial to the other family starts alongside it. It is the value of
// net.Dialer's FallbackDelay default in Go 1.26, and RFC 8305 suggests 250 ms.
const fallbackDelay = 300 * time.Millisecond

// minAttemptTimeout is the least time given to each address of a family
// when several are dialled one after the other, as net.Dialer does.
const minAttemptTimeout = 2 * time.Second

// ipDialer opens TCP connections within the address families that an
// endpoint's ip_protocol allows. Unlike net.Dialer, which orders addresses
// by RFC 6724, it dials preferred_ip_protocol first when both families are
// allowed. Every lookup goes through resolver, so that a test resolver or a
// custom one serves all of a probe's names.
type ipDialer struct {
	resolver *net.Resolver
	// family is "ip4" or "ip6" to use only that family, or "ip" for both.
	family string
	// preferIPv4 puts IPv4 addresses first when family is "ip".
	preferIPv4 bool
	// fallbackDelay is the head start of the preferred family.
	fallbackDelay time.Duration
	dialer        net.Dialer
}

// newIPDialer returns a dialer for the ip_protocol and preferred_ip_protocol
// of s. A nil resolver means the system resolver.
func newIPDialer(resolver *net.Resolver, s *config.ProbeSettings) *ipDialer {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	d := &ipDialer{resolver: resolver, family: "ip", fallbackDelay: fallbackDelay}
	switch s.IPProtocol {
	case "ip4", "ip6":
		d.family = s.IPProtocol
	}
	d.preferIPv4 = s.PreferredIPProtocol == "ip4"
	return d
}

// DialContext resolves the host of address and connects to one of its
// addresses. A failed lookup returns the *net.DNSError, and a failed
// connection the *net.OpError of the first address tried.
func (d *ipDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, &net.AddrError{Err: "invalid port", Addr: address}
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if !d.allows(addr) {
			return nil, d.noAddressError(host)
		}
		literal := [1]netip.Addr{addr}
		return d.dialSerial(ctx, network, uint16(port), literal[:])
	}
	addrs, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	primaries, fallbacks := d.partition(addrs)
	return d.dialParallel(ctx, network, uint16(port), primaries, fallbacks)
}

// resolve returns the addresses of the host name host in the allowed
// families.
func (d *ipDialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	ips, err := d.lookup(ctx, host)
	var dnsErr *net.DNSError
	if d.family != "ip" && errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return nil, d.noAddressError(host)
	}
	if err != nil {
		return nil, err
	}
	addrs := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		addr, ok := netip.AddrFromSlice(ip.IP)
		if !ok {
			continue
		}
		addr = addr.Unmap().WithZone(ip.Zone)
		if d.allows(addr) {
			addrs = append(addrs, addr)
		}
	}
	if len(addrs) == 0 {
		return nil, d.noAddressError(host)
	}
	return addrs, nil
}

// lookup resolves host and reports the lookup to the httptrace.ClientTrace
// of ctx. The resolver gets a context without the trace, as net.Dialer
// gives it, because the connection to a DNS server would otherwise be
// reported as a connection to the endpoint.
func (d *ipDialer) lookup(ctx context.Context, host string) ([]net.IPAddr, error) {
	trace := httptrace.ContextClientTrace(ctx)
	if trace != nil && trace.DNSStart != nil {
		trace.DNSStart(httptrace.DNSStartInfo{Host: host})
	}
	var ips []net.IPAddr
	var err error
	if d.family == "ip" {
		ips, err = d.resolver.LookupIPAddr(withoutValues{ctx}, host)
	} else {
		// Only the allowed family is queried, so that a DNS server that
		// mishandles the other record type cannot fail the probe.
		var raw []net.IP
		raw, err = d.resolver.LookupIP(withoutValues{ctx}, d.family, host)
		ips = make([]net.IPAddr, len(raw))
		for i, ip := range raw {
			ips[i].IP = ip
		}
	}
	if trace != nil && trace.DNSDone != nil {
		trace.DNSDone(httptrace.DNSDoneInfo{Addrs: ips, Err: err})
	}
	return ips, err
}

// withoutValues is a context whose values are hidden, with the deadline
// and cancellation of the context it wraps.
type withoutValues struct{ context.Context }

func (withoutValues) Value(any) any { return nil }

// allows reports whether addr is in a family the dialer may use.
func (d *ipDialer) allows(addr netip.Addr) bool {
	switch d.family {
	case "ip4":
		return addr.Is4()
	case "ip6":
		return addr.Is6()
	}
	return true
}

// noAddressError reports that host has no address in the only family
// allowed. A restricted lookup cannot tell a name without such an address
// from a name that does not exist, so the message covers both.
func (d *ipDialer) noAddressError(host string) error {
	text := "no IPv4 address (ip_protocol: ip4)"
	if d.family == "ip6" {
		text = "no IPv6 address (ip_protocol: ip6)"
	}
	return &net.DNSError{Err: text, Name: host, IsNotFound: true}
}

// partition splits addrs into the preferred family and the other one,
// keeping the resolver's order within each.
func (d *ipDialer) partition(addrs []netip.Addr) (primaries, fallbacks []netip.Addr) {
	preferred := 0
	for _, addr := range addrs {
		if addr.Is4() == d.preferIPv4 {
			preferred++
		}
	}
	if d.family != "ip" || preferred == 0 || preferred == len(addrs) {
		return addrs, nil
	}
	primaries = make([]netip.Addr, 0, preferred)
	fallbacks = make([]netip.Addr, 0, len(addrs)-preferred)
	for _, addr := range addrs {
		if addr.Is4() == d.preferIPv4 {
			primaries = append(primaries, addr)
		} else {
			fallbacks = append(fallbacks, addr)
		}
	}
	return primaries, fallbacks
}

// dialResult is the outcome of one family's dials.
type dialResult struct {
	conn    net.Conn
	err     error
	primary bool
}

// dialParallel races the primary addresses against the fallbacks, which
// start fallbackDelay later or as soon as the primaries fail, and returns
// the first connection. The loser is cancelled, and a connection it opens
// anyway is closed. This follows net.Dialer's dialParallel (Go 1.26).
func (d *ipDialer) dialParallel(ctx context.Context, network string, port uint16, primaries, fallbacks []netip.Addr) (net.Conn, error) {
	if len(fallbacks) == 0 {
		return d.dialSerial(ctx, network, port, primaries)
	}
	returned := make(chan struct{})
	defer close(returned)
	results := make(chan dialResult)
	race := func(ctx context.Context, primary bool) {
		addrs := primaries
		if !primary {
			addrs = fallbacks
		}
		conn, err := d.dialSerial(ctx, network, port, addrs)
		select {
		case results <- dialResult{conn: conn, err: err, primary: primary}:
		case <-returned:
			if conn != nil {
				conn.Close()
			}
		}
	}

	primaryCtx, cancelPrimary := context.WithCancel(ctx)
	defer cancelPrimary()
	go race(primaryCtx, true)
	fallbackTimer := time.NewTimer(d.fallbackDelay)
	defer fallbackTimer.Stop()
	fallbackCtx, cancelFallback := context.WithCancel(ctx)
	defer cancelFallback()

	var primaryErr error
	var primaryDone, fallbackDone bool
	for {
		select {
		case <-fallbackTimer.C:
			go race(fallbackCtx, false)
		case res := <-results:
			if res.err == nil {
				return res.conn, nil
			}
			if res.primary {
				primaryErr, primaryDone = res.err, true
			} else {
				fallbackDone = true
			}
			if primaryDone && fallbackDone {
				return nil, primaryErr
			}
			// The primaries failed before their head start ended: start the
			// fallbacks now.
			if res.primary && fallbackTimer.Stop() {
				fallbackTimer.Reset(0)
			}
		}
	}
}

// dialSerial dials addrs in order and returns the first connection, or the
// first error. Each address but the last gets an equal share of the time
// left, and at least minAttemptTimeout, so that one address that drops SYNs
// does not use up the whole probe.
func (d *ipDialer) dialSerial(ctx context.Context, network string, port uint16, addrs []netip.Addr) (net.Conn, error) {
	var firstErr error
	for i, addr := range addrs {
		attemptCtx := ctx
		if deadline, ok := ctx.Deadline(); ok && i < len(addrs)-1 {
			share := time.Until(deadline) / time.Duration(len(addrs)-i)
			share = max(share, min(minAttemptTimeout, time.Until(deadline)))
			var cancel context.CancelFunc
			attemptCtx, cancel = context.WithTimeout(ctx, share)
			defer cancel()
		}
		conn, err := d.dialer.DialContext(attemptCtx, network, netip.AddrPortFrom(addr, port).String())
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if firstErr == nil {
		firstErr = &net.OpError{Op: "dial", Net: network, Err: errors.New("no address to dial")}
	}
	return nil, firstErr
}
