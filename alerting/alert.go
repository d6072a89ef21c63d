// Package alerting turns endpoint state into Alertmanager alerts: it fires
// an alert when an endpoint goes down or degraded, resends it while the
// endpoint stays so, resolves it on recovery, keeps every alert on disk so a
// restart forgets nothing, and delivers through one queue per Alertmanager.
// It also renders the Alertmanager configuration that routes each company's
// alerts to that company's contacts.
package alerting

import (
	"maps"
	"net/url"
	"strconv"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/prometheus/alertmanager/api/v2/models"

	"github.com/apiwatch/apiwatch/collector"
)

// Alert names.
const (
	AlertEndpointDown     = "EndpointDown"
	AlertEndpointDegraded = "EndpointDegraded"
)

// DegradedSeverity is the severity of every EndpointDegraded alert. The
// endpoint's severity applies to EndpointDown only, because a degraded
// endpoint still serves.
const DegradedSeverity = "warning"

// alertNameFor returns the alert an endpoint in state s should have firing,
// if any. An endpoint has at most one firing alert: when its state moves
// from one alert's to another's, the first resolves and the second fires.
// Every name it returns must be listed in alertNames.
func alertNameFor(s collector.State) (string, bool) {
	switch s {
	case collector.StateDown:
		return AlertEndpointDown, true
	case collector.StateDegraded:
		return AlertEndpointDegraded, true
	}
	return "", false
}

// alertCause returns the reason and message that explain alert name: the
// last failure for EndpointDown, the last degraded probe for
// EndpointDegraded.
func alertCause(name string, st collector.Status) (collector.Reason, string) {
	if name == AlertEndpointDegraded {
		return st.DegradedReason, st.DegradedMessage
	}
	return st.FailureReason, st.FailureMessage
}

// alertID identifies an alert: one endpoint and one alert name.
type alertID struct {
	Company  string
	Endpoint string
	Name     string
}

func (id alertID) key() collector.Key {
	return collector.Key{Company: id.Company, Endpoint: id.Endpoint}
}

func (id alertID) storageKey() string {
	return id.Company + "\x00" + id.Endpoint + "\x00" + id.Name
}

// alert is an alert apiwatch has fired and has not yet forgotten: firing, or
// resolved and still resent during the retention period. Its labels are
// fixed when it fires, so that Alertmanager sees one alert (one fingerprint)
// for the whole outage, whatever changes in between.
type alert struct {
	ID         alertID           `json:"id"`
	Labels     map[string]string `json:"labels"`
	StartsAt   time.Time         `json:"starts_at"`
	ResolvedAt time.Time         `json:"resolved_at,omitzero"`
	// Annotations are refreshed from the endpoint's status at every send.
	Annotations map[string]string `json:"annotations,omitempty"`
	// GeneratorURL links to the endpoint on apiwatch's status page.
	GeneratorURL string `json:"generator_url,omitempty"`

	// nextSend is when the alert is next put on the queues.
	nextSend time.Time
}

func (a *alert) firing() bool { return a.ResolvedAt.IsZero() }

// postable returns the alert in Alertmanager's v2 wire format. A firing
// alert carries an endsAt lease in the future; if apiwatch stops sending,
// Alertmanager resolves the alert when the lease runs out. A resolved alert
// carries its resolve time.
func (a *alert) postable(now time.Time, lease time.Duration) *models.PostableAlert {
	endsAt := a.ResolvedAt
	if a.firing() {
		endsAt = now.Add(lease)
	}
	p := &models.PostableAlert{
		Annotations: models.LabelSet(maps.Clone(a.Annotations)),
		StartsAt:    strfmt.DateTime(a.StartsAt),
		EndsAt:      strfmt.DateTime(endsAt),
		Alert: models.Alert{
			Labels:       models.LabelSet(maps.Clone(a.Labels)),
			GeneratorURL: strfmt.URI(a.GeneratorURL),
		},
	}
	return p
}

// generatorURL returns the link to an endpoint's page on the status page.
func generatorURL(external *url.URL, key collector.Key) string {
	if external == nil {
		return ""
	}
	return external.JoinPath("endpoints", key.Company, key.Endpoint).String()
}

// annotationsFor describes the endpoint's current failure, or for
// EndpointDegraded what degrades it, for people reading the notification.
// Both alerts use the same annotation names, so one notification template
// serves both.
func annotationsFor(name string, key collector.Key, pol *EndpointPolicy, st collector.Status) map[string]string {
	ann := map[string]string{
		"summary": key.Company + "/" + key.Endpoint + " is down",
		"url":     pol.URL,
	}
	desc := "Probe of " + pol.URL + " failed"
	if name == AlertEndpointDegraded {
		ann["summary"] = key.Company + "/" + key.Endpoint + " is degraded"
		desc = "Probe of " + pol.URL + " found the endpoint degraded"
	}
	reason, message := alertCause(name, st)
	if reason != collector.ReasonNone {
		ann["reason"] = reason.String()
		desc += " (" + reason.String() + ")"
	}
	if message != "" {
		ann["error"] = message
		desc += ": " + message
	}
	if st.LastStatusCode != 0 {
		ann["status_code"] = strconv.Itoa(st.LastStatusCode)
	}
	ann["description"] = desc
	if pol.RunbookURL != "" {
		ann["runbook_url"] = pol.RunbookURL
	}
	return ann
}
