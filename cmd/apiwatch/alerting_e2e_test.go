package main

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// PagerDuty routing keys of the test companies: 32 characters, as PagerDuty
// requires.
const (
	acmeRoutingKey   = "acmeacmeacmeacmeacmeacmeacmeacme"
	globexRoutingKey = "globexglobexglobexglobexglobex01"
)

// twoCompanies has acme and globex, each with one endpoint on the target and
// its own email address and PagerDuty routing key.
const twoCompanies = `
companies:
  - name: acme
    labels:
      team: payments
    contacts:
      email: [oncall@acme.test]
      pagerduty:
        - routing_key: ` + acmeRoutingKey + `
    endpoints:
      - name: checkout
        url: %[1]s/acme/checkout
  - name: globex
    contacts:
      email: [sre@globex.test]
      pagerduty:
        - routing_key: ` + globexRoutingKey + `
    endpoints:
      - name: orders
        url: %[1]s/globex/orders
`

// stateTimeout bounds the waits for a verdict: with a 1s interval and
// thresholds of 1, a switched target shows within about 2 seconds.
const stateTimeout = 10 * time.Second

func TestAlertsReachEachCompanysContacts(t *testing.T) {
	t.Parallel()
	s := newAlertingStack(t, 1)
	am := s.alertmanagers[0]
	d, _ := s.start(twoCompanies)
	d.waitForStates(map[string]string{"checkout": "up", "orders": "up"}, time.Now().Add(stateTimeout))

	// acme's endpoint fails: acme's contacts hear of it, globex's do not.
	s.target.setDown("/acme/checkout", true)
	acmeDown := since(t, d.waitForStates(map[string]string{"checkout": "down"}, time.Now().Add(stateTimeout))["checkout"])

	alert := am.waitForActiveAlert("acme", "checkout")
	checkFiringAlert(t, am, alert, "acme", "checkout", acmeDown, map[string]string{"team": "payments"})
	checkAnnotations(t, alert, s.target.srv.URL+"/acme/checkout")

	const acmeSubject = "EndpointDown acme checkout (critical payments)"
	mail := s.mail.waitForMail("oncall@acme.test", "[FIRING:1]")
	checkMail(t, mail, "[FIRING:1] "+acmeSubject, failureTexts("acme", "checkout")...)
	acmeTrigger := s.pagerDuty.waitForEvent(t, acmeRoutingKey, "trigger")
	checkTrigger(t, acmeTrigger, "[FIRING:1] "+acmeSubject, "endpoint = checkout", "error = status 503, expected 2xx")

	if got := s.mail.messagesTo("sre@globex.test"); len(got) != 0 {
		t.Errorf("globex received mail about acme: %q", subjects(got))
	}
	if got := eventsFor(s.pagerDuty.events.all(), globexRoutingKey); len(got) != 0 {
		t.Errorf("globex's routing key received events about acme: %+v", got)
	}

	// globex's endpoint fails: its routing key and address get it.
	s.target.setDown("/globex/orders", true)
	globexDown := since(t, d.waitForStates(map[string]string{"orders": "down"}, time.Now().Add(stateTimeout))["orders"])
	const globexSubject = "EndpointDown globex orders (critical)"
	globexTrigger := s.pagerDuty.waitForEvent(t, globexRoutingKey, "trigger")
	checkTrigger(t, globexTrigger, "[FIRING:1] "+globexSubject, "endpoint = orders", "error = status 503, expected 2xx")
	globexMail := s.mail.waitForMail("sre@globex.test", "[FIRING:1]")
	checkMail(t, globexMail, "[FIRING:1] "+globexSubject, failureTexts("globex", "orders")...)
	alert = am.waitForActiveAlert("globex", "orders")
	checkFiringAlert(t, am, alert, "globex", "orders", globexDown, nil)

	if got := s.mail.messagesTo("oncall@acme.test"); len(got) != 1 {
		t.Errorf("acme received %d mails after globex failed, want still 1: %q", len(got), subjects(got))
	}

	// Both recover: every contact gets the resolved notification, and
	// Alertmanager got the alerts with their resolve times.
	s.target.setDown("/acme/checkout", false)
	s.target.setDown("/globex/orders", false)
	up := d.waitForStates(map[string]string{"checkout": "up", "orders": "up"}, time.Now().Add(stateTimeout))
	acmeUp, globexUp := since(t, up["checkout"]), since(t, up["orders"])

	resolved := s.mail.waitForMail("oncall@acme.test", "[RESOLVED]")
	checkMail(t, resolved, "[RESOLVED] "+acmeSubject, "[1] Resolved", "endpoint = checkout")
	if ev := s.pagerDuty.waitForEvent(t, acmeRoutingKey, "resolve"); ev.DedupKey != acmeTrigger.DedupKey {
		t.Errorf("acme resolve dedup_key = %q, want the trigger's %q", ev.DedupKey, acmeTrigger.DedupKey)
	}
	if ev := s.pagerDuty.waitForEvent(t, globexRoutingKey, "resolve"); ev.DedupKey != globexTrigger.DedupKey {
		t.Errorf("globex resolve dedup_key = %q, want the trigger's %q", ev.DedupKey, globexTrigger.DedupKey)
	}
	globexResolved := s.mail.waitForMail("sre@globex.test", "[RESOLVED]")
	checkMail(t, globexResolved, "[RESOLVED] "+globexSubject, "[1] Resolved", "endpoint = orders")

	checkResolvedPost(t, am, "acme", "checkout", acmeDown, acmeUp)
	checkResolvedPost(t, am, "globex", "orders", globexDown, globexUp)
	am.waitForNoActiveAlert("acme", "checkout")
	am.waitForNoActiveAlert("globex", "orders")

	// Nothing was sent twice or to the wrong company.
	for addr, want := range map[string][]string{
		"oncall@acme.test": {"[RESOLVED]", "[FIRING:1]"},
		"sre@globex.test":  {"[RESOLVED]", "[FIRING:1]"},
	} {
		var got []string
		for _, subject := range subjects(s.mail.messagesTo(addr)) {
			got = append(got, strings.SplitN(subject, " ", 2)[0])
		}
		if !slices.Equal(got, want) {
			t.Errorf("mail to %s, newest first: %q, want %q", addr, got, want)
		}
	}
	for _, key := range []string{acmeRoutingKey, globexRoutingKey} {
		var got []string
		for _, ev := range eventsFor(s.pagerDuty.events.all(), key) {
			got = append(got, ev.EventAction)
		}
		if want := []string{"trigger", "resolve"}; !slices.Equal(got, want) {
			t.Errorf("PagerDuty events for %s: %q, want %q", key, got, want)
		}
	}
}

