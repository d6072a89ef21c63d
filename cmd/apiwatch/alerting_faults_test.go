package main

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// outageCompanies has one company with three endpoints on the target.
const outageCompanies = `
companies:
  - name: acme
    contacts:
      email: [oncall@acme.test]
    endpoints:
      - name: notified
        url: %[1]s/notified
      - name: stays-down
        url: %[1]s/stays-down
      - name: recovers
        url: %[1]s/recovers
`

// TestAlertsSurviveAlertmanagerOutage stops Alertmanager for longer than two
// resend intervals. One endpoint is down and notified before, one goes down
// meanwhile and stays down, and one goes down and recovers meanwhile.
// Alertmanager keeps no alerts across a restart, so all it has afterwards is
// what apiwatch sends it then.
func TestAlertsSurviveAlertmanagerOutage(t *testing.T) {
	t.Parallel()
	s := newAlertingStack(t, 1)
	am := s.alertmanagers[0]
	d, _ := s.start(outageCompanies)
	d.waitForStates(map[string]string{"notified": "up", "stays-down": "up", "recovers": "up"},
		time.Now().Add(stateTimeout))
	s.target.setDown("/notified", true)
	notifiedDown := since(t, d.waitForStates(map[string]string{"notified": "down"}, time.Now().Add(stateTimeout))["notified"])
	s.mail.waitForMail("oncall@acme.test", "[FIRING:1] EndpointDown acme notified")

	am.stop()
	stopped := time.Now()
	s.target.setDown("/stays-down", true)
	s.target.setDown("/recovers", true)
	down := d.waitForStates(map[string]string{"stays-down": "down", "recovers": "down"}, time.Now().Add(stateTimeout))
	staysDownSince, recoversDown := since(t, down["stays-down"]), since(t, down["recovers"])
	s.target.setDown("/recovers", false)
	recoversUp := since(t, d.waitForStates(map[string]string{"recovers": "up"}, time.Now().Add(stateTimeout))["recovers"])
	// The outage itself is the condition under test, so this is a wait for
	// time to pass, not for an event.
	if rest := 2*resendInterval + 500*time.Millisecond - time.Since(stopped); rest > 0 {
		time.Sleep(rest)
	}
	am.start()
	back := time.Now()

	t.Run("still down", func(t *testing.T) {
		got := am.proxy.waitForPost("acme", "stays-down", func(postedAlert) bool { return true })
		if delay := got.received.Sub(back); delay > resendInterval {
			t.Errorf("firing alert reached Alertmanager %v after it returned, want within the resend interval %v",
				delay, resendInterval)
		}
		if !got.EndsAt.After(got.received) {
			t.Errorf("alert arrived resolved (endsAt %v), want firing", got.EndsAt)
		}
		if !got.StartsAt.Equal(wireTime(staysDownSince)) {
			t.Errorf("startsAt = %v, want the since time %v", got.StartsAt, wireTime(staysDownSince))
		}
		alert := am.waitForActiveAlert("acme", "stays-down")
		checkFiringAlert(t, am, alert, "acme", "stays-down", staysDownSince, nil)
		s.mail.waitForMail("oncall@acme.test", "[FIRING:1] EndpointDown acme stays-down")
	})

	t.Run("recovered meanwhile", func(t *testing.T) {
		got := am.proxy.waitForPost("acme", "recovers", func(postedAlert) bool { return true })
		if got.EndsAt.After(got.received) {
			t.Errorf("first alert Alertmanager accepted is firing (endsAt %v after %v), want resolved",
				got.EndsAt, got.received)
		}
		if !got.StartsAt.Equal(wireTime(recoversDown)) {
			t.Errorf("startsAt = %v, want the time it went down %v", got.StartsAt, wireTime(recoversDown))
		}
		if !got.EndsAt.Equal(wireTime(recoversUp)) {
			t.Errorf("endsAt = %v, want the time it recovered %v", got.EndsAt, wireTime(recoversUp))
		}
		if alerts := am.activeAlerts("acme", "recovers"); len(alerts) != 0 {
			t.Errorf("Alertmanager lists the recovered endpoint's alert as active: %+v", alerts)
		}
	})

	t.Run("notified before", func(t *testing.T) {
		alert := am.waitForActiveAlert("acme", "notified")
		checkFiringAlert(t, am, alert, "acme", "notified", notifiedDown, nil)
	})

	// Alertmanager flushed every group by the time the stays-down mail
	// arrived. Its notification log survived the restart, so the alert it
	// had notified before is not notified again, and an alert it first saw
	// resolved is not notified at all.
	waitForMailCount(t, s.mail, "oncall@acme.test", "[FIRING:1] EndpointDown acme notified", 1)
	for _, subject := range subjects(s.mail.messagesTo("oncall@acme.test")) {
		if strings.Contains(subject, "recovers") {
			t.Errorf("mail about the endpoint that recovered during the outage: %q", subject)
		}
	}

	_, metrics := d.get("/metrics")
	if got, ok := metricSeries(t, metrics, "apiwatch_notifications_dropped_total", "alertmanager")[am.url()]; !ok || got != 0 {
		t.Errorf("apiwatch_notifications_dropped_total = %v (present %v), want 0", got, ok)
	}
	if got := metricSeries(t, metrics, "apiwatch_notifications_errors_total", "alertmanager")[am.url()]; got == 0 {
		t.Errorf("apiwatch_notifications_errors_total = 0, want the failed attempts during the outage counted")
	}
}

