package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// child is a running covacdc process (run or simulate) whose log lines are
// read as they are written, each stamped with the time it arrived.
type child struct {
	name  string
	cmd   *exec.Cmd
	start time.Time

	mu     sync.Mutex
	lines  []logLine
	tail   []string // last raw lines, for error messages
	notify chan struct{}
	done   chan struct{} // closed when the process has exited
	state  *os.ProcessState
	err    error
	// peakRSS is VmHWM just before SIGTERM.
	peakRSS int64
}

// logLine is one log line: JSON fields for covacdc run, key=value text for simulate.
type logLine struct {
	At     time.Time
	Fields map[string]any
	Raw    string
}

func (l logLine) str(key string) string {
	switch v := l.Fields[key].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

func (l logLine) num(key string) float64 {
	switch v := l.Fields[key].(type) {
	case float64:
		return v
	case string:
		f, _ := strconv.ParseFloat(v, 64)
		return f
	}
	return 0
}

var textField = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S*)`)

// startChild starts bin with args; stderr lines are parsed as logs and stdout
// lines go to onStdout (may be nil).
func startChild(name, bin string, args []string, onStdout func(string)) (*child, error) {
	c := &child{name: name, notify: make(chan struct{}), done: make(chan struct{})}
	c.cmd = exec.Command(bin, args...)
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.start = time.Now()
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		c.readLogs(stderr)
	}()
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if onStdout != nil {
				onStdout(sc.Text())
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		readers.Wait() // Wait must not run before the pipes are drained
		err := c.cmd.Wait()
		c.mu.Lock()
		c.state, c.err = c.cmd.ProcessState, err
		c.mu.Unlock()
		close(c.done)
		c.wake()
	}()
	return c, nil
}

func (c *child) readLogs(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		raw := sc.Text()
		l := logLine{At: time.Now(), Raw: raw, Fields: map[string]any{}}
		if strings.HasPrefix(raw, "{") {
			_ = json.Unmarshal([]byte(raw), &l.Fields)
		} else {
			for _, m := range textField.FindAllStringSubmatch(raw, -1) {
				v := m[2]
				if uq, err := strconv.Unquote(v); err == nil {
					v = uq
				}
				l.Fields[m[1]] = v
			}
		}
		c.mu.Lock()
		c.lines = append(c.lines, l)
		c.tail = append(c.tail, raw)
		if len(c.tail) > 30 {
			c.tail = c.tail[len(c.tail)-30:]
		}
		c.mu.Unlock()
		c.wake()
	}
}

func (c *child) wake() {
	c.mu.Lock()
	close(c.notify)
	c.notify = make(chan struct{})
	c.mu.Unlock()
}

// waitLog waits for the first log line (from the start) that match accepts.
func (c *child) waitLog(ctx context.Context, timeout time.Duration, what string, match func(logLine) bool) (logLine, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	next := 0
	for {
		c.mu.Lock()
		for ; next < len(c.lines); next++ {
			if match(c.lines[next]) {
				l := c.lines[next]
				c.mu.Unlock()
				return l, nil
			}
		}
		ch := c.notify
		exited := c.state != nil
		c.mu.Unlock()
		if exited {
			return logLine{}, fmt.Errorf("%s exited (%s) before %s; last lines:\n%s", c.name, exitStatus(c.exitErr()), what, c.tailText())
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return logLine{}, ctx.Err()
		case <-deadline.C:
			return logLine{}, fmt.Errorf("%s: no %s within %s; last lines:\n%s", c.name, what, timeout, c.tailText())
		}
	}
}

// logs returns the lines so far that match.
func (c *child) logs(match func(logLine) bool) []logLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []logLine
	for _, l := range c.lines {
		if match(l) {
			out = append(out, l)
		}
	}
	return out
}

func (c *child) tailText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.tail, "\n")
}

// orNone renders an error that may be nil: a child that exited 0, a wait
// that ended without one.
func orNone(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}

// exitStatus renders how a child ended: its wait error, or a clean exit.
func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

func (c *child) exitErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop reads the peak RSS, sends SIGTERM, waits up to timeout, then kills; it
// returns the exit state.
func (c *child) stop(timeout time.Duration) (*os.ProcessState, error) {
	if !c.exited() {
		hwm := c.memStatus("VmHWM")
		c.mu.Lock()
		c.peakRSS = hwm
		c.mu.Unlock()
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-c.done:
	case <-time.After(timeout):
		_ = c.cmd.Process.Kill()
		<-c.done
		return c.state, fmt.Errorf("%s did not stop within %s after SIGTERM; killed", c.name, timeout)
	}
	return c.state, nil
}

// kill ends the process at once (cleanup after a failure).
func (c *child) kill() {
	if !c.exited() {
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// cpu is the CPU time the running process has used so far (user + system), from
// /proc/<pid>/stat, at a resolution of 10 ms.
func (c *child) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("unreadable /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	sy, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+sy) * time.Second / clockTicks, nil
}

// memStatus reads one kB field of /proc/<pid>/status ("VmRSS", "VmHWM") in bytes;
// 0 once the process is gone.
func (c *child) memStatus(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// rss is the resident set of the running process now (VmRSS), in bytes.
func (c *child) rss() int64 { return c.memStatus("VmRSS") }

// usage is what a finished process used.
type usage struct {
	CPU    time.Duration // user + system, from the kernel's accounting of the exited child
	User   time.Duration
	System time.Duration
	// PeakRSS is the process's VmHWM read just before SIGTERM, in bytes. Not
	// rusage's Maxrss: os/exec starts a child with vfork semantics, and Linux
	// folds the parent's resident high-water mark into the child's Maxrss at
	// exec, so Maxrss reports this bench process (kfake's data) instead.
	PeakRSS int64
}

// usage returns what the exited process used (call after stop).
func (c *child) usage() usage {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := usage{PeakRSS: c.peakRSS}
	if c.state != nil {
		u.User, u.System = c.state.UserTime(), c.state.SystemTime()
		u.CPU = u.User + u.System
	}
	return u
}

// metrics is one scrape of covacdc's /metrics in the text format.
type metrics []sample

type sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

var httpc = &http.Client{Timeout: 5 * time.Second}

func scrape(ctx context.Context, addr string) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	// Uncompressed: the bench scrapes every 200 ms, 75 times as often as a
	// Prometheus at 15 s, and gzip would add that much to covacdc's CPU.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := httpc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: HTTP %d", resp.StatusCode)
	}
	var out metrics
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		s := sample{Name: line[:sp], Value: v, Labels: map[string]string{}}
		if i := strings.IndexByte(s.Name, '{'); i >= 0 {
			for _, m := range labelRE.FindAllStringSubmatch(s.Name[i:], -1) {
				s.Labels[m[1]], _ = strconv.Unquote(`"` + m[2] + `"`)
			}
			s.Name = s.Name[:i]
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

var labelRE = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// sum adds the samples of name whose labels include every pair of match.
func (m metrics) sum(name string, match ...string) float64 {
	var t float64
outer:
	for _, s := range m {
		if s.Name != name {
			continue
		}
		for i := 0; i+1 < len(match); i += 2 {
			if s.Labels[match[i]] != match[i+1] {
				continue outer
			}
		}
		t += s.Value
	}
	return t
}

// by sums name per value of label.
func (m metrics) by(name, label string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range m {
		if s.Name == name {
			out[s.Labels[label]] += s.Value
		}
	}
	return out
}
