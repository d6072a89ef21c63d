package alerting

import (
	"fmt"
	"maps"
	"time"

	commoncfg "github.com/prometheus/common/config"

	"github.com/apiwatch/apiwatch/collector"
	"github.com/apiwatch/apiwatch/config"
)

// PoliciesFromConfig returns the alerting policy of every endpoint in cfg.
func PoliciesFromConfig(cfg *config.Config) map[collector.Key]*EndpointPolicy {
	out := map[collector.Key]*EndpointPolicy{}
	for _, c := range cfg.Companies {
		companyWindows := windowsFromConfig(c.Maintenance)
		for _, e := range c.Endpoints {
			labels := maps.Clone(c.Labels)
			if labels == nil {
				labels = map[string]string{}
			}
			maps.Copy(labels, e.Labels)
			windows := append(append([]Window(nil), companyWindows...), windowsFromConfig(e.Maintenance)...)
			out[collector.Key{Company: c.Name, Endpoint: e.Name}] = &EndpointPolicy{
				Labels:      labels,
				Severity:    e.Severity,
				URL:         e.URL.String(),
				RunbookURL:  e.RunbookURL,
				Maintenance: windows,
			}
		}
	}
	return out
}

func windowsFromConfig(ms []*config.Maintenance) []Window {
	out := make([]Window, 0, len(ms))
	for _, m := range ms {
		if s := m.Cron(); s != nil {
			out = append(out, Window{Schedule: s, Duration: time.Duration(m.Duration)})
			continue
		}
		out = append(out, Window{Start: m.Start.Time, End: m.End.Time})
	}
	return out
}

// AlertmanagersFromConfig builds an HTTP client for each configured
// Alertmanager.
func AlertmanagersFromConfig(cfg *config.Config) ([]Alertmanager, error) {
	out := make([]Alertmanager, 0, len(cfg.Alerting.Alertmanagers))
	for i, am := range cfg.Alerting.Alertmanagers {
		client, err := commoncfg.NewClientFromConfig(am.HTTPClientConfig, "alertmanager")
		if err != nil {
			return nil, fmt.Errorf("alertmanagers[%d]: building HTTP client: %w", i, err)
		}
		out = append(out, Alertmanager{
			URL:     am.URL.URL,
			Name:    am.URL.String(),
			Client:  client,
			Timeout: time.Duration(am.Timeout),
		})
	}
	return out, nil
}

// ApplyConfig applies the alerting settings, the Alertmanagers and the
// endpoint policies of cfg. Alerts of endpoints that cfg no longer has are
// resolved.
func (n *Notifier) ApplyConfig(cfg *config.Config) error {
	ams, err := AlertmanagersFromConfig(cfg)
	if err != nil {
		return err
	}
	a := &cfg.Alerting
	n.mu.Lock()
	n.opts.ResendInterval = time.Duration(a.ResendInterval)
	n.opts.ResolvedRetention = time.Duration(a.ResolvedRetention)
	n.opts.QueueCapacity = a.QueueCapacity
	n.opts.MaxBatchSize = a.MaxBatchSize
	for _, l := range n.loops {
		l.queue.setCapacity(a.QueueCapacity)
	}
	n.mu.Unlock()
	n.SetAlertmanagers(ams)
	n.SetPolicies(PoliciesFromConfig(cfg))
	return nil
}

// InMaintenance reports whether a maintenance window of endpoint e or of
// its company c is active at t, so that no new alert of e fires then.
func InMaintenance(c *config.Company, e *config.Endpoint, t time.Time) bool {
	if len(c.Maintenance) == 0 && len(e.Maintenance) == 0 {
		return false
	}
	return inMaintenance(windowsFromConfig(c.Maintenance), t) || inMaintenance(windowsFromConfig(e.Maintenance), t)
}
