package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestChildFirstLineAndStop(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "child.log")
	c, err := startChild("echoer", logPath, "/bin/sh", "-c", `echo to-stderr >&2; printf 'ready\nlater\n'; exec sleep 30`)
	if err != nil {
		t.Fatalf("startChild: %v", err)
	}
	defer c.stop(time.Second)
	line, err := c.waitFirstLine(10 * time.Second)
	if err != nil {
		t.Fatalf("waitFirstLine: %v", err)
	}
	if line != "ready" {
		t.Errorf("first line = %q, want ready", line)
	}
	if err := c.running(); err != nil {
		t.Errorf("running = %v, want nil while the child sleeps", err)
	}

	if err := c.stop(5 * time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if c.running() == nil {
		t.Errorf("running = nil after stop")
	}
	select {
	case <-c.outputDone:
	case <-time.After(5 * time.Second):
		t.Fatalf("stdout was not copied to the end within 5s of the exit")
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"later", "to-stderr"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("log lacks %q:\n%s", want, b)
		}
	}
}

func TestChildExitsEarly(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "child.log")
	c, err := startChild("quitter", logPath, "/bin/sh", "-c", "echo cannot listen >&2; exit 3")
	if err != nil {
		t.Fatalf("startChild: %v", err)
	}
	defer c.stop(time.Second)
	_, err = c.waitFirstLine(10 * time.Second)
	if err == nil {
		t.Fatalf("waitFirstLine succeeded for a child that printed nothing on stdout")
	}
	for _, want := range []string{"quitter", "exit status 3", "cannot listen"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestChildStopKillsAfterGrace(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "child.log")
	// An ignored signal stays ignored across exec, so sleep ignores SIGTERM.
	c, err := startChild("stubborn", logPath, "/bin/sh", "-c", `trap "" TERM; echo ready; exec sleep 30`)
	if err != nil {
		t.Fatalf("startChild: %v", err)
	}
	defer c.stop(time.Second)
	if _, err := c.waitFirstLine(10 * time.Second); err != nil {
		t.Fatalf("waitFirstLine: %v", err)
	}
	start := time.Now()
	if err := c.stop(200 * time.Millisecond); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if elapsed := time.Since(start); elapsed < 200*time.Millisecond || elapsed > 10*time.Second {
		t.Errorf("stop took %v, want the 200ms grace and then a kill", elapsed)
	}
	if !strings.Contains(c.err.Error(), "killed") {
		t.Errorf("exit error = %v, want killed", c.err)
	}
}
