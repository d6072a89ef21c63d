package collector

import (
	"fmt"
	"time"
)

// State is an endpoint's verdict.
type State uint8

// Endpoint states. StateUnknown holds until the first verdict.
const (
	StateUnknown State = iota
	StateUp
	StateDown
)

var stateNames = [...]string{StateUnknown: "unknown", StateUp: "up", StateDown: "down"}

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

	ConsecutiveFailures  int `json:"consecutive_failures,omitempty"`
	ConsecutiveSuccesses int `json:"consecutive_successes,omitempty"`
}

// Transition is a change of an endpoint's state.
type Transition struct {
	Key
	From, To State
	At       time.Time
	// Result is the probe that caused the transition.
	Result Result
}

// apply folds a probe result into the status and returns the new state and
// whether it changed. An endpoint leaves unknown for up on its first good
// probe, and for down once failureThreshold probes in a row have failed;
// after that it needs failureThreshold failures to go down and
// successThreshold successes to come back up.
func (s *Status) apply(r Result, failureThreshold, successThreshold int) (changed bool) {
	end := r.Start.Add(r.Duration)
	s.LastCheck = end
	s.LastStatusCode = r.StatusCode
	s.LastDuration = r.Duration
	s.LastReason = r.Reason
	s.LastError = r.Message
	if r.Success {
		s.LastSuccess = end
		s.ConsecutiveSuccesses++
		s.ConsecutiveFailures = 0
	} else {
		s.LastFailure = end
		s.FailureReason = r.Reason
		s.FailureMessage = r.Message
		s.ConsecutiveFailures++
		s.ConsecutiveSuccesses = 0
	}

	next := s.State
	switch {
	case s.State != StateUp && r.Success && (s.State == StateUnknown || s.ConsecutiveSuccesses >= successThreshold):
		next = StateUp
	case s.State != StateDown && !r.Success && s.ConsecutiveFailures >= failureThreshold:
		next = StateDown
	}
	if next == s.State {
		return false
	}
	s.State = next
	s.Since = end
	return true
}
