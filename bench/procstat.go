package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc, in ticks per second. The
// kernel exports them in USER_HZ, which is 100 on every architecture Linux
// supports; prometheus/procfs hard-codes the same value for that reason.
const userHZ = 100

// procSample is one reading of a process's CPU time and memory.
type procSample struct {
	// CPU is user plus system time of the process and of its children
	// that it has waited for (utime+stime+cutime+cstime).
	CPU time.Duration
	// PeakRSS (VmHWM) and RSS (VmRSS) are in KiB.
	PeakRSS int64
	RSS     int64
}

// readProc reads /proc/PID/stat and /proc/PID/status.
func readProc(pid int) (procSample, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procSample{}, err
	}
	cpu, err := parseStatCPU(stat)
	if err != nil {
		return procSample{}, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procSample{}, err
	}
	mem, err := parseStatusMemory(status)
	if err != nil {
		return procSample{}, fmt.Errorf("parsing /proc/%d/status: %w", pid, err)
	}
	mem.CPU = cpu
	return mem, nil
}

// parseStatCPU returns utime+stime+cutime+cstime from the contents of
// /proc/PID/stat. The second field, the command name in parentheses, may
// itself contain spaces and parentheses, so fields are counted from the
// last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("no ')' after the command name")
	}
	// fields[0] is field 3 (state), so utime, the 14th field, is fields[11].
	fields := strings.Fields(string(stat[end+1:]))
	const utime = 11
	if len(fields) < utime+4 {
		return 0, fmt.Errorf("%d fields after the command name, want at least %d", len(fields), utime+4)
	}
	var ticks int64
	for _, f := range fields[utime : utime+4] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid CPU time %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// parseStatusMemory reads VmHWM and VmRSS, in KiB, from the contents of
// /proc/PID/status.
func parseStatusMemory(status []byte) (procSample, error) {
	var s procSample
	var haveHWM, haveRSS bool
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmHWM" && name != "VmRSS") {
			continue
		}
		kib, err := parseKiB(value)
		if err != nil {
			return procSample{}, fmt.Errorf("%s: %w", name, err)
		}
		if name == "VmHWM" {
			s.PeakRSS, haveHWM = kib, true
		} else {
			s.RSS, haveRSS = kib, true
		}
	}
	if !haveHWM || !haveRSS {
		return procSample{}, fmt.Errorf("missing VmHWM or VmRSS (is the process a zombie?)")
	}
	return s, nil
}

// parseKiB parses a /proc size such as "  10344 kB".
func parseKiB(value string) (int64, error) {
	f := strings.Fields(value)
	if len(f) != 2 || f[1] != "kB" {
		return 0, fmt.Errorf("invalid size %q, want a number and kB", strings.TrimSpace(value))
	}
	return strconv.ParseInt(f[0], 10, 64)
}

// machineCPU is the busy and total CPU time of the whole machine, summed over
// all cores, from the first line of /proc/stat.
type machineCPU struct {
	Busy, Total time.Duration
}

func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	return parseMachineCPU(b)
}

// parseMachineCPU parses the "cpu" line of /proc/stat: user, nice, system,
// idle, iowait, irq, softirq, steal, then guest times that are already
// counted in user and nice. Busy is everything but idle and iowait.
func parseMachineCPU(stat []byte) (machineCPU, error) {
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 9 || fields[0] != "cpu" {
		return machineCPU{}, fmt.Errorf("first line of /proc/stat is %q, want cpu and 8 times", line)
	}
	var ticks [8]int64
	for i := range ticks {
		n, err := strconv.ParseInt(fields[i+1], 10, 64)
		if err != nil {
			return machineCPU{}, fmt.Errorf("invalid CPU time %q: %w", fields[i+1], err)
		}
		ticks[i] = n
	}
	var total int64
	for _, t := range ticks {
		total += t
	}
	const idle, iowait = 3, 4
	busy := total - ticks[idle] - ticks[iowait]
	toDuration := func(t int64) time.Duration { return time.Duration(t) * time.Second / userHZ }
	return machineCPU{Busy: toDuration(busy), Total: toDuration(total)}, nil
}
