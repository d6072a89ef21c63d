package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version information stamped into the test binary. Version comes from the
// VERSION file, as in `make build`; the others are fixed so that the
// --version test can compare the exact line.
const (
	testRevision = "test-revision"
	testBranch   = "test-branch"
)

var (
	// binaryPath is the apiwatch binary built once by TestMain.
	binaryPath string
	// binaryVersion is the content of the VERSION file.
	binaryVersion string
)

// TestMain builds the apiwatch binary once for every test that runs it as a
// separate process. Under -race the binary is built with the race detector
// too, so data races in the daemon fail the tests.
func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "apiwatch-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating build directory:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	v, err := os.ReadFile(filepath.Join("..", "..", "VERSION"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "reading VERSION:", err)
		return 1
	}
	binaryVersion = strings.TrimSpace(string(v))
	binaryPath = filepath.Join(dir, "apiwatch")

	const pkg = "github.com/prometheus/common/version"
	ldflags := fmt.Sprintf("-X %s.Version=%s -X %s.Revision=%s -X %s.Branch=%s",
		pkg, binaryVersion, pkg, testRevision, pkg, testBranch)
	args := []string{"build", "-o", binaryPath, "-ldflags", ldflags}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building apiwatch:", err)
		return 1
	}
	return m.Run()
}

// outputBuffer collects a process's output and wakes waiters on each write.
type outputBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{} // closed and replaced on every write
}

func newOutputBuffer() *outputBuffer {
	return &outputBuffer{written: make(chan struct{})}
}

func (b *outputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	close(b.written)
	b.written = make(chan struct{})
	return len(p), nil
}

func (b *outputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the output matches re and returns the submatches, or
// nil after timeout.
func (b *outputBuffer) waitFor(re *regexp.Regexp, timeout time.Duration) []string {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		m := re.FindStringSubmatch(b.buf.String())
		written := b.written
		b.mu.Unlock()
		if m != nil {
			return m
		}
		select {
		case <-written:
		case <-deadline.C:
			return nil
		}
	}
}

// process is a running apiwatch binary.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *outputBuffer
	stderr *outputBuffer
	exited chan struct{} // closed when the process has exited
}

// startProcess runs the apiwatch binary with args. The test's cleanup kills
// it if it is still running, and fails the test if the race detector
// reported a data race.
func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{
		t:      t,
		cmd:    exec.Command(binaryPath, args...),
		stdout: newOutputBuffer(),
		stderr: newOutputBuffer(),
		exited: make(chan struct{}),
	}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	// The race detector's runtime waits a second at exit by default.
	p.cmd.Env = append(os.Environ(), "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting apiwatch: %v", err)
	}
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
		if strings.Contains(p.stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("apiwatch reported a data race:\n%s", p.stderr)
		}
	})
	return p
}

// runProcess runs the apiwatch binary to completion and returns its exit
// code, standard output and standard error.
func runProcess(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	p := startProcess(t, args...)
	code = p.wait(30 * time.Second)
	return code, p.stdout.String(), p.stderr.String()
}

// wait waits for the process to exit and returns its exit code. It fails
// the test after timeout.
func (p *process) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		p.t.Fatalf("apiwatch still running after %v\nstderr:\n%s", timeout, p.stderr)
		return -1
	}
}

func (p *process) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("sending %v to apiwatch: %v", sig, err)
	}
}

// listenPattern matches the exporter-toolkit's log line that names the
// bound address, in both logfmt and JSON.
var listenPattern = regexp.MustCompile(`msg"?[=:]"Listening on"[ ,]"?address"?[=:]"?([0-9.:\[\]]+)`)

// runningDaemon is an apiwatch daemon listening on a loopback port.
type runningDaemon struct {
	*process
	baseURL string
	client  *http.Client
	// user and password, if set, are sent as HTTP basic auth.
	user, password string
}

// startDaemon starts apiwatch on config with a fresh loopback port and waits
// until it serves HTTP. storage is the --storage.path directory.
func startDaemon(t *testing.T, config, storage string, extraArgs ...string) *runningDaemon {
	t.Helper()
	args := append([]string{
		"--config.file=" + config,
		"--storage.path=" + storage,
		"--web.listen-address=127.0.0.1:0",
	}, extraArgs...)
	p := startProcess(t, args...)
	m := p.stderr.waitFor(listenPattern, 15*time.Second)
	if m == nil {
		t.Fatalf("apiwatch did not log its listen address\nstderr:\n%s", p.stderr)
	}
	return &runningDaemon{
		process: p,
		baseURL: "http://" + m[1],
		client:  &http.Client{Timeout: 5 * time.Second},
	}
}

// get fetches path and returns the status code and body.
func (d *runningDaemon) get(path string) (int, string) {
	d.t.Helper()
	return d.getWithAuth(path, d.user, d.password)
}

func (d *runningDaemon) getWithAuth(path, user, password string) (int, string) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.baseURL+path, nil)
	if err != nil {
		d.t.Fatalf("building request for %s: %v", path, err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatalf("reading GET %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// writeFile writes content to name in dir and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	return path
}

// closedPort returns a loopback address on which nothing listens, so that
// connecting to it is refused.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
