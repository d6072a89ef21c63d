package collector

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// probeEpoch is an arbitrary start for synthetic probe results, with a
// millisecond part so that exact timestamp checks catch rounding.
var probeEpoch = time.Date(2026, 3, 1, 12, 0, 0, 123_000_000, time.UTC)

// probeDuration is the duration of every synthetic probe result.
const probeDuration = 250 * time.Millisecond

// syntheticResult returns the result of probe number i (from 0), started
// i*10s after probeEpoch: a 200 when ok, else a 503 failing with
// ReasonStatus.
func syntheticResult(i int, ok bool) Result {
	r := Result{
		Start:    probeEpoch.Add(time.Duration(i) * 10 * time.Second),
		Duration: probeDuration,
		Success:  ok,
	}
	if ok {
		r.StatusCode = 200
	} else {
		r.StatusCode = 503
		r.Reason = ReasonStatus
		r.Message = "unexpected status code 503"
	}
	return r
}

func resultEnd(r Result) time.Time { return r.Start.Add(r.Duration) }

func TestStatusApplyThresholds(t *testing.T) {
	const (
		U = StateUnknown
		P = StateUp
		D = StateDown
	)
	tests := []struct {
		name             string
		failureThreshold int
		successThreshold int
		from             State
		probes           string // one letter per probe: o = success, x = failure
		want             []State
		// wantFailures and wantSuccesses are the consecutive counters after
		// each probe.
		wantFailures  []int
		wantSuccesses []int
	}{
		{
			name: "unknown to up on first success", failureThreshold: 3, successThreshold: 2,
			from: U, probes: "o",
			want: []State{P}, wantFailures: []int{0}, wantSuccesses: []int{1},
		},
		{
			name: "unknown to down at failure threshold", failureThreshold: 3, successThreshold: 2,
			from: U, probes: "xxxx",
			want: []State{U, U, D, D}, wantFailures: []int{1, 2, 3, 4}, wantSuccesses: []int{0, 0, 0, 0},
		},
		{
			name: "unknown to up after failures below threshold", failureThreshold: 3, successThreshold: 2,
			from: U, probes: "xxo",
			want: []State{U, U, P}, wantFailures: []int{1, 2, 0}, wantSuccesses: []int{0, 0, 1},
		},
		{
			name: "up to down at failure threshold", failureThreshold: 3, successThreshold: 2,
			from: P, probes: "xxx",
			want: []State{P, P, D}, wantFailures: []int{1, 2, 3}, wantSuccesses: []int{0, 0, 0},
		},
		{
			name: "success resets failure streak", failureThreshold: 3, successThreshold: 2,
			from: P, probes: "xxoxx",
			want: []State{P, P, P, P, P}, wantFailures: []int{1, 2, 0, 1, 2}, wantSuccesses: []int{0, 0, 1, 0, 0},
		},
		{
			name: "down to up at success threshold", failureThreshold: 3, successThreshold: 2,
			from: D, probes: "ooo",
			want: []State{D, P, P}, wantFailures: []int{0, 0, 0}, wantSuccesses: []int{1, 2, 3},
		},
		{
			name: "failure resets success streak", failureThreshold: 3, successThreshold: 2,
			from: D, probes: "oxoo",
			want: []State{D, D, D, P}, wantFailures: []int{0, 1, 0, 0}, wantSuccesses: []int{1, 0, 1, 2},
		},
		{
			name: "thresholds of one", failureThreshold: 1, successThreshold: 1,
			from: P, probes: "xoxo",
			want: []State{D, P, D, P}, wantFailures: []int{1, 0, 1, 0}, wantSuccesses: []int{0, 1, 0, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Status{State: tt.from}
			for i, c := range tt.probes {
				before := s.State
				changed := s.apply(syntheticResult(i, c == 'o'), tt.failureThreshold, tt.successThreshold)
				if s.State != tt.want[i] {
					t.Errorf("probe %d (%c): state %s, want %s", i, c, s.State, tt.want[i])
				}
				if changed != (before != s.State) {
					t.Errorf("probe %d (%c): changed = %t, but state went from %s to %s", i, c, changed, before, s.State)
				}
				if s.ConsecutiveFailures != tt.wantFailures[i] {
					t.Errorf("probe %d (%c): ConsecutiveFailures = %d, want %d", i, c, s.ConsecutiveFailures, tt.wantFailures[i])
				}
				if s.ConsecutiveSuccesses != tt.wantSuccesses[i] {
					t.Errorf("probe %d (%c): ConsecutiveSuccesses = %d, want %d", i, c, s.ConsecutiveSuccesses, tt.wantSuccesses[i])
				}
			}
		})
	}
}

