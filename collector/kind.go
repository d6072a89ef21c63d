package collector

import (
	"context"

	"github.com/apiwatch/apiwatch/config"
)

// kindProber sends each probe to the prober for its endpoint's kind, which
// the URL scheme selects (see config.Endpoint.Kind).
type kindProber struct {
	http, tcp, grpc Prober
}

// NewKindProber returns a Prober that runs http:// and https:// endpoints
// with http, tcp:// endpoints with tcp, and grpc:// and grpcs:// endpoints
// with grpc. It panics if any of them is nil, because config.LoadFile
// accepts all three kinds.
func NewKindProber(http, tcp, grpc Prober) Prober {
	if http == nil || tcp == nil || grpc == nil {
		panic("collector: NewKindProber needs a prober for every kind")
	}
	return &kindProber{http: http, tcp: tcp, grpc: grpc}
}

// Probe runs one check of t with the prober for its kind.
func (p *kindProber) Probe(ctx context.Context, t *Target) Result {
	switch t.Endpoint.Kind() {
	case config.KindTCP:
		return p.tcp.Probe(ctx, t)
	case config.KindGRPC:
		return p.grpc.Probe(ctx, t)
	}
	return p.http.Probe(ctx, t)
}
