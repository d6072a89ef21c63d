package alerting

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/apiwatch/apiwatch/collector"
)

// TestDeliveryAfterAlertmanagerOutage keeps the Alertmanager failing for
// longer than two resend intervals while the endpoint goes down, and
// perhaps up again, then lets it recover.
func TestDeliveryAfterAlertmanagerOutage(t *testing.T) {
	for _, failure := range []struct {
		name string
		b    amBehaviour
	}{{"500", amFail500}, {"refused", amRefuse}} {
		for _, recovers := range []bool{false, true} {
			name := failure.name + "/still down"
			if recovers {
				name = failure.name + "/recovered meanwhile"
			}
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					testDeliveryAfterOutage(t, failure.b, recovers)
				})
			})
		}
	}
}

func testDeliveryAfterOutage(t *testing.T, failure amBehaviour, recovers bool) {
	const resend = time.Minute
	am := newFakeAM(t)
	am.set(failure)
	h := newHarness(t, "", nil, Options{ResendInterval: resend})
	h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
	h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
	h.start()
	synctest.Wait()

	time.Sleep(10 * time.Second)
	downAt := time.Now()
	h.transition(apiKey, down(downAt, downAt))
	var upAt time.Time
	if recovers {
		time.Sleep(50 * time.Second)
		upAt = time.Now()
		h.transition(apiKey, up(upAt, upAt))
	}
	// Recover half-way between two resends.
	time.Sleep(time.Until(downAt.Add(5 * resend / 2)))
	synctest.Wait()
	if n := h.n.loops[0].queue.len(); n != 1 {
		t.Errorf("queue holds %d alerts during the outage, want 1", n)
	}
	amBackAt := time.Now()
	am.set(amOK)
	time.Sleep(2 * resend)
	synctest.Wait()

	if am.failureCount() == 0 {
		t.Fatalf("the Alertmanager failed no request")
	}
	sent := alertsOf(am.received())
	if len(sent) == 0 {
		t.Fatalf("nothing delivered after the Alertmanager recovered")
	}
	first := sent[0]
	// A retryable failure keeps the batch and retries it at most
	// maxBackoff apart, sooner than the next resend would bring it.
	if d := first.at.Sub(amBackAt); d < 0 || d > maxBackoff {
		t.Errorf("first delivery %s after the Alertmanager recovered, want within %s", d, maxBackoff)
	}
	if got := time.Time(first.a.StartsAt); !got.Equal(downAt) {
		t.Errorf("startsAt = %s, want the original %s", got, downAt)
	}
	endsAt := time.Time(first.a.EndsAt)
	switch {
	case recovers && !endsAt.Equal(upAt):
		t.Errorf("endsAt = %s, want the recovery %s", endsAt, upAt)
	case !recovers && endsAt.Sub(first.at) != 4*resend:
		t.Errorf("endsAt = %s, want a lease of %s from the send at %s", endsAt, 4*resend, first.at)
	}
	if !equalLabels(first.a.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", first.a.Labels, wantLabels)
	}
	if got := counter(t, h.n.metrics.dropped, "http://am1"); got != 0 {
		t.Errorf("dropped = %v, want 0", got)
	}
	if got := counter(t, h.n.metrics.errors, "http://am1"); got == 0 {
		t.Errorf("errors = 0, want the failed attempts counted")
	}
}

