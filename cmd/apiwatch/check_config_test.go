package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const validConfig = `
global:
  interval: 30s
companies:
  - name: acme
    endpoints:
      - name: api
        url: http://127.0.0.1:9/health
`

// invalidConfig has two problems: a misspelled key on line 8 and a duration
// without a unit on line 9.
const invalidConfig = `
global:
  interval: 30s
companies:
  - name: acme
    endpoints:
      - name: api
        intervall: 30s
        timeout: 30
        url: http://127.0.0.1:9/health
`

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yml", validConfig)
	bad := writeFile(t, dir, "bad.yml", invalidConfig)

	t.Run("valid file", func(t *testing.T) {
		code, stdout, stderr := runProcess(t, "check-config", "--config.file="+good)
		if code != 0 {
			t.Errorf("exit code = %d, want 0\nstderr:\n%s", code, stderr)
		}
		want := good + " is valid: 1 file, 1 company, 1 endpoint\n"
		if stdout != want {
			t.Errorf("stdout = %q, want %q", stdout, want)
		}
	})

	t.Run("invalid file", func(t *testing.T) {
		code, _, stderr := runProcess(t, "check-config", "--config.file="+bad)
		if code != 1 {
			t.Errorf("exit code = %d, want 1", code)
		}
		problems := strings.Split(strings.TrimSpace(stderr), "\n")
		checkProblems(t, bad, problems)
	})
}

// checkProblems checks that problems are exactly the two of invalidConfig,
// each starting with file:line:column.
func checkProblems(t *testing.T, file string, problems []string) {
	t.Helper()
	want := []struct {
		prefix string
		word   string
	}{
		{file + ":8:9: ", `"intervall"`},
		{file + ":9:18: ", "duration"},
	}
	if len(problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(problems), len(want), strings.Join(problems, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(problems[i], w.prefix) {
			t.Errorf("problem %d = %q, want prefix %q", i, problems[i], w.prefix)
		}
		if !strings.Contains(problems[i], w.word) {
			t.Errorf("problem %d = %q, want it to mention %s", i, problems[i], w.word)
		}
	}
}

func TestDaemonRejectsInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yml", invalidConfig)

	_, _, checkOutput := runProcess(t, "check-config", "--config.file="+bad)
	code, _, stderr := runProcess(t, "--config.file="+bad, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:0", "--log.format=json")
	if code == 0 {
		t.Errorf("exit code = 0, want non-zero")
	}

	// Every problem is logged on its own line with the text check-config
	// prints.
	var logged []string
	for line := range strings.Lines(stderr) {
		var record struct {
			Msg string `json:"msg"`
			Err string `json:"err"`
		}
		if err := json.Unmarshal([]byte(line), &record); err != nil {
			t.Fatalf("stderr line is not JSON: %q", line)
		}
		if record.Msg == "Invalid configuration" {
			logged = append(logged, record.Err)
		}
	}
	checkProblems(t, bad, logged)
	want := strings.Split(strings.TrimSpace(checkOutput), "\n")
	if !slices.Equal(logged, want) {
		t.Errorf("daemon logged problems\n%s\nwant the check-config output\n%s",
			strings.Join(logged, "\n"), strings.Join(want, "\n"))
	}
}

func TestVersionFlag(t *testing.T) {
	code, stdout, stderr := runProcess(t, "--version")
	if code != 0 {
		t.Errorf("exit code = %d, want 0\nstderr:\n%s", code, stderr)
	}
	first, _, _ := strings.Cut(stdout, "\n")
	want := fmt.Sprintf("apiwatch, version %s (branch: %s, revision: %s)",
		binaryVersion, testBranch, testRevision)
	if first != want {
		t.Errorf("first line of --version = %q, want %q", first, want)
	}
	if !regexp.MustCompile(`(?m)^\s+go version:\s+go1\.`).MatchString(stdout) {
		t.Errorf("--version output lacks the Go version:\n%s", stdout)
	}
}