func TestStatusApplyTimestamps(t *testing.T) {
	var s Status
	checkTime := func(step, field string, got, want time.Time) {
		t.Helper()
		if !got.Equal(want) {
			t.Errorf("%s: %s = %v, want %v", step, field, got, want)
		}
	}

	// A failure below the threshold sets the failure fields but no Since.
	first := syntheticResult(0, false)
	s.apply(first, 2, 1)
	checkTime("first failure", "LastCheck", s.LastCheck, resultEnd(first))
	checkTime("first failure", "LastFailure", s.LastFailure, resultEnd(first))
	checkTime("first failure", "LastSuccess", s.LastSuccess, time.Time{})
	checkTime("first failure", "Since", s.Since, time.Time{})

	// The second failure turns the endpoint down at its end time.
	second := syntheticResult(1, false)
	s.apply(second, 2, 1)
	checkTime("down", "Since", s.Since, resultEnd(second))
	checkTime("down", "LastFailure", s.LastFailure, resultEnd(second))
	if s.LastStatusCode != 503 || s.LastReason != ReasonStatus || s.LastError != "unexpected status code 503" {
		t.Errorf("down: last probe = %d %q %q, want 503 status \"unexpected status code 503\"",
			s.LastStatusCode, s.LastReason, s.LastError)
	}
	if s.LastDuration != probeDuration {
		t.Errorf("down: LastDuration = %v, want %v", s.LastDuration, probeDuration)
	}

	// A success turns it up; the failure fields keep the last failure.
	third := syntheticResult(2, true)
	s.apply(third, 2, 1)
	checkTime("up", "Since", s.Since, resultEnd(third))
	checkTime("up", "LastCheck", s.LastCheck, resultEnd(third))
	checkTime("up", "LastSuccess", s.LastSuccess, resultEnd(third))
	checkTime("up", "LastFailure", s.LastFailure, resultEnd(second))
	if s.LastReason != ReasonNone || s.LastError != "" || s.LastStatusCode != 200 {
		t.Errorf("up: last probe = %d %q %q, want 200 with no reason or error", s.LastStatusCode, s.LastReason, s.LastError)
	}
	if s.FailureReason != ReasonStatus || s.FailureMessage != "unexpected status code 503" {
		t.Errorf("up: failure = %q %q, want the 503 of the last failure", s.FailureReason, s.FailureMessage)
	}

	// Another success changes nothing but the last-probe fields.
	fourth := syntheticResult(3, true)
	if s.apply(fourth, 2, 1) {
		t.Errorf("second success reported a transition")
	}
	checkTime("still up", "Since", s.Since, resultEnd(third))
	checkTime("still up", "LastSuccess", s.LastSuccess, resultEnd(fourth))
}

// runProbes applies one result per letter of probes (o = success, x =
// failure) and returns the indexes of the probes that changed the state.
func runProbes(s *Status, probes string, failureThreshold, successThreshold int) []int {
	var changedAt []int
	for i, c := range probes {
		if s.apply(syntheticResult(i, c == 'o'), failureThreshold, successThreshold) {
			changedAt = append(changedAt, i)
		}
	}
	return changedAt
}

func TestStatusApplyFlapping(t *testing.T) {
	// 30 probes alternating 200 and 503, starting with a 200.
	probes := strings.Repeat("ox", 15)
	var s Status
	changedAt := runProbes(&s, probes, 3, 2)
	if len(changedAt) != 1 || changedAt[0] != 0 {
		t.Fatalf("transitions at probes %v, want only the first up at probe 0", changedAt)
	}
	if s.State != StateUp {
		t.Errorf("final state %s, want up", s.State)
	}
	if !s.Since.Equal(resultEnd(syntheticResult(0, true))) {
		t.Errorf("Since = %v, want the end of probe 0", s.Since)
	}
}