// TestDeliveryHangingAlertmanager checks that an Alertmanager that never
// responds delays no other, and that its replacement gets every alert.
func TestDeliveryHangingAlertmanager(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hanging, healthy, replacement := newFakeAM(t), newFakeAM(t), newFakeAM(t)
		hanging.set(amHang)
		h := newHarness(t, "", nil, Options{ResendInterval: time.Minute})
		h.n.SetAlertmanagers([]Alertmanager{hanging.alertmanager("hanging"), healthy.alertmanager("healthy")})
		policies := map[collector.Key]*EndpointPolicy{}
		for i := range 200 {
			policies[collector.Key{Company: "acme", Endpoint: fmt.Sprintf("api-%03d", i)}] = policy()
		}
		h.n.SetPolicies(policies)
		h.start()
		synctest.Wait()

		downAt := time.Now()
		for key := range policies {
			h.transition(key, down(downAt, downAt))
		}
		synctest.Wait()
		got := map[string]bool{}
		for _, s := range alertsOf(healthy.received()) {
			if !s.at.Equal(downAt) {
				t.Errorf("%s delivered %s after it fired, want at once", s.a.Labels["endpoint"], s.at.Sub(downAt))
			}
			got[s.a.Labels["endpoint"]] = true
		}
		if len(got) != 200 {
			t.Errorf("healthy Alertmanager got %d distinct alerts, want 200", len(got))
		}

		// The hanging Alertmanager's request times out after 10s.
		time.Sleep(15 * time.Second)
		synctest.Wait()
		if n := counter(t, h.n.metrics.errors, "http://hanging"); n < 1 {
			t.Errorf("errors of the hanging Alertmanager = %v, want at least 1", n)
		}
		if n := counter(t, h.n.metrics.errors, "http://healthy"); n != 0 {
			t.Errorf("errors of the healthy Alertmanager = %v, want 0", n)
		}
		if count, sum := latency(t, h, "http://hanging"); count < 1 || sum < 10 {
			t.Errorf("latency of the hanging Alertmanager: %d requests taking %.1fs, want at least 1 taking 10s", count, sum)
		}

		replacedAt := time.Now()
		h.n.SetAlertmanagers([]Alertmanager{replacement.alertmanager("replacement"), healthy.alertmanager("healthy")})
		synctest.Wait()
		got = map[string]bool{}
		for _, s := range alertsOf(replacement.received()) {
			if !s.at.Equal(replacedAt) {
				t.Errorf("replacement got %s %s after it was added, want at once", s.a.Labels["endpoint"], s.at.Sub(replacedAt))
			}
			if !time.Time(s.a.StartsAt).Equal(downAt) || !time.Time(s.a.EndsAt).After(s.at) {
				t.Errorf("replacement got %s with startsAt %s and endsAt %s, want firing since %s",
					s.a.Labels["endpoint"], time.Time(s.a.StartsAt), time.Time(s.a.EndsAt), downAt)
			}
			got[s.a.Labels["endpoint"]] = true
		}
		if len(got) != 200 {
			t.Errorf("replacement Alertmanager got %d distinct alerts, want 200", len(got))
		}
		if series := seriesOf(t, h, "apiwatch_notifications_errors_total"); strings.Contains(series, "hanging") {
			t.Errorf("series of the removed Alertmanager remain: %s", series)
		}
	})
}

// TestDeliveryRejected checks that a 400 is logged with the response body,
// counted as an error, and not retried before the next resend.
func TestDeliveryRejected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		am := newFakeAM(t)
		am.set(amReject400)
		h := newHarness(t, "", nil, Options{ResendInterval: time.Minute})
		h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
		h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
		h.start()
		synctest.Wait()

		h.transition(apiKey, down(time.Now(), time.Now()))
		synctest.Wait()
		if n := am.failureCount(); n != 1 {
			t.Fatalf("Alertmanager got %d requests, want 1", n)
		}
		logs := h.logs.String()
		for _, want := range []string{"status=400", `startsAt must be before endsAt`, "alertmanager=http://am1"} {
			if !strings.Contains(logs, want) {
				t.Errorf("log lacks %q:\n%s", want, logs)
			}
		}
		if n := counter(t, h.n.metrics.errors, "http://am1"); n != 1 {
			t.Errorf("errors = %v, want 1", n)
		}
		if n := h.n.loops[0].queue.len(); n != 0 {
			t.Errorf("queue holds %d alerts after the rejection, want 0", n)
		}

		time.Sleep(time.Minute - time.Second)
		synctest.Wait()
		if n := am.failureCount(); n != 1 {
			t.Errorf("Alertmanager got %d requests before the next resend, want 1", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n := am.failureCount(); n != 2 {
			t.Errorf("Alertmanager got %d requests after the next resend, want 2", n)
		}
	})
}

// TestShutdownDrain checks the last attempt at shutdown: queued alerts
// reach an Alertmanager that responds, and one that hangs holds up Run for
// no longer than drainTimeout.
func TestShutdownDrain(t *testing.T) {
	for _, tc := range []struct {
		name      string
		atStop    amBehaviour
		delivered bool
	}{
		{"delivers queued alerts", amOK, true},
		{"gives up on a hanging Alertmanager", amHang, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				am := newFakeAM(t)
				am.set(amFail500)
				h := newHarness(t, "", nil, Options{ResendInterval: time.Minute})
				h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
				h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
				h.start()
				synctest.Wait()
				h.transition(apiKey, down(time.Now(), time.Now()))
				time.Sleep(3 * time.Second)

				am.set(tc.atStop)
				stopAt := time.Now()
				h.cancel()
				<-h.done
				h.cancel = nil
				if took := time.Since(stopAt); took > drainTimeout {
					t.Errorf("Run took %s to return, want at most %s", took, drainTimeout)
				}
				if got := len(am.received()) == 1; got != tc.delivered {
					t.Errorf("alert delivered at shutdown: %v, want %v", got, tc.delivered)
				}
			})
		})
	}
}

