package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"github.com/covacdc/covacdc/poller"
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

// decodeFile splits the pages into elements (not timed), then times
// poller.DecodeCustomer over every element, one at a time as the poller hands
// them on.
func decodeFile(path string) (decodeResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return decodeResult{}, err
	}
	defer f.Close()
	var elems [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	for sc.Scan() {
		var page []json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &page); err != nil {
			return decodeResult{}, err
		}
		for _, e := range page {
			elems = append(elems, bytes.Clone(e))
		}
	}
	if err := sc.Err(); err != nil {
		return decodeResult{}, err
	}
	runtime.GC()
	before, start := processCPU(), time.Now()
	res := decodeResult{Customers: len(elems)}
	for _, e := range elems {
		c, err := poller.DecodeCustomer(e)
		if err != nil {
			res.Invalid++
		}
		sink = c.Version
	}
	res.Wall = time.Since(start).Seconds()
	res.CPU = (processCPU() - before).Seconds()
	return res, nil
}

var sink int64

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// decodeOnly runs the decode-only process over the fetched pages.
func decodeOnly(path string) (decodeResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return decodeResult{}, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), decodeChildEnv+"="+path)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return decodeResult{}, fmt.Errorf("decode-only process: %v: %s", err, errb.String())
	}
	var res decodeResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return decodeResult{}, fmt.Errorf("decode-only process said %q: %w", out.String(), err)
	}
	return res, nil
}
