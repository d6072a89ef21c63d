package alerting

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apiwatch/apiwatch/collector"
)

func idOf(endpoint string) alertID {
	return alertID{Company: "acme", Endpoint: endpoint, Name: AlertEndpointDown}
}

// queued returns the endpoints of the queue's entries, oldest first.
func queuedEndpoints(q *queue) []string {
	var out []string
	for _, b := range q.peek(q.len() + 1) {
		out = append(out, b.id.Endpoint)
	}
	return out
}

func TestQueueOverflow(t *testing.T) {
	type push struct {
		endpoint   string
		transition bool
	}
	for _, tc := range []struct {
		name        string
		pushes      []push
		wantDropped []string
		wantQueue   []string
	}{
		{
			name:        "oldest resend goes before any transition",
			pushes:      []push{{"t1", true}, {"r1", false}, {"r2", false}, {"t2", true}},
			wantDropped: []string{"r1"},
			wantQueue:   []string{"t1", "r2", "t2"},
		},
		{
			name:        "a resend is dropped for a resend",
			pushes:      []push{{"t1", true}, {"t2", true}, {"r1", false}, {"r2", false}},
			wantDropped: []string{"r1"},
			wantQueue:   []string{"t1", "t2", "r2"},
		},
		{
			name:        "oldest transition goes when all are transitions",
			pushes:      []push{{"t1", true}, {"t2", true}, {"t3", true}, {"t4", true}},
			wantDropped: []string{"t1"},
			wantQueue:   []string{"t2", "t3", "t4"},
		},
		{
			name:      "coalesced entry takes one slot",
			pushes:    []push{{"a", false}, {"a", false}, {"a", true}, {"b", false}, {"c", false}},
			wantQueue: []string{"a", "b", "c"},
		},
		{
			name: "a resend turned transition is kept",
			pushes: []push{{"a", false}, {"b", false}, {"c", false}, {"a", true},
				{"d", true}},
			wantDropped: []string{"b"},
			wantQueue:   []string{"a", "c", "d"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newQueue(3)
			var dropped []string
			for i, p := range tc.pushes {
				if id, ok := q.push(idOf(p.endpoint), p.transition, uint64(i+1)); ok {
					dropped = append(dropped, id.Endpoint)
				}
			}
			if !slices.Equal(dropped, tc.wantDropped) {
				t.Errorf("dropped %v, want %v", dropped, tc.wantDropped)
			}
			if got := queuedEndpoints(q); !slices.Equal(got, tc.wantQueue) {
				t.Errorf("queue holds %v, want %v", got, tc.wantQueue)
			}
		})
	}
}

func TestQueueAckKeepsRequeued(t *testing.T) {
	q := newQueue(10)
	q.push(idOf("a"), true, 1)
	q.push(idOf("b"), false, 1)
	batch := q.peek(10)
	// a changes while the batch is in flight.
	q.push(idOf("a"), false, 2)
	removed := q.ack(batch)
	if len(removed) != 1 || removed[0].Endpoint != "b" {
		t.Errorf("ack removed %v, want only b", removed)
	}
	if got := queuedEndpoints(q); !slices.Equal(got, []string{"a"}) {
		t.Errorf("queue holds %v, want [a]", got)
	}
}

// TestSendLoopOverflowCounted fills the queue of an unreachable
// Alertmanager past its capacity of 3 through the notifier.
func TestSendLoopOverflowCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		am := newFakeAM(t)
		am.set(amRefuse)
		h := newHarness(t, "", nil, Options{ResendInterval: time.Minute, QueueCapacity: 3})
		h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
		policies := map[collector.Key]*EndpointPolicy{}
		for _, e := range []string{"a", "b", "c", "d"} {
			policies[collector.Key{Company: "acme", Endpoint: e}] = policy()
		}
		h.n.SetPolicies(policies)
		h.start()
		synctest.Wait()

		now := time.Now()
		for _, e := range []string{"a", "b", "c"} {
			h.transition(collector.Key{Company: "acme", Endpoint: e}, down(now, now))
		}
		// Resends of a, b and c replace the transitions in the queue.
		time.Sleep(time.Minute)
		synctest.Wait()
		if n := counter(t, h.n.metrics.dropped, "http://am1"); n != 0 {
			t.Fatalf("dropped = %v before the queue was full, want 0", n)
		}
		h.transition(collector.Key{Company: "acme", Endpoint: "d"}, down(time.Now(), time.Now()))
		synctest.Wait()

		if n := counter(t, h.n.metrics.dropped, "http://am1"); n != 1 {
			t.Errorf("dropped = %v, want 1", n)
		}
		q := h.n.loops[0].queue
		if got := queuedEndpoints(q); len(got) != 3 || !slices.Contains(got, "d") {
			t.Errorf("queue holds %v, want three alerts including the transition d", got)
		}
		if logs := h.logs.String(); !strings.Contains(logs, "queue full") {
			t.Errorf("the drop was not logged:\n%s", logs)
		}
	})
}

// TestSendLoopCoalesces queues the same alert many times while the
// Alertmanager is down: it takes one slot and goes out once.
func TestSendLoopCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		am := newFakeAM(t)
		am.set(amFail500)
		h := newHarness(t, "", nil, Options{ResendInterval: time.Minute})
		h.n.SetAlertmanagers([]Alertmanager{am.alertmanager("am1")})
		h.n.SetPolicies(map[collector.Key]*EndpointPolicy{apiKey: policy()})
		h.start()
		synctest.Wait()
		h.transition(apiKey, down(time.Now(), time.Now()))
		// Five resends come due while every attempt fails.
		time.Sleep(5*time.Minute + 30*time.Second)
		synctest.Wait()
		if n := h.n.loops[0].queue.len(); n != 1 {
			t.Fatalf("queue length = %d, want 1", n)
		}
		am.set(amOK)
		// Delivered after the backoff, before the next resend at 6m.
		time.Sleep(maxBackoff + 5*time.Second)
		synctest.Wait()
		posts := am.received()
		if len(posts) != 1 || len(posts[0].alerts) != 1 {
			t.Errorf("got %d posts, want 1 post with 1 alert", len(posts))
		}
	})
}