// TestAlertResolvesAfterDaemonKilled kills apiwatch while an alert fires.
// The endpoint recovers while apiwatch is away, and the restarted daemon,
// which finds the alert in its storage, resolves it.
func TestAlertResolvesAfterDaemonKilled(t *testing.T) {
	t.Parallel()
	s := newAlertingStack(t, 1)
	am := s.alertmanagers[0]
	d, config := s.start(twoCompanies)
	d.waitForStates(map[string]string{"orders": "up"}, time.Now().Add(stateTimeout))

	s.target.setDown("/globex/orders", true)
	down := since(t, d.waitForStates(map[string]string{"orders": "down"}, time.Now().Add(stateTimeout))["orders"])
	am.waitForActiveAlert("globex", "orders")
	trigger := s.pagerDuty.waitForEvent(t, globexRoutingKey, "trigger")
	s.mail.waitForMail("sre@globex.test", "[FIRING:1]")

	d.signal(syscall.SIGKILL)
	d.wait(5 * time.Second)
	s.target.setDown("/globex/orders", false)
	restarted := s.startDaemon(config)
	up := since(t, restarted.waitForStates(map[string]string{"orders": "up"}, time.Now().Add(stateTimeout))["orders"])

	checkResolvedPost(t, am, "globex", "orders", down, up)
	am.waitForNoActiveAlert("globex", "orders")
	if ev := s.pagerDuty.waitForEvent(t, globexRoutingKey, "resolve"); ev.DedupKey != trigger.DedupKey {
		t.Errorf("resolve dedup_key = %q, want the trigger's %q", ev.DedupKey, trigger.DedupKey)
	}
	resolved := s.mail.waitForMail("sre@globex.test", "[RESOLVED]")
	checkMail(t, resolved, "[RESOLVED] EndpointDown globex orders (critical)", "[1] Resolved", "endpoint = orders")
}

// reloadedPattern matches the log line of a successful reload.
var reloadedPattern = regexp.MustCompile(`msg="Configuration reloaded"`)

// TestAlertResolvesWhenEndpointRemoved drops a firing endpoint from the
// configuration, once through a restart and once through a reload.
func TestAlertResolvesWhenEndpointRemoved(t *testing.T) {
	t.Parallel()
	const before = `
companies:
  - name: acme
    contacts:
      email: [oncall@acme.test]
    endpoints:
      - name: checkout
        url: %[1]s/checkout
      - name: legacy
        url: %[1]s/legacy
`
	const after = `
companies:
  - name: acme
    contacts:
      email: [oncall@acme.test]
    endpoints:
      - name: checkout
        url: %[1]s/checkout
`
	for _, tc := range []struct {
		name  string
		apply func(t *testing.T, s *alertingStack, d *runningDaemon, config string) *runningDaemon
	}{
		{"restart", func(t *testing.T, s *alertingStack, d *runningDaemon, config string) *runningDaemon {
			d.signal(syscall.SIGTERM)
			if code := d.wait(5 * time.Second); code != 0 {
				t.Fatalf("exit code after SIGTERM = %d, want 0\nstderr:\n%s", code, d.stderr)
			}
			return s.startDaemon(s.writeConfig("apiwatch.yml", after))
		}},
		{"SIGHUP reload", func(t *testing.T, s *alertingStack, d *runningDaemon, config string) *runningDaemon {
			// Written beside the configuration and renamed over it, so that
			// the file watcher never reads half a file.
			tmp := s.writeConfig("apiwatch.yml.new", after)
			if err := os.Rename(tmp, config); err != nil {
				t.Fatalf("replacing the configuration: %v", err)
			}
			d.signal(syscall.SIGHUP)
			if d.stderr.waitFor(reloadedPattern, 10*time.Second) == nil {
				t.Fatalf("apiwatch did not log a successful reload\nstderr:\n%s", d.stderr)
			}
			return d
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newAlertingStack(t, 1)
			am := s.alertmanagers[0]
			d, config := s.start(before)
			d.waitForStates(map[string]string{"legacy": "up"}, time.Now().Add(stateTimeout))
			s.target.setDown("/legacy", true)
			down := since(t, d.waitForStates(map[string]string{"legacy": "down"}, time.Now().Add(stateTimeout))["legacy"])
			am.waitForActiveAlert("acme", "legacy")
			s.mail.waitForMail("oncall@acme.test", "[FIRING:1]")

			removing := time.Now()
			d = tc.apply(t, s, d, config)
			got := am.proxy.waitForPost("acme", "legacy", func(a postedAlert) bool { return !a.EndsAt.After(a.received) })
			if !got.StartsAt.Equal(wireTime(down)) {
				t.Errorf("resolved alert startsAt = %v, want %v", got.StartsAt, wireTime(down))
			}
			if got.EndsAt.Before(wireTime(removing)) {
				t.Errorf("resolved alert endsAt = %v, want the time of the removal, after %v", got.EndsAt, removing)
			}
			am.waitForNoActiveAlert("acme", "legacy")
			resolved := s.mail.waitForMail("oncall@acme.test", "[RESOLVED]")
			checkMail(t, resolved, "[RESOLVED] EndpointDown acme legacy (critical)", "[1] Resolved", "endpoint = legacy")
			if code, body := d.get("/api/v1/endpoints/acme/legacy"); code != http.StatusNotFound {
				t.Errorf("GET /api/v1/endpoints/acme/legacy: status %d, want 404: %s", code, body)
			}
		})
	}
}

