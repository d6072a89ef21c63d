package collector

import "time"

// Check is one entry of an endpoint's recent history.
type Check struct {
	Time     time.Time     `json:"time"`
	Duration time.Duration `json:"duration"`
	// Success reports that the endpoint responded as expected, and
	// Degraded that it did so slowly or with a certificate close to
	// expiry. Reason then names which.
	Success    bool   `json:"success"`
	Degraded   bool   `json:"degraded,omitempty"`
	StatusCode int    `json:"status_code,omitempty"`
	Reason     Reason `json:"reason,omitempty"`
	// Retries counts the attempts after the first one failed.
	Retries int   `json:"retries,omitempty"`
	State   State `json:"state"`
}

// checkRecord is the compact form of a Check kept in memory. Its fields
// take 19 bytes, which the alignment of unixMilli pads to 24.
type checkRecord struct {
	unixMilli  int64
	micros     uint32 // duration in microseconds, capped at about 71 minutes
	statusCode uint16
	reason     Reason
	state      State
	success    bool
	degraded   bool
	// retries is capped at 255, far above config.MaxRetries.
	retries uint8
}

// history is a ring buffer of the most recent checks.
type history struct {
	records []checkRecord
	next    int
	full    bool
}

func (h *history) init(size int) {
	if size > 0 {
		h.records = make([]checkRecord, size)
	}
}

func (h *history) add(r Result, s State) {
	if len(h.records) == 0 {
		return
	}
	micros := r.Duration.Microseconds()
	if micros > 1<<32-1 {
		micros = 1<<32 - 1
	}
	h.records[h.next] = checkRecord{
		unixMilli:  r.Start.UnixMilli(),
		micros:     uint32(micros),
		statusCode: uint16(r.StatusCode),
		reason:     r.Reason,
		state:      s,
		success:    r.Success,
		degraded:   r.Degraded,
		retries:    uint8(max(0, min(r.Retries, 255))),
	}
	h.next++
	if h.next == len(h.records) {
		h.next, h.full = 0, true
	}
}

// checks returns the history, oldest first.
func (h *history) checks() []Check {
	n := h.next
	start := 0
	if h.full {
		n, start = len(h.records), h.next
	}
	out := make([]Check, 0, n)
	for i := range n {
		r := h.records[(start+i)%len(h.records)]
		out = append(out, Check{
			Time:       time.UnixMilli(r.unixMilli),
			Duration:   time.Duration(r.micros) * time.Microsecond,
			Success:    r.success,
			Degraded:   r.degraded,
			StatusCode: int(r.statusCode),
			Reason:     r.reason,
			Retries:    int(r.retries),
			State:      r.state,
		})
	}
	return out
}
