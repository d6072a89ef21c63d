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

// checkRecord is the compact form of a Check kept in memory: 16 bytes, so
// the default history of 64 checks takes 1 KiB per endpoint.
type checkRecord struct {
	unixMilli  int64
	micros     uint32 // duration in microseconds, capped at about 71 minutes
	statusCode uint16
	reason     Reason
	// flags holds the state in bits 0-1, success in bit 2, degraded in
	// bit 3 and the retries, capped at 15 (config.MaxRetries is 10), in
	// bits 4-7.
	flags uint8
}

const (
	flagSuccess  = 1 << 2
	flagDegraded = 1 << 3
	retriesShift = 4
)

func packFlags(s State, success, degraded bool, retries int) uint8 {
	f := uint8(s) & 3
	if success {
		f |= flagSuccess
	}
	if degraded {
		f |= flagDegraded
	}
	return f | uint8(max(0, min(retries, 15)))<<retriesShift
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
		flags:      packFlags(s, r.Success, r.Degraded, r.Retries),
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
			Success:    r.flags&flagSuccess != 0,
			Degraded:   r.flags&flagDegraded != 0,
			StatusCode: int(r.statusCode),
			Reason:     r.reason,
			Retries:    int(r.flags >> retriesShift),
			State:      State(r.flags & 3),
		})
	}
	return out
}