// TestEveryAlertmanagerGetsEveryAlert runs two Alertmanagers side by side
// without clustering, as a pair that shares no state. Each gets every alert
// through its own queue, so a stopped one delays nothing for the other.
func TestEveryAlertmanagerGetsEveryAlert(t *testing.T) {
	t.Parallel()
	s := newAlertingStack(t, 2)
	first, second := s.alertmanagers[0], s.alertmanagers[1]
	d, _ := s.start(twoCompanies)
	d.waitForStates(map[string]string{"checkout": "up"}, time.Now().Add(stateTimeout))

	second.stop()
	s.target.setDown("/acme/checkout", true)
	down := since(t, d.waitForStates(map[string]string{"checkout": "down"}, time.Now().Add(stateTimeout))["checkout"])
	got := first.proxy.waitForPost("acme", "checkout", func(postedAlert) bool { return true })
	if delay := got.received.Sub(down); delay > time.Second {
		t.Errorf("alert reached the running Alertmanager %v after the endpoint went down, want within 1s", delay)
	}
	checkFiringAlert(t, first, first.waitForActiveAlert("acme", "checkout"), "acme", "checkout", down,
		map[string]string{"team": "payments"})

	second.start()
	checkFiringAlert(t, second, second.waitForActiveAlert("acme", "checkout"), "acme", "checkout", down,
		map[string]string{"team": "payments"})

	// Unclustered Alertmanagers share no notification log, so each one
	// notifies: the contact gets every mail twice.
	waitForMailCount(t, s.mail, "oncall@acme.test", "[FIRING:1]", 2)

	s.target.setDown("/acme/checkout", false)
	up := since(t, d.waitForStates(map[string]string{"checkout": "up"}, time.Now().Add(stateTimeout))["checkout"])
	for _, am := range s.alertmanagers {
		checkResolvedPost(t, am, "acme", "checkout", down, up)
		am.waitForNoActiveAlert("acme", "checkout")
	}
	waitForMailCount(t, s.mail, "oncall@acme.test", "[RESOLVED]", 2)

	_, metrics := d.get("/metrics")
	dropped := metricSeries(t, metrics, "apiwatch_notifications_dropped_total", "alertmanager")
	errors := metricSeries(t, metrics, "apiwatch_notifications_errors_total", "alertmanager")
	sent := metricSeries(t, metrics, "apiwatch_notifications_sent_total", "alertmanager")
	for _, am := range s.alertmanagers {
		if got, ok := dropped[am.url()]; !ok || got != 0 {
			t.Errorf("%s: apiwatch_notifications_dropped_total = %v (present %v), want 0", am.url(), got, ok)
		}
		if sent[am.url()] == 0 {
			t.Errorf("%s: apiwatch_notifications_sent_total = 0, want the alerts counted", am.url())
		}
	}
	if got := errors[first.url()]; got != 0 {
		t.Errorf("%s: apiwatch_notifications_errors_total = %v, want 0", first.url(), got)
	}
	if got := errors[second.url()]; got == 0 {
		t.Errorf("%s: apiwatch_notifications_errors_total = 0, want the attempts while it was stopped", second.url())
	}
}

// waitForMailCount waits until exactly n mails to addr have a subject that
// starts with prefix.
func waitForMailCount(t *testing.T, mail *mailpit, addr, prefix string, n int) {
	t.Helper()
	var got []string
	if !poll(notifyTimeout, func() bool {
		got = nil
		for _, subject := range subjects(mail.messagesTo(addr)) {
			if strings.HasPrefix(subject, prefix) {
				got = append(got, subject)
			}
		}
		return len(got) == n
	}) {
		t.Errorf("mails to %s starting %q: %q, want %d", addr, prefix, got, n)
	}
}