func TestStatusApplyOutageThenRecovery(t *testing.T) {
	// Up, three failures, then two successes.
	var s Status
	changedAt := runProbes(&s, "oxxxoo", 3, 2)
	want := []int{0, 3, 5}
	if len(changedAt) != len(want) {
		t.Fatalf("transitions at probes %v, want %v", changedAt, want)
	}
	for i := range want {
		if changedAt[i] != want[i] {
			t.Fatalf("transitions at probes %v, want %v", changedAt, want)
		}
	}
	if !s.Since.Equal(resultEnd(syntheticResult(5, true))) {
		t.Errorf("Since = %v, want the end of probe 5", s.Since)
	}
	if !s.LastFailure.Equal(resultEnd(syntheticResult(3, false))) {
		t.Errorf("LastFailure = %v, want the end of probe 3", s.LastFailure)
	}
}

func TestStatusJSONRoundTrip(t *testing.T) {
	var s Status
	runProbes(&s, "oxx", 2, 1)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var got Status
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	if got.State != StateDown {
		t.Errorf("State = %s, want down", got.State)
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{"Since", got.Since, s.Since},
		{"LastCheck", got.LastCheck, s.LastCheck},
		{"LastSuccess", got.LastSuccess, s.LastSuccess},
		{"LastFailure", got.LastFailure, s.LastFailure},
	} {
		if !f.got.Equal(f.want) {
			t.Errorf("%s = %v after the round trip, want %v", f.name, f.got, f.want)
		}
	}
	// Compare the rest with the times out of the way.
	got.Since, got.LastCheck, got.LastSuccess, got.LastFailure = s.Since, s.LastCheck, s.LastSuccess, s.LastFailure
	if got != s {
		t.Errorf("round trip = %+v, want %+v", got, s)
	}
}

func TestStatusUnmarshalRejectsUnknownState(t *testing.T) {
	var s Status
	err := json.Unmarshal([]byte(`{"state":"sideways"}`), &s)
	if err == nil || !strings.Contains(err.Error(), `unknown state "sideways"`) {
		t.Fatalf("error = %v, want unknown state \"sideways\"", err)
	}
}

func TestEndpointRecordTransition(t *testing.T) {
	cfg := singleEndpointConfig("acme", "api", 20*time.Second, 2, 1)
	c := cfg.Companies[0]
	e := newEndpoint(&Target{Key: Key{"acme", "api"}, Company: c, Endpoint: c.Endpoints[0]}, 4)

	if _, changed, ok := e.record(syntheticResult(0, false)); changed || !ok {
		t.Fatalf("first failure: changed %t ok %t, want no transition and recorded", changed, ok)
	}
	down := syntheticResult(1, false)
	tr, changed, ok := e.record(down)
	if !changed || !ok {
		t.Fatalf("second failure: changed %t ok %t, want a recorded transition", changed, ok)
	}
	if tr.Key != (Key{"acme", "api"}) || tr.From != StateUnknown || tr.To != StateDown {
		t.Errorf("transition %s %s->%s, want acme/api unknown->down", tr.Key, tr.From, tr.To)
	}
	if !tr.At.Equal(resultEnd(down)) {
		t.Errorf("transition at %v, want %v", tr.At, resultEnd(down))
	}
	if tr.Result.Start != down.Start {
		t.Errorf("transition result started %v, want %v", tr.Result.Start, down.Start)
	}

	e.markRemoved()
	if _, _, ok := e.record(syntheticResult(2, true)); ok {
		t.Fatalf("removed endpoint recorded a result")
	}
	if e.status.State != StateDown || e.counts.probes != 2 {
		t.Errorf("removed endpoint changed: state %s after %d probes, want down after 2", e.status.State, e.counts.probes)
	}
}

