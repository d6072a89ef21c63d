// Package dashboards holds apiwatch's Grafana dashboards, one JSON file per
// dashboard in Grafana's classic dashboard model, and the tests that check
// them: their structure, and every panel query against a real Prometheus
// that scrapes apiwatch. The package has no Go API; the README's Dashboards
// section describes the panels.
package dashboards
