package collector

import (
	"fmt"
	"time"
)

// State is an endpoint's verdict.
type State uint8

// Endpoint states. StateUnknown holds until the first verdict. A degraded
// endpoint answers correctly but slowly, or with a certificate close to
// expiry: it is up, and experiencing issues.
const (
	StateUnknown State = iota
	StateUp
	StateDown
	StateDegraded
)

var stateNames = [...]string{StateUnknown: "unknown", StateUp: "up", StateDown: "down", StateDegraded: "degraded"}

// Available reports whether the state counts as up for probe_up: up or
// degraded.
func (s State) Available() bool { return s == StateUp || s == StateDegraded }

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", s)
}

// ParseState returns the State named s.
func ParseState(s string) (State, error) {
	for i, name := range stateNames {
		if name == s {
			return State(i), nil
		}
	}
	return StateUnknown, fmt.Errorf("unknown state %q", s)
}

// MarshalText writes the state's name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's name.
func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	*s = v
	return err
}

// Status is what apiwatch knows about an endpoint: its verdict, the last
// probe, and the counters that drive transitions. It is persisted across
// restarts.
type Status struct {
	State State `json:"state"`
	// Since is when the endpoint entered State (the last transition).
	Since       time.Time `json:"since,omitzero"`
	LastCheck   time.Time `json:"last_check,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastFailure time.Time `json:"last_failure,omitzero"`
	// LastStatusCode, LastReason and LastError describe the last probe.
	LastStatusCode int           `json:"last_status_code,omitempty"`
	LastReason     Reason        `json:"last_reason,omitempty"`
	LastError      string        `json:"last_error,omitempty"`
	LastDuration   time.Duration `json:"last_duration,omitempty"`
	// FailureReason and FailureMessage describe the last failed probe, which
	// explains a down endpoint after later probes changed the last fields.
	FailureReason  Reason `json:"failure_reason,omitempty"`
	FailureMessage string `json:"failure_message,omitempty"`
	// DegradedReason and DegradedMessage describe the last degraded probe,
	// which explains a degraded endpoint after a later healthy or failed
	// probe below its threshold.
	DegradedReason  Reason `json:"degraded_reason,omitempty"`
	DegradedMessage string `json:"degraded_message,omitempty"`

	// ConsecutiveFailures counts failed probes in a row, and
	// ConsecutiveSuccesses probes in a row that were up or degraded. Of
	// those, ConsecutiveDegraded counts degraded ones and ConsecutiveHealthy
	// the others, each since the last probe of the other kind.
	ConsecutiveFailures  int `json:"consecutive_failures,omitempty"`
	ConsecutiveSuccesses int `json:"consecutive_successes,omitempty"`
	ConsecutiveDegraded  int `json:"consecutive_degraded,omitempty"`
	ConsecutiveHealthy   int `json:"consecutive_healthy,omitempty"`
}

// Transition is a change of an endpoint's state.
type Transition struct {
	Key
	From, To State
	At       time.Time
	// Result is the probe that caused the transition.
	Result Result
}

// apply folds a probe result into the status and returns whether the state
// changed. An endpoint leaves unknown on its first answer, for up or
// degraded, or for down once failureThreshold probes in a row have failed.
// After that:
//   - failureThreshold failures in a row turn it down;
//   - a down endpoint needs successThreshold answers in a row to come back,
//     up or degraded as the last one was;
//   - an up endpoint turns degraded after failureThreshold degraded answers
//     in a row, and a degraded one up after successThreshold healthy ones.
func (s *Status) apply(r Result, failureThreshold, successThreshold int) (changed bool) {
	end := r.Start.Add(r.Duration)
	s.LastCheck = end
	s.LastStatusCode = r.StatusCode
	s.LastDuration = r.Duration
	s.LastReason = r.Reason
	s.LastError = r.Message
	switch {
	case !r.Success:
		s.LastFailure = end
		s.FailureReason = r.Reason
		s.FailureMessage = r.Message
		s.ConsecutiveFailures++
		s.ConsecutiveSuccesses, s.ConsecutiveDegraded, s.ConsecutiveHealthy = 0, 0, 0
	case r.Degraded:
		s.LastSuccess = end
		s.DegradedReason = r.Reason
		s.DegradedMessage = r.Message
		s.ConsecutiveFailures, s.ConsecutiveHealthy = 0, 0
		s.ConsecutiveSuccesses++
		s.ConsecutiveDegraded++
	default:
		s.LastSuccess = end
		s.ConsecutiveFailures, s.ConsecutiveDegraded = 0, 0
		s.ConsecutiveSuccesses++
		s.ConsecutiveHealthy++
	}

	answered := StateUp
	if r.Degraded {
		answered = StateDegraded
	}
	next := s.State
	switch {
	case !r.Success:
		if s.ConsecutiveFailures >= failureThreshold {
			next = StateDown
		}
	case s.State == StateUnknown:
		next = answered
	case s.State == StateDown:
		if s.ConsecutiveSuccesses >= successThreshold {
			next = answered
		}
	case s.State == StateUp:
		if s.ConsecutiveDegraded >= failureThreshold {
			next = StateDegraded
		}
	case s.State == StateDegraded:
		if s.ConsecutiveHealthy >= successThreshold {
			next = StateUp
		}
	}
	if next == s.State {
		return false
	}
	s.State = next
	s.Since = end
	return true
}