func TestHistoryKeepsLatestChecks(t *testing.T) {
	cfg := singleEndpointConfig("acme", "api", 20*time.Second, 2, 1)
	c := cfg.Companies[0]
	e := newEndpoint(&Target{Key: Key{"acme", "api"}, Company: c, Endpoint: c.Endpoints[0]}, 3)
	for i, c := range "oxxox" {
		e.record(syntheticResult(i, c == 'o'))
	}
	got := e.history.checks()
	want := []Check{
		{Time: syntheticResult(2, false).Start, Duration: probeDuration, StatusCode: 503, Reason: ReasonStatus, State: StateDown},
		{Time: syntheticResult(3, true).Start, Duration: probeDuration, Success: true, StatusCode: 200, State: StateUp},
		{Time: syntheticResult(4, false).Start, Duration: probeDuration, StatusCode: 503, Reason: ReasonStatus, State: StateUp},
	}
	if len(got) != len(want) {
		t.Fatalf("history holds %d checks, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) {
			t.Errorf("check %d at %v, want %v", i, got[i].Time, want[i].Time)
		}
		got[i].Time = want[i].Time
		if got[i] != want[i] {
			t.Errorf("check %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// slowMessage is the message of every synthetic degraded result.
const slowMessage = "took 1.2s, expected at most 800ms (max_duration)"

// letterResult returns the result of probe number i for one letter of a
// probe sequence: o = healthy, d = degraded (slow), x = failure.
func letterResult(i int, c rune) Result {
	r := syntheticResult(i, c != 'x')
	if c == 'd' {
		r.Degraded, r.Reason, r.Message = true, ReasonSlow, slowMessage
	}
	return r
}

func TestStatusApplyDegraded(t *testing.T) {
	const (
		U = StateUnknown
		P = StateUp
		D = StateDown
		G = StateDegraded
	)
	tests := []struct {
		name             string
		failureThreshold int
		successThreshold int
		from             State
		probes           string // o = healthy, d = degraded, x = failure
		want             []State
	}{
		{"unknown to degraded on first degraded", 3, 2, U, "d", []State{G}},
		{"unknown to degraded after failures below threshold", 3, 2, U, "xxd", []State{U, U, G}},
		{"unknown to up on first healthy", 3, 2, U, "o", []State{P}},
		{"up to degraded at failure threshold", 3, 2, P, "ddd", []State{P, P, G}},
		{"healthy probe resets degraded streak", 3, 2, P, "ddoddo", []State{P, P, P, P, P, P}},
		{"failure resets degraded streak", 3, 2, P, "ddxdd", []State{P, P, P, P, P}},
		{"degraded to up at success threshold", 3, 2, G, "oo", []State{G, P}},
		{"degraded probe resets healthy streak", 3, 2, G, "odoo", []State{G, G, G, P}},
		{"failure resets healthy streak", 3, 2, G, "oxoo", []State{G, G, G, P}},
		{"degraded to down at failure threshold", 3, 2, G, "xxx", []State{G, G, D}},
		{"degraded and failures mixed stay degraded", 3, 2, G, "xxdxx", []State{G, G, G, G, G}},
		{"down to degraded at success threshold", 3, 2, D, "dd", []State{D, G}},
		{"down back as the last probe was", 3, 2, D, "od", []State{D, G}},
		{"down to up after mixed successes", 3, 2, D, "do", []State{D, P}},
		{"failure resets recovery from down", 3, 2, D, "dxd", []State{D, D, D}},
		{"up to down through degraded", 2, 2, P, "dxx", []State{P, P, D}},
		{"thresholds of one", 1, 1, P, "doxdd", []State{G, P, D, G, G}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Status{State: tt.from}
			for i, c := range tt.probes {
				before := s.State
				changed := s.apply(letterResult(i, c), tt.failureThreshold, tt.successThreshold)
				if s.State != tt.want[i] {
					t.Errorf("probe %d (%c): state %s, want %s", i, c, s.State, tt.want[i])
				}
				if changed != (before != s.State) {
					t.Errorf("probe %d (%c): changed = %t, but state went from %s to %s", i, c, changed, before, s.State)
				}
				if changed && !s.Since.Equal(resultEnd(letterResult(i, c))) {
					t.Errorf("probe %d (%c): Since = %v, want the end of this probe", i, c, s.Since)
				}
			}
		})
	}
}

// TestStatusApplyDegradedCounters follows the four streak counters through
// a sequence of every kind of probe.
func TestStatusApplyDegradedCounters(t *testing.T) {
	probes := "oddoxdo"
	want := []struct{ failures, successes, degraded, healthy int }{
		{0, 1, 0, 1},
		{0, 2, 1, 0},
		{0, 3, 2, 0},
		{0, 4, 0, 1},
		{1, 0, 0, 0},
		{0, 1, 1, 0},
		{0, 2, 0, 1},
	}
	var s Status
	for i, c := range probes {
		s.apply(letterResult(i, c), 3, 2)
		got := struct{ failures, successes, degraded, healthy int }{
			s.ConsecutiveFailures, s.ConsecutiveSuccesses, s.ConsecutiveDegraded, s.ConsecutiveHealthy,
		}
		if got != want[i] {
			t.Errorf("probe %d (%c): failures, successes, degraded, healthy = %v, want %v", i, c, got, want[i])
		}
	}
}

// TestStatusApplyDegradedFields checks the fields that explain a degraded
// endpoint: the last-probe fields show the degraded reason, and
// DegradedReason and DegradedMessage keep it after a healthy probe.
func TestStatusApplyDegradedFields(t *testing.T) {
	var s Status
	degraded := letterResult(0, 'd')
	if !s.apply(degraded, 2, 2) || s.State != StateDegraded {
		t.Fatalf("first degraded probe: state %s, want degraded", s.State)
	}
	if s.LastReason != ReasonSlow || s.LastError != slowMessage {
		t.Errorf("LastReason, LastError = %q, %q, want slow, %q", s.LastReason, s.LastError, slowMessage)
	}
	if s.DegradedReason != ReasonSlow || s.DegradedMessage != slowMessage {
		t.Errorf("DegradedReason, DegradedMessage = %q, %q, want slow, %q", s.DegradedReason, s.DegradedMessage, slowMessage)
	}
	if !s.LastSuccess.Equal(resultEnd(degraded)) || !s.LastFailure.IsZero() {
		t.Errorf("LastSuccess, LastFailure = %v, %v, want the degraded probe's end and none", s.LastSuccess, s.LastFailure)
	}
	if s.FailureReason != ReasonNone || s.FailureMessage != "" {
		t.Errorf("FailureReason, FailureMessage = %q, %q, want none", s.FailureReason, s.FailureMessage)
	}

	// A healthy probe below success_threshold clears the last-probe fields
	// but not the degraded ones.
	s.apply(letterResult(1, 'o'), 2, 2)
	if s.State != StateDegraded || s.LastReason != ReasonNone || s.LastError != "" {
		t.Errorf("after a healthy probe: state %s, last %q %q, want degraded with no last reason", s.State, s.LastReason, s.LastError)
	}
	if s.DegradedReason != ReasonSlow || s.DegradedMessage != slowMessage {
		t.Errorf("after a healthy probe: DegradedReason, DegradedMessage = %q, %q, want slow, %q",
			s.DegradedReason, s.DegradedMessage, slowMessage)
	}

	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var got Status
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	if got.State != StateDegraded || got.DegradedReason != ReasonSlow || got.DegradedMessage != slowMessage ||
		got.ConsecutiveHealthy != 1 || got.ConsecutiveSuccesses != 2 {
		t.Errorf("after a JSON round trip: %+v\nfrom %s", got, b)
	}
	if !strings.Contains(string(b), `"state":"degraded"`) || !strings.Contains(string(b), `"degraded_reason":"slow"`) {
		t.Errorf("saved status %s lacks the degraded state or reason", b)
	}
}

func TestHistoryRecordsDegradedAndRetries(t *testing.T) {
	cfg := singleEndpointConfig("acme", "api", 20*time.Second, 1, 1)
	c := cfg.Companies[0]
	e := newEndpoint(&Target{Key: Key{"acme", "api"}, Company: c, Endpoint: c.Endpoints[0]}, 4)
	degraded := letterResult(0, 'd')
	degraded.Retries = 2
	failed := letterResult(1, 'x')
	failed.Retries = 300 // beyond the record's range
	e.record(degraded)
	e.record(failed)
	e.record(letterResult(2, 'o'))

	got := e.history.checks()
	want := []Check{
		{Duration: probeDuration, Success: true, Degraded: true, StatusCode: 200, Reason: ReasonSlow, Retries: 2, State: StateDegraded},
		{Duration: probeDuration, StatusCode: 503, Reason: ReasonStatus, Retries: 15, State: StateDown},
		{Duration: probeDuration, Success: true, StatusCode: 200, State: StateUp},
	}
	if len(got) != len(want) {
		t.Fatalf("history holds %d checks, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		want[i].Time = letterResult(i, 'o').Start
		if !got[i].Time.Equal(want[i].Time) {
			t.Errorf("check %d at %v, want %v", i, got[i].Time, want[i].Time)
		}
		got[i].Time = want[i].Time
		if got[i] != want[i] {
			t.Errorf("check %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if size := unsafe.Sizeof(checkRecord{}); size != 16 {
		t.Errorf("a history record takes %d bytes, want 16", size)
	}
}
