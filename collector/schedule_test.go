package collector

import (
	"fmt"
	"testing"
	"time"
)

func TestIntervalScheduleNext(t *testing.T) {
	s := intervalSchedule{interval: time.Minute, offset: 17 * time.Second}
	tests := []struct {
		name string
		t    time.Time
		want time.Time
	}{
		{"before the slot", time.Unix(1_000_000_000, 0), time.Unix(1_000_000_037, 0)},
		{"on a slot gives the next one", time.Unix(1_000_000_037, 0), time.Unix(1_000_000_097, 0)},
		{"just after a slot", time.Unix(1_000_000_037, 1), time.Unix(1_000_000_097, 0)},
		{"just before a slot", time.Unix(1_000_000_096, 999_999_999), time.Unix(1_000_000_097, 0)},
		{"at the epoch", time.Unix(0, 0), time.Unix(17, 0)},
		{"before the epoch", time.Unix(-50, 0), time.Unix(-43, 0)},
		{"before the epoch on a slot", time.Unix(-43, 0), time.Unix(17, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.next(tt.t); !got.Equal(tt.want) {
				t.Errorf("next(%d.%09d) = %d.%09d, want %d.%09d",
					tt.t.Unix(), tt.t.Nanosecond(), got.Unix(), got.Nanosecond(), tt.want.Unix(), tt.want.Nanosecond())
			}
		})
	}
}

func TestIntervalScheduleSlots(t *testing.T) {
	for _, interval := range []time.Duration{time.Second, 20 * time.Second, time.Minute, 7 * time.Minute, time.Hour} {
		t.Run(interval.String(), func(t *testing.T) {
			key := Key{"acme", "api"}
			s := newIntervalSchedule(key, interval)
			if s.offset < 0 || s.offset >= interval {
				t.Fatalf("offset %v outside [0, %v)", s.offset, interval)
			}
			now := time.Date(2026, 7, 1, 10, 11, 12, 345_678_901, time.UTC)
			prev := now
			for range 100 {
				next := s.next(prev)
				if d := next.Sub(prev); d <= 0 || d > interval {
					t.Fatalf("next(%v) = %v, %v later; want within (0, %v]", prev, next, d, interval)
				}
				if phase := time.Duration(next.UnixNano()) % interval; phase != s.offset {
					t.Fatalf("slot %v is at %v into its interval, want the offset %v", next, phase, s.offset)
				}
				prev = next
			}
			if got := prev.Sub(s.next(now)); got != 99*interval {
				t.Errorf("100 slots span %v, want %v", got, 99*interval)
			}
		})
	}
}

func TestIntervalOffsetsSpread(t *testing.T) {
	const (
		endpoints = 10_000
		bins      = 60
	)
	var counts [bins]int
	offsets := make(map[time.Duration]Key, endpoints)
	for i := range endpoints {
		key := Key{Company: fmt.Sprintf("company-%d", i/20), Endpoint: fmt.Sprintf("endpoint-%d", i%20)}
		s := newIntervalSchedule(key, time.Minute)
		counts[s.offset/time.Second]++
		if other, ok := offsets[s.offset]; ok {
			t.Errorf("%s and %s share the offset %v", key, other, s.offset)
		}
		offsets[s.offset] = key
	}
	mean := float64(endpoints) / bins
	for sec, n := range counts {
		if float64(n) > 2*mean || float64(n) < mean/2 {
			t.Errorf("second %d of the minute holds %d endpoints, want between %.0f and %.0f", sec, n, mean/2, 2*mean)
		}
	}
}

func TestIntervalOffsetStable(t *testing.T) {
	// The offset decides every probe time, so a change of the hash moves
	// every endpoint's phase after an upgrade. This value pins it.
	key := Key{"acme", "api"}
	const want = 46_647_730_559 * time.Nanosecond
	if got := newIntervalSchedule(key, time.Minute).offset; got != want {
		t.Errorf("offset of acme/api at 1m = %d ns, want %d ns", got, want)
	}
	if a, b := newIntervalSchedule(key, time.Minute), newIntervalSchedule(Key{"acme", "api"}, time.Minute); a != b {
		t.Errorf("same key gives %v and %v", a, b)
	}
	// The separator keeps keys that concatenate alike apart.
	if a, b := (Key{"ab", "c"}).hash(), (Key{"a", "bc"}).hash(); a == b {
		t.Errorf("ab/c and a/bc hash alike: %x", a)
	}
}

func TestCronScheduleIgnoresArgumentZone(t *testing.T) {
	cfg := loadYAMLConfig(t, `
companies:
  - name: acme
    endpoints:
      - name: utc
        url: http://127.0.0.1:9/
        schedule: "0 9 * * *"
      - name: berlin
        url: http://127.0.0.1:9/
        schedule: "0 9 * * *"
        time_zone: Europe/Berlin
`)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 10, 12, 0, 0, 0, tokyo) // 03:00 UTC
	tests := []struct {
		endpoint string
		want     time.Time
	}{
		{"utc", time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)},
		{"berlin", time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC)},
	}
	for i, tt := range tests {
		t.Run(tt.endpoint, func(t *testing.T) {
			e := cfg.Companies[0].Endpoints[i]
			s := scheduleFor(Key{"acme", e.Name}, e)
			if got := s.next(from); !got.Equal(tt.want) {
				t.Errorf("next(%v) = %v, want %v", from, got.UTC(), tt.want)
			}
		})
	}
}

func TestScheduleEqual(t *testing.T) {
	cfg := loadYAMLConfig(t, `
companies:
  - name: acme
    endpoints:
      - name: five
        url: http://127.0.0.1:9/
        schedule: "*/5 * * * *"
      - name: five-berlin
        url: http://127.0.0.1:9/
        schedule: "*/5 * * * *"
        time_zone: Europe/Berlin
      - name: ten
        url: http://127.0.0.1:9/
        schedule: "*/10 * * * *"
`)
	eps := cfg.Companies[0].Endpoints
	key := Key{"acme", "x"}
	five, fiveBerlin, ten := scheduleFor(key, eps[0]), scheduleFor(key, eps[1]), scheduleFor(key, eps[2])
	minute := newIntervalSchedule(key, time.Minute)
	tests := []struct {
		name string
		a, b schedule
		want bool
	}{
		{"same cron", five, scheduleFor(key, eps[0]), true},
		{"other zone", five, fiveBerlin, false},
		{"other spec", five, ten, false},
		{"cron and interval", five, minute, false},
		{"same interval", minute, newIntervalSchedule(key, time.Minute), true},
		{"other interval", minute, newIntervalSchedule(key, 2*time.Minute), false},
		{"other key", minute, newIntervalSchedule(Key{"acme", "y"}, time.Minute), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.equal(tt.b); got != tt.want {
				t.Errorf("equal = %t, want %t", got, tt.want)
			}
		})
	}
}
