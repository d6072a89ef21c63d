package collector

import (
	"encoding/json"
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
// Target, and a probe in flight keeps the one it started with.
type Target struct {
	Key
	Company  *config.Company
	Endpoint *config.Endpoint
}

// endpoint is the runtime side of a configured endpoint: its target, its
// status, its place in the schedule and its counters.
type endpoint struct {
	key Key
	// labels is key as the label pairs of the text exposition.
	labels string
	target atomic.Pointer[Target]

	// running is set while a probe is in flight or waiting for a
	// concurrency slot.
	running atomic.Bool

	// Scheduling fields, guarded by the scheduler's mutex.
	sched     schedule
	next      time.Time
	heapIndex int

	// mu guards the fields below.
	mu sync.Mutex
	// removed is set when a reload drops the endpoint, so that a probe still
	// in flight does not record its result or report a transition.
	removed bool
	status  Status
	// version counts changes of status, and savedVersion is the version
	// last written to storage. They differ while the stored copy is stale.
	// urgent is set by a change that a restart must not lose: anything but
	// another healthy probe of an endpoint that stays up, which only moves
	// timestamps and counters forward.
	version      uint64
	savedVersion uint64
	urgent       bool
	history      history
	last         lastProbe
	counts       probeCounts
}

// lastProbe holds the details of the most recent probe that Status does not
// keep.
type lastProbe struct {
	success   bool
	phases    Phases
	redirects int
	ipVersion int
	// tlsCertExpiry is Result.TLSCertExpiry: zero when the probe completed
	// no TLS handshake.
	tlsCertExpiry time.Time
}

// probeCounts are the endpoint's cumulative counters since the process
// started: a histogram of probe durations, successes, failures by reason and
// retries.
type probeCounts struct {
	// durations counts probes into durationBuckets, with one more slot for
	// durations above the last bucket. sum is in seconds.
	durations [len(durationBuckets) + 1]uint64
	sum       float64
	probes    uint64
	// successes counts the probes that succeeded, degraded ones included.
	successes uint64
	failures  [numReasons]uint64
	retries   uint64
}

func newEndpoint(t *Target, historySize int) *endpoint {
	e := &endpoint{key: t.Key, labels: exposedLabels(t.Key), heapIndex: -1, sched: scheduleFor(t.Key, t.Endpoint)}
	e.target.Store(t)
	e.history.init(historySize)
	return e
}

// record folds a probe result into the endpoint. It returns the transition
// the result caused, if any, and ok false when the endpoint was removed
// before the result arrived, in which case nothing is recorded.
func (e *endpoint) record(r Result) (tr Transition, changed, ok bool) {
	t := e.target.Load()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.removed {
		return Transition{}, false, false
	}
	from := e.status.State
	changed = e.status.apply(r, t.Endpoint.FailureThreshold, t.Endpoint.SuccessThreshold)
	e.version++
	if !(r.Success && !r.Degraded && from == StateUp && e.status.State == StateUp) {
		e.urgent = true
	}
	e.last = lastProbe{
		success:       r.Success,
		phases:        r.Phases,
		redirects:     r.Redirects,
		ipVersion:     r.IPVersion,
		tlsCertExpiry: r.TLSCertExpiry,
	}
	e.counts.add(r)
	e.history.add(r, e.status.State)
	if !changed {
		return Transition{}, false, true
	}
	return Transition{Key: e.key, From: from, To: e.status.State, At: e.status.Since, Result: r}, true, true
}

// markRemoved stops the endpoint from recording results.
func (e *endpoint) markRemoved() {
	e.mu.Lock()
	e.removed = true
	e.mu.Unlock()
}

// marshalIfChanged returns the status as JSON and its version when it
// changed since it was last saved, or nil when it did not. Unless all is
// set, only urgent changes count.
func (e *endpoint) marshalIfChanged(all bool) ([]byte, uint64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.version == e.savedVersion || !all && !e.urgent {
		return nil, 0, nil
	}
	b, err := json.Marshal(e.status)
	return b, e.version, err
}

// markChanged makes the next save write the status even if it did not
// change.
func (e *endpoint) markChanged() {
	e.mu.Lock()
	e.version++
	e.urgent = true
	e.mu.Unlock()
}

// markSaved records that version of the status is on disk.
func (e *endpoint) markSaved(version uint64) {
	e.mu.Lock()
	e.savedVersion = max(e.savedVersion, version)
	if e.savedVersion == e.version {
		e.urgent = false
	}
	e.mu.Unlock()
}

// endpointSnapshot is a copy of what the metrics collector reads, taken
// under the endpoint's lock so that sending metrics never holds it.
type endpointSnapshot struct {
	status Status
	last   lastProbe
	counts probeCounts
}

func (e *endpoint) snapshot() endpointSnapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	return endpointSnapshot{status: e.status, last: e.last, counts: e.counts}
}

func (c *probeCounts) add(r Result) {
	c.probes++
	secs := r.Duration.Seconds()
	c.sum += secs
	c.durations[bucketIndex(secs)]++
	if r.Success {
		c.successes++
	}
	if !r.Success && r.Reason < numReasons {
		c.failures[r.Reason]++
	}
	if r.Retries > 0 {
		c.retries += uint64(r.Retries)
	}
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
