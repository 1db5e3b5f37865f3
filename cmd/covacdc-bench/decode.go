package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/schema"
)

// decodeChildEnv makes the bench binary (or its test binary) a decode-only
// process: it decodes the pages in the file this variable names and prints its
// CPU cost as JSON. A process of its own, like covacdc, so that its CPU time
// holds nothing but reading the file and decoding (no kfake, no consumer).
const decodeChildEnv = "COVACDC_BENCH_DECODE_FILE"

// decodeResult is what the decode-only process reports.
type decodeResult struct {
	Customers int     `json:"customers"`
	Invalid   int     `json:"invalid"`
	Pages     int     `json:"pages"`
	CPU       float64 `json:"cpu_seconds"` // decoding only: user + system of the process
	Wall      float64 `json:"wall_seconds"`
}

func decodeChildMain(path string, stdout, stderr io.Writer) int {
	res, err := decodeFile(path)
	if err != nil {
		fmt.Fprintln(stderr, "decode-only:", err)
		return 1
	}
	_ = json.NewEncoder(stdout).Encode(res)
	return 0
}

// decodeFile times poller.DecodeResponse, the streaming decoder a scan uses,
// over every page in the file, read one page at a time as a response body would
// be: the heap stays the size of a page, so the garbage collector runs as often
// for the decoder's allocations as it would in a process that only decoded.
// Reading the file (from the page cache) is timed too, as covacdc's socket reads
// are.
func decodeFile(path string) (decodeResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return decodeResult{}, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 256<<10)
	var res decodeResult
	runtime.GC()
	before, start := processCPU(), time.Now()
	for {
		if _, err := r.Peek(1); err == io.EOF {
			break
		}
		err := poller.DecodeResponse(&lineReader{r: r}, func(c schema.Customer, re *poller.RecordError) error {
			if re != nil {
				res.Invalid++
				return nil
			}
			res.Customers++
			return nil
		})
		if err != nil {
			return decodeResult{}, fmt.Errorf("page %d: %w", res.Pages+1, err)
		}
		res.Pages++
	}
	res.Wall = time.Since(start).Seconds()
	res.CPU = (processCPU() - before).Seconds()
	return res, nil
}

// lineReader reads one line of r, without its newline, then says io.EOF.
type lineReader struct {
	r    *bufio.Reader
	pend []byte
	last bool
}

func (l *lineReader) Read(p []byte) (int, error) {
	for len(l.pend) == 0 {
		if l.last {
			return 0, io.EOF
		}
		b, err := l.r.ReadSlice('\n')
		switch {
		case err == nil:
			l.pend, l.last = b[:len(b)-1], true
		case errors.Is(err, bufio.ErrBufferFull):
			l.pend = b
		case errors.Is(err, io.EOF):
			l.pend, l.last = b, true
		default:
			return 0, err
		}
	}
	n := copy(p, l.pend)
	l.pend = l.pend[n:]
	return n, nil
}

// processCPU is the CPU time this process has used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// decodePasses is how many times decodeOnly decodes the pages. One pass is
// about as long as covacdc's load, and as exposed to the other processes on
// the machine: the median of several keeps one disturbed pass out of the ratio.
const decodePasses = 3

// decodeOnly runs the decode-only process over the fetched pages decodePasses
// times and returns the pass of median CPU.
func decodeOnly(path string) (decodeResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return decodeResult{}, err
	}
	var passes []decodeResult
	for range decodePasses {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), decodeChildEnv+"="+path)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return decodeResult{}, fmt.Errorf("decode-only process: %w: %s", err, errb.String())
		}
		var res decodeResult
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			return decodeResult{}, fmt.Errorf("decode-only process said %q: %w", out.String(), err)
		}
		passes = append(passes, res)
	}
	slices.SortFunc(passes, func(a, b decodeResult) int { return cmp.Compare(a.CPU, b.CPU) })
	return passes[len(passes)/2], nil
}
