package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFailingPaths(t *testing.T) {
	tests := []struct{ k, n int }{{1, 2}, {1, 200}, {20, 200}, {100, 10000}, {5000, 10000}}
	for _, tt := range tests {
		paths, share := failingPaths(tt.k, tt.n)
		if len(paths) != tt.k {
			t.Fatalf("failingPaths(%d, %d) returned %d paths", tt.k, tt.n, len(paths))
		}
		if !slices.IsSorted(paths) {
			t.Errorf("failingPaths(%d, %d) paths not sorted: %v", tt.k, tt.n, paths)
		}
		var failing []int
		for i := range tt.n {
			if (faults{Fail: share}).behaviourOf(i) == behaveFail {
				failing = append(failing, i)
			}
		}
		if !slices.Equal(failing, paths) {
			t.Errorf("failingPaths(%d, %d): share %v fails %d paths %v, want exactly %v",
				tt.k, tt.n, share, len(failing), failing, paths)
		}
	}
}

func TestNewAlertPlan(t *testing.T) {
	sc := scenario{Endpoints: 10000, Interval: 10 * time.Second, Timeout: 5 * time.Second}
	p, err := newAlertPlan(sc, 100)
	if err != nil {
		t.Fatalf("newAlertPlan: %v", err)
	}
	if len(p.Paths) != 100 {
		t.Errorf("plan has %d paths, want 100", len(p.Paths))
	}
	if p.Bound != 16*time.Second {
		t.Errorf("Bound = %v, want 16s: interval, timeout and 1s", p.Bound)
	}
	for _, k := range []int{0, -1, 5001} {
		if _, err := newAlertPlan(sc, k); err == nil || !strings.Contains(err.Error(), "invalid -alert-paths") {
			t.Errorf("newAlertPlan(%d) error = %v, want an invalid -alert-paths error", k, err)
		}
	}
}

func TestBuildScenariosAlert(t *testing.T) {
	got, err := buildScenarios(scenarioSpec{Kinds: []string{"alert"}, Endpoints: []int{1000}, Rate: 1000,
		Timeout: 5 * time.Second, Windows: []time.Duration{time.Minute}, AlertPaths: 10})
	if err != nil {
		t.Fatalf("buildScenarios: %v", err)
	}
	sc := got[0]
	if sc.Alert == nil || len(sc.Alert.Paths) != 10 || sc.Alert.Bound != 3*time.Second {
		t.Fatalf("alert-1000 plan = %+v, want 10 paths and a bound of 3s", sc.Alert)
	}
	if sc.supports("floor") || !sc.supports("apiwatch") {
		t.Errorf("alert supports floor %v, apiwatch %v; want only apiwatch", sc.supports("floor"), sc.supports("apiwatch"))
	}
	if sc.measuresCost() {
		t.Errorf("alert scenario counts as a cost scenario")
	}
}