// latency returns the request count and total seconds of an
// Alertmanager's latency histogram.
func latency(t *testing.T, h *harness, am string) (uint64, float64) {
	t.Helper()
	for _, m := range family(t, h, "apiwatch_notification_latency_seconds") {
		if labelValue(m, "alertmanager") == am {
			return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
		}
	}
	return 0, 0
}

// family returns the metrics of one family from the harness's registry.
func family(t *testing.T, h *harness, name string) []*dto.Metric {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

// seriesOf lists the label sets of a family, one per line.
func seriesOf(t *testing.T, h *harness, name string) string {
	t.Helper()
	var lines []string
	for _, m := range family(t, h, name) {
		var pairs []string
		for _, l := range m.GetLabel() {
			pairs = append(pairs, l.GetName()+"="+l.GetValue())
		}
		lines = append(lines, strings.Join(pairs, ","))
	}
	return strings.Join(lines, "\n")
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestSetAlertmanagersChangedPassword reloads an Alertmanager whose URL
// gained a new password: its name, the redacted URL, is unchanged, so it
// keeps its loop, queue and metric series, and the new password is used.
func TestSetAlertmanagersChangedPassword(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		am := newFakeAM(t)
		am.set(amRefuse)
		withPassword := func(pw string) Alertmanager {
			a := am.alertmanager("am1")
			a.URL.User = url.UserPassword("apiwatch", pw)
			a.Name = "http://apiwatch:xxxxx@am1"
			return a
		}
		h := newHarness(t, "", nil, Options{ResendInterval: time.Minute})
		h.n.SetAlertmanagers([]Alertmanager{withPassword("old-pw")})
		h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
		h.start()
		synctest.Wait()
		h.transition(apiKey, down(time.Now(), time.Now()))
		synctest.Wait()
		loop := h.n.loops[0]

		am.set(amOK)
		h.n.SetAlertmanagers([]Alertmanager{withPassword("new-pw")})
		if len(h.n.loops) != 1 || h.n.loops[0] != loop {
			t.Fatalf("the Alertmanager got a new loop, want its loop kept")
		}
		time.Sleep(maxBackoff)
		synctest.Wait()
		posts := am.received()
		if len(posts) != 1 {
			t.Fatalf("got %d posts, want the queued alert delivered once", len(posts))
		}
		if user, pw, _ := basicAuth(posts[0]); user != "apiwatch" || pw != "new-pw" {
			t.Errorf("credentials = %q:%q, want apiwatch:new-pw", user, pw)
		}
		if n := counter(t, h.n.metrics.errors, "http://apiwatch:xxxxx@am1"); n < 1 {
			t.Errorf("errors = %v, want the failures before the reload kept", n)
		}
		if series := seriesOf(t, h, "apiwatch_notifications_sent_total"); series != "alertmanager=http://apiwatch:xxxxx@am1" {
			t.Errorf("sent_total series = %q, want the one Alertmanager", series)
		}
	})
}

// basicAuth returns the basic auth credentials of a recorded post.
func basicAuth(p post) (user, password string, ok bool) {
	r := &http.Request{Header: p.header}
	return r.BasicAuth()
}

// TestBackoffShortResendInterval checks that with a resend interval
// shorter than twice maxBackoff, an Alertmanager that comes back still gets
// the queued alert within one resend interval.
func TestBackoffShortResendInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const resend = 2 * time.Second
		am := newFakeAM(t)
		am.set(amFail500)
		h := newHarness(t, "", nil, Options{ResendInterval: resend})
		h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
		h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
		h.start()
		synctest.Wait()
		h.transition(apiKey, down(time.Now(), time.Now()))
		// Long enough for an uncapped backoff to reach maxBackoff.
		time.Sleep(30*time.Second + 100*time.Millisecond)
		backAt := time.Now()
		am.set(amOK)
		time.Sleep(2 * resend)
		synctest.Wait()
		posts := am.received()
		if len(posts) == 0 {
			t.Fatal("nothing delivered after the Alertmanager came back")
		}
		if d := posts[0].at.Sub(backAt); d > resend {
			t.Errorf("first delivery %s after the Alertmanager came back, want within the resend interval %s", d, resend)
		}
	})
}