// checkFiringAlert checks an active alert that Alertmanager lists: its
// labels, its startsAt (the endpoint's since time) and its endsAt lease,
// which is leaseFactor resend intervals after the posting that set it.
func checkFiringAlert(t *testing.T, am *alertmanager, got amAlert, company, endpoint string,
	downSince time.Time, extraLabels map[string]string) {
	t.Helper()
	want := map[string]string{
		"alertname": "EndpointDown",
		"company":   company,
		"endpoint":  endpoint,
		"severity":  "critical",
	}
	maps.Copy(want, extraLabels)
	if !maps.Equal(got.Labels, want) {
		t.Errorf("%s/%s labels:\n got %v\nwant %v", company, endpoint, got.Labels, want)
	}
	if !got.StartsAt.Equal(wireTime(downSince)) {
		t.Errorf("%s/%s startsAt = %v, want the since time %v", company, endpoint, got.StartsAt, wireTime(downSince))
	}
	if got.Status.State != "active" {
		t.Errorf("%s/%s state = %q, want active", company, endpoint, got.Status.State)
	}
	if len(got.Receivers) != 1 || got.Receivers[0].Name != company {
		t.Errorf("%s/%s receivers = %+v, want [%s]", company, endpoint, got.Receivers, company)
	}
	if want := externalURL + "endpoints/" + company + "/" + endpoint; got.GeneratorURL != want {
		t.Errorf("%s/%s generatorURL = %q, want %q", company, endpoint, got.GeneratorURL, want)
	}

	// The posting that set this endsAt may still be on its way into the
	// proxy's record.
	var post postedAlert
	_, ok := am.proxy.posts.waitFor(5*time.Second, func(posts []alertPost) bool {
		for _, p := range postedAlerts(posts, company, endpoint) {
			if p.EndsAt.Equal(got.EndsAt) {
				post = p
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("%s/%s endsAt %v is in no posting of apiwatch", company, endpoint, got.EndsAt)
	}
	// apiwatch sets endsAt when it renders the batch, just before the proxy
	// receives it.
	lease := leaseFactor * resendInterval
	if ahead := got.EndsAt.Sub(post.received); ahead > lease || ahead < lease-time.Second {
		t.Errorf("%s/%s endsAt is %v after the posting, want the lease of %v", company, endpoint, ahead, lease)
	}
}

// checkAnnotations checks the annotations apiwatch gives an alert of an
// endpoint whose target responds with 503.
func checkAnnotations(t *testing.T, got amAlert, url string) {
	t.Helper()
	key := got.Labels["company"] + "/" + got.Labels["endpoint"]
	want := map[string]string{
		"summary":     key + " is down",
		"description": "Probe of " + url + " failed (status): status 503, expected 2xx",
		"reason":      "status",
		"error":       "status 503, expected 2xx",
		"status_code": "503",
		"url":         url,
	}
	if !maps.Equal(got.Annotations, want) {
		t.Errorf("%s annotations:\n got %v\nwant %v", key, got.Annotations, want)
	}
}

// checkMail checks a notification mail: its sender, its subject, which
// Alertmanager's default template builds from the status and the labels,
// and that its HTML body contains each of the texts.
func checkMail(t *testing.T, msg mailMessage, subject string, texts ...string) {
	t.Helper()
	if msg.Subject != subject {
		t.Errorf("mail subject %q, want %q", msg.Subject, subject)
	}
	if msg.From.Address != "apiwatch@alerts.test" {
		t.Errorf("mail %q from %q, want the template's smtp_from apiwatch@alerts.test", msg.Subject, msg.From.Address)
	}
	for _, s := range texts {
		if !strings.Contains(msg.HTML, s) {
			t.Errorf("mail %q: HTML body does not contain %q:\n%s", msg.Subject, s, msg.HTML)
		}
	}
}

// failureTexts are what a notification about an endpoint that responds with
// 503 shows: its labels and annotations, and the link to apiwatch.
func failureTexts(company, endpoint string) []string {
	return []string{
		"company = " + company,
		"endpoint = " + endpoint,
		"reason = status",
		"error = status 503, expected 2xx",
		`href="` + externalURL + "endpoints/" + company + "/" + endpoint + `"`,
	}
}

// checkTrigger checks a PagerDuty trigger beyond the shape the fake checks.
// Alertmanager's pagerduty_configs defaults set the summary to the mail
// subject and the source to "Alertmanager"; the rendered receivers pass the
// alert's severity label, critical for EndpointDown.
func checkTrigger(t *testing.T, ev pagerDutyEvent, summary string, texts ...string) {
	t.Helper()
	if ev.DedupKey == "" {
		t.Errorf("trigger %q has no dedup_key", summary)
	}
	if ev.Payload == nil {
		return
	}
	p := ev.Payload
	if p.Summary != summary {
		t.Errorf("trigger summary %q, want %q", p.Summary, summary)
	}
	if p.Source != "Alertmanager" || p.Severity != "critical" {
		t.Errorf("trigger %q: source %q, severity %q, want Alertmanager and critical", summary, p.Source, p.Severity)
	}
	details := fmt.Sprint(p.CustomDetails["firing"])
	for _, s := range texts {
		if !strings.Contains(details, s) {
			t.Errorf("trigger %q: custom_details.firing does not contain %q:\n%s", summary, s, details)
		}
	}
}

// checkResolvedPost checks that Alertmanager accepted the endpoint's alert
// resolved, with the time it went down as startsAt and the time it came back
// as endsAt.
func checkResolvedPost(t *testing.T, am *alertmanager, company, endpoint string, down, up time.Time) {
	t.Helper()
	got := am.proxy.waitForPost(company, endpoint, func(a postedAlert) bool { return !a.EndsAt.After(a.received) })
	if !got.StartsAt.Equal(wireTime(down)) {
		t.Errorf("%s/%s resolved alert startsAt = %v, want %v", company, endpoint, got.StartsAt, wireTime(down))
	}
	if !got.EndsAt.Equal(wireTime(up)) {
		t.Errorf("%s/%s resolved alert endsAt = %v, want the recovery time %v", company, endpoint, got.EndsAt, wireTime(up))
	}
}

// TestExampleAlertmanagerConfigIsCurrent keeps examples/alertmanager.yml
// equal to what `apiwatch alertmanager-config` renders for
// examples/apiwatch.yml, and valid for amtool.
func TestExampleAlertmanagerConfigIsCurrent(t *testing.T) {
	examples := filepath.Join(repoRoot, "examples")
	code, got, stderr := runProcess(t, "alertmanager-config", "--config.file="+filepath.Join(examples, "apiwatch.yml"))
	if code != 0 {
		t.Fatalf("apiwatch alertmanager-config exited with %d:\n%s", code, stderr)
	}
	file := filepath.Join(examples, "alertmanager.yml")
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading the example: %v", err)
	}
	if got != string(want) {
		t.Errorf("examples/alertmanager.yml is not the output of apiwatch alertmanager-config for "+
			"examples/apiwatch.yml; regenerate it with `make alertmanager-config`.\n%s", firstDifference(string(want), got))
	}

	amtool := exec.Command(lookPathOrFail(t, "amtool"), "check-config", file)
	out, err := amtool.CombinedOutput()
	if err != nil {
		t.Errorf("amtool check-config %s: %v\n%s", file, err, out)
	}
}

// firstDifference describes the first line where two texts differ.
func firstDifference(want, got string) string {
	wantLines, gotLines := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(wantLines), len(gotLines)) {
		var w, g string
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if w != g {
			return fmt.Sprintf("first difference at line %d:\n file:     %q\n rendered: %q", i+1, w, g)
		}
	}
	return ""
}