func TestParseAlertPost(t *testing.T) {
	arrived := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	body := `[
	 {"labels":{"alertname":"EndpointDown","company":"c","endpoint":"endpoint-1"},
	  "startsAt":"2026-12-04T11:59:59.5Z","endsAt":"2026-12-04T12:04:00Z"},
	 {"labels":{"alertname":"EndpointDown","company":"c","endpoint":"endpoint-2"},
	  "startsAt":"2026-12-04T11:50:00Z","endsAt":"2026-12-04T11:59:59.9Z"},
	 {"labels":{"alertname":"EndpointDegraded","company":"c","endpoint":"endpoint-3"}}
	]`
	got, err := parseAlertPost([]byte(body), arrived)
	if err != nil {
		t.Fatalf("parseAlertPost: %v", err)
	}
	want := []postedAlert{
		{Name: "EndpointDown", Endpoint: "endpoint-1", Firing: true},
		{Name: "EndpointDown", Endpoint: "endpoint-2", Firing: false},
		{Name: "EndpointDegraded", Endpoint: "endpoint-3", Firing: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseAlertPost =\n%+v, want\n%+v", got, want)
	}
	if _, err := parseAlertPost([]byte(`{"labels":{}}`), arrived); err == nil {
		t.Errorf("parseAlertPost accepted an object instead of a list")
	}
}

func TestMeasureAlertLatency(t *testing.T) {
	switchAt := time.Unix(1_800_000_000, 0)
	at := func(ms int) time.Time { return switchAt.Add(time.Duration(ms) * time.Millisecond) }
	ns := func(ms int) int64 { return at(ms).UnixNano() }
	post := func(arrived, acked, status int, alerts ...postedAlert) alertPost {
		return alertPost{Arrived: at(arrived), Acked: at(acked), Status: status, Alerts: alerts}
	}
	down := func(i string) postedAlert { return postedAlert{"EndpointDown", "endpoint-" + i, true} }
	resolved := func(i string) postedAlert { return postedAlert{"EndpointDown", "endpoint-" + i, false} }

	hits := [][]int64{
		{ns(-5000), ns(1000), ns(6000)}, // path 0: probed 1 s after the switch
		{ns(-1000), ns(4000)},           // path 1: probed 4 s after
		{ns(2000)},                      // path 2: its alert is rejected, then accepted
		{ns(3000)},                      // path 3: no alert reaches Alertmanager
		{ns(9000)},                      // path 4: not failing
	}
	posts := []alertPost{
		post(-100, -99, 200, down("0")), // before the switch: ignored
		post(1003, 1005, 200, down("0")),
		post(2002, 2003, 503, down("2")), // rejected: ignored
		post(3500, 3502, 200, down("2")),
		post(4003, 20_000, 200, down("1"), resolved("3")), // slow response, and a resolved alert
		post(4010, 4011, 200, down("0")),                  // a later copy does not count
	}
	got := measureAlertLatency([]int{0, 1, 2, 3}, hits, posts, true, switchAt, 16*time.Second)
	want := alertLatency{
		Arrived: 3, Missing: 1,
		Total:     durationStats{P50: 3502 * time.Millisecond, P99: 20 * time.Second, Max: 20 * time.Second},
		OverBound: 1,
		Probe:     durationStats{P50: 2 * time.Second, P99: 4 * time.Second, Max: 4 * time.Second},
		Notify:    durationStats{P50: 1502 * time.Millisecond, P99: 16 * time.Second, Max: 16 * time.Second},
	}
	if got != want {
		t.Errorf("measureAlertLatency firing =\n%+v, want\n%+v", got, want)
	}

	// Path 3 recovers at 3.5 s, and no hit follows before its resolved
	// alert, so the probe figures stay empty.
	recoverAt := at(3500)
	gotResolved := measureAlertLatency([]int{3}, hits, posts, false, recoverAt, 16*time.Second)
	if gotResolved.Arrived != 1 || gotResolved.Total.Max != 16500*time.Millisecond || gotResolved.OverBound != 1 {
		t.Errorf("measureAlertLatency resolved = %+v, want path 3 at 16.5s, over the bound", gotResolved)
	}
	if gotResolved.Probe != (durationStats{}) || gotResolved.Notify != (durationStats{}) {
		t.Errorf("resolved Probe = %+v, Notify = %+v, want none", gotResolved.Probe, gotResolved.Notify)
	}

	total, rejected, before, unexpected := countPosts(posts, []int{0, 1, 2, 3}, switchAt)
	if total != 6 || rejected != 1 || before != 1 || unexpected != 0 {
		t.Errorf("countPosts = %d, %d, %d, %d; want 6 posts, 1 rejected, 1 before the switch, 0 unexpected",
			total, rejected, before, unexpected)
	}
	if _, _, _, unexpected := countPosts(posts, []int{0, 1}, switchAt); unexpected != 3 {
		t.Errorf("countPosts with paths 0 and 1 failing: %d unexpected alerts, want 3 (endpoints 2, 2 and 3)", unexpected)
	}
}

// fakeAlertmanager is an Alertmanager API that responds to every POST of
// alerts with status and always lists the same two alerts.
func fakeAlertmanager(t *testing.T, status int) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v2/alerts", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(status)
	})
	mux.HandleFunc("GET /api/v2/alerts", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`[{"labels":{"endpoint":"endpoint-1"}},{"labels":{"endpoint":"endpoint-9"}}]`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestAlertRecorderForwardsAndRecords(t *testing.T) {
	tests := []struct {
		name   string
		status int
	}{
		{"accepted", http.StatusOK},
		{"rejected", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			am := fakeAlertmanager(t, tt.status)
			client := &http.Client{Transport: &http.Transport{Proxy: nil}}
			rec := newAlertRecorder(am.URL, client)
			proxy := httptest.NewServer(rec)
			defer proxy.Close()

			before := time.Now()
			body := `[{"labels":{"alertname":"EndpointDown","endpoint":"endpoint-1"},"endsAt":"2999-01-01T00:00:00Z"}]`
			resp, err := client.Post(proxy.URL+"/api/v2/alerts", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatalf("POST through the proxy: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("proxy answered %d, want Alertmanager's %d", resp.StatusCode, tt.status)
			}
			posts := rec.snapshot()
			if len(posts) != 1 {
				t.Fatalf("recorded %d posts, want 1", len(posts))
			}
			p := posts[0]
			if p.Status != tt.status {
				t.Errorf("recorded status %d, want %d", p.Status, tt.status)
			}
			if p.Arrived.Before(before) || p.Acked.Before(p.Arrived) {
				t.Errorf("arrived %v, acked %v: want before %v <= arrived <= acked", p.Arrived, p.Acked, before)
			}
			want := []postedAlert{{Name: "EndpointDown", Endpoint: "endpoint-1", Firing: true}}
			if !slices.Equal(p.Alerts, want) {
				t.Errorf("recorded alerts %+v, want %+v", p.Alerts, want)
			}
		})
	}
}

func TestAlertRecorderWaitAll(t *testing.T) {
	am := fakeAlertmanager(t, http.StatusOK)
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	rec := newAlertRecorder(am.URL, client)
	proxy := httptest.NewServer(rec)
	defer proxy.Close()

	since := time.Now()
	done := make(chan error, 1)
	go func() {
		done <- rec.waitAll(context.Background(), []string{"endpoint-1", "endpoint-2"}, true, since,
			time.Now().Add(time.Minute))
	}()
	for _, e := range []string{"endpoint-1", "endpoint-2"} {
		body := `[{"labels":{"endpoint":"` + e + `"}}]`
		resp, err := client.Post(proxy.URL+"/api/v2/alerts", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		resp.Body.Close()
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("waitAll: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("waitAll did not return after both alerts arrived")
	}

	// An alert that never comes ends the wait at the deadline, with no
	// error: the result counts it as missing.
	start := time.Now()
	err := rec.waitAll(context.Background(), []string{"endpoint-3"}, true, since, start.Add(50*time.Millisecond))
	if err != nil {
		t.Errorf("waitAll at the deadline: %v, want nil", err)
	}
	if elapsed := time.Since(start); elapsed < 50*time.Millisecond {
		t.Errorf("waitAll returned after %v, before the deadline", elapsed)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := rec.waitAll(ctx, []string{"endpoint-3"}, true, since, time.Now().Add(time.Minute)); err == nil {
		t.Errorf("waitAll with a cancelled context returned nil")
	}

	a := &alertmanagerEnv{url: am.URL}
	n, err := a.countActive(client, []string{"endpoint-1", "endpoint-2"})
	if err != nil || n != 1 {
		t.Errorf("countActive = %d, %v; want 1 (endpoint-1 of the two listed)", n, err)
	}
}
