package collector

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/apiwatch/apiwatch/config"
)

// Key identifies an endpoint across reloads and restarts.
type Key struct {
	Company  string
	Endpoint string
}

func (k Key) String() string { return k.Company + "/" + k.Endpoint }

// Target is the configuration one probe runs with. A reload swaps in a new
// Target; a probe in flight keeps the one it started with.
type Target struct {
	Key
	Company  *config.Company
	Endpoint *config.Endpoint
}

// endpoint is the runtime side of a configured endpoint: its target, its
// status, its place in the schedule and its counters.
type endpoint struct {
	key    Key
	target atomic.Pointer[Target]

	// running is set while a probe is in flight.
	running atomic.Bool
	// removed is set when a reload drops the endpoint, so that a probe still
	// in flight does not record its result.
	removed atomic.Bool

	// Scheduling fields, guarded by the scheduler's mutex.
	sched     schedule
	next      time.Time
	heapIndex int

	// mu guards the fields below.
	mu       sync.Mutex
	status   Status
	dirty    bool // status changed since it was last saved
	history  history
	phases   Phases
	redirect int
	ipv      int
	// durations counts probe durations into durationBuckets; durationSum
	// and probes complete the histogram.
	durations   [len(durationBuckets) + 1]uint64
	durationSum float64
	probes      uint64
	failures    [numReasons]uint64
}

func newEndpoint(t *Target, historySize int) *endpoint {
	e := &endpoint{key: t.Key, heapIndex: -1, sched: scheduleFor(t.Key, t.Endpoint)}
	e.target.Store(t)
	e.history.init(historySize)
	return e
}

// record folds a probe result into the endpoint. It returns the transition
// the result caused, if any.
func (e *endpoint) record(r Result) (Transition, bool) {
	t := e.target.Load()
	e.mu.Lock()
	defer e.mu.Unlock()
	from := e.status.State
	changed := e.status.apply(r, t.Endpoint.FailureThreshold, t.Endpoint.SuccessThreshold)
	e.dirty = true
	e.phases = r.Phases
	e.redirect = r.Redirects
	e.ipv = r.IPVersion
	e.probes++
	secs := r.Duration.Seconds()
	e.durationSum += secs
	e.durations[bucketIndex(secs)]++
	if !r.Success {
		e.failures[r.Reason]++
	}
	e.history.add(r, e.status.State)
	if !changed {
		return Transition{}, false
	}
	return Transition{Key: e.key, From: from, To: e.status.State, At: e.status.Since, Result: r}, true
}

// durationBuckets are the upper bounds, in seconds, of the probe duration
// histogram.
var durationBuckets = [...]float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func bucketIndex(secs float64) int {
	for i, b := range durationBuckets {
		if secs <= b {
			return i
		}
	}
	return len(durationBuckets)
}
