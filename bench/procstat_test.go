package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// Fields 14 to 17 are utime, stime, cutime and cstime, in ticks of 10 ms.
	tail := " S 1 2 3 4 5 6 7 8 9 10 150 25 7 3 20 0 12 0 100 2000 300 18446744073709551615\n"
	tests := []struct {
		name string
		stat string
		want time.Duration
	}{
		{"plain command", "4242 (apiwatch)" + tail, 1850 * time.Millisecond},
		{"command with spaces and parentheses", "4242 (my (odd) cmd)" + tail, 1850 * time.Millisecond},
		{"command that looks like fields", "4242 (1 2 3) 4)" + tail, 1850 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.stat))
			if err != nil {
				t.Fatalf("parseStatCPU: %v", err)
			}
			if got != tt.want {
				t.Errorf("parseStatCPU = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseStatCPURejects(t *testing.T) {
	tests := []struct {
		name, stat, wantErr string
	}{
		{"no parenthesis", "4242 apiwatch S 1", "no ')'"},
		{"too few fields", "4242 (apiwatch) S 1 2 3", "fields after the command name"},
		{"non-numeric time", "4242 (apiwatch) S 1 2 3 4 5 6 7 8 9 10 x 25 7 3", "invalid CPU time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseStatCPU([]byte(tt.stat))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseStatCPU error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

const statusSample = `Name:	apiwatch
Umask:	0022
State:	S (sleeping)
VmPeak:	 1261444 kB
VmSize:	 1261444 kB
VmHWM:	   41232 kB
VmRSS:	   39876 kB
RssAnon:	   22000 kB
Threads:	7
`

func TestParseStatusMemory(t *testing.T) {
	got, err := parseStatusMemory([]byte(statusSample))
	if err != nil {
		t.Fatalf("parseStatusMemory: %v", err)
	}
	if got.PeakRSS != 41232 {
		t.Errorf("PeakRSS = %d KiB, want 41232", got.PeakRSS)
	}
	if got.RSS != 39876 {
		t.Errorf("RSS = %d KiB, want 39876", got.RSS)
	}
}

func TestParseStatusMemoryRejects(t *testing.T) {
	tests := []struct {
		name, status, wantErr string
	}{
		{"zombie without memory lines", "Name:\tx\nState:\tZ (zombie)\n", "missing VmHWM or VmRSS"},
		{"missing VmRSS", "VmHWM:\t 10 kB\n", "missing VmHWM or VmRSS"},
		{"unknown unit", "VmHWM:\t 10 MB\nVmRSS:\t 10 kB\n", "VmHWM: invalid size"},
		{"non-numeric size", "VmHWM:\t 10 kB\nVmRSS:\t ten kB\n", "VmRSS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseStatusMemory([]byte(tt.status))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseStatusMemory error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseMachineCPU(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	stat := "cpu  1000 50 300 5000 200 10 20 30 40 0\ncpu0 500 25 150 2500 100 5 10 15 20 0\n"
	got, err := parseMachineCPU([]byte(stat))
	if err != nil {
		t.Fatalf("parseMachineCPU: %v", err)
	}
	// Busy leaves out idle and iowait, and guest, which user already counts.
	if want := 1410 * 10 * time.Millisecond; got.Busy != want {
		t.Errorf("Busy = %v, want %v", got.Busy, want)
	}
	if want := 6610 * 10 * time.Millisecond; got.Total != want {
		t.Errorf("Total = %v, want %v", got.Total, want)
	}
	if _, err := parseMachineCPU([]byte("intr 1 2 3\n")); err == nil {
		t.Errorf("parseMachineCPU accepted a file without a cpu line")
	}
}

func TestReadProcSelf(t *testing.T) {
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatalf("readProc(self): %v", err)
	}
	if s.PeakRSS <= 0 || s.RSS <= 0 || s.RSS > s.PeakRSS {
		t.Errorf("readProc(self) = %+v, want 0 < RSS <= PeakRSS", s)
	}
}
