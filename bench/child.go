package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// child is a process the harness started: the target, a prober, or
// apiwatch. Its stderr and any stdout after the first line go to a log
// file.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	// started is the time just before the process was started.
	started time.Time
	// firstLine receives the first line of stdout, or is closed without a
	// value if stdout ends first.
	firstLine chan string
	// outputDone is closed when stdout has been copied to the end.
	outputDone chan struct{}
	// done is closed when the process has exited, and err is then its exit
	// error.
	done chan struct{}
	err  error
}

// startChild starts path with args. Pdeathsig sends the child SIGKILL when
// the harness dies, so no process outlives a crashed run.
// NOTE: the kernel ties Pdeathsig to the thread that started the child. The
// Go runtime ends a thread only when a goroutine locked to it with
// LockOSThread exits, which the harness never does.
func startChild(name, logPath, path string, args ...string) (*child, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}

	cmd := exec.Command(path, args...)
	cmd.Stdout = stdoutW
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := &child{
		name:       name,
		cmd:        cmd,
		logPath:    logPath,
		firstLine:  make(chan string, 1),
		outputDone: make(chan struct{}),
		done:       make(chan struct{}),
	}
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		stdoutR.Close()
		stdoutW.Close()
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}

	stdoutW.Close()
	go c.readStdout(stdoutR, logFile)
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	go func() {
		<-c.done
		<-c.outputDone
		logFile.Close()
	}()
	return c, nil
}

// readStdout hands the first line to firstLine and copies the rest to the
// log, so the child never blocks on a full pipe.
func (c *child) readStdout(r *os.File, log io.Writer) {
	defer close(c.outputDone)
	defer r.Close()
	br := bufio.NewReader(r)
	line, err := br.ReadString('\n')
	if err == nil {
		c.firstLine <- strings.TrimSpace(line)
	}
	close(c.firstLine)
	io.Copy(log, br)
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// waitFirstLine returns the child's first line of output. It fails if the
// child exits or stays silent for timeout.
func (c *child) waitFirstLine(timeout time.Duration) (string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case line, ok := <-c.firstLine:
		if ok {
			return line, nil
		}
		// Output ends as the child exits: give Wait a moment so the error
		// carries the exit status.
		select {
		case <-c.done:
			return "", c.failure("exited before printing a line")
		case <-time.After(time.Second):
			return "", c.failure("closed its output before printing a line")
		}
	case <-c.done:
		return "", c.failure("exited before printing a line")
	case <-timer.C:
		return "", c.failure(fmt.Sprintf("printed nothing within %v", timeout))
	}
}

// running returns an error if the child has exited.
func (c *child) running() error {
	select {
	case <-c.done:
		return c.failure("exited early")
	default:
		return nil
	}
}

// failure returns an error naming the child, what went wrong and the end of
// its log.
func (c *child) failure(what string) error {
	msg := fmt.Sprintf("%s (pid %d) %s", c.name, c.pid(), what)
	select {
	case <-c.done:
		if c.err != nil {
			msg += fmt.Sprintf(" (%v)", c.err)
		}
	default:
	}
	if tail := logTail(c.logPath, 2048); tail != "" {
		msg += "; end of " + c.logPath + ":\n" + tail
	}
	return errors.New(msg)
}

// stop sends SIGTERM, waits up to grace for the child to exit, then kills
// it. It returns an error only if the child cannot be stopped.
func (c *child) stop(grace time.Duration) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-c.done:
		return nil
	case <-timer.C:
	}
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing %s (pid %d): %w", c.name, c.pid(), err)
	}
	<-c.done
	return nil
}

// logTail returns up to the last n bytes of the file at path.
func logTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(info.Size()-n, 0)
	b := make([]byte, info.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return strings.TrimSpace(string(b))
}
