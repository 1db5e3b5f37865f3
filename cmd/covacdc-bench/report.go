package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

// report is every scenario's figures, run by run.
type report struct {
	Machine  map[string]string
	Kafka    string
	Args     string
	Sections []*section
}

// section is one scenario variant: its figures per run, notes and targets.
type section struct {
	Name    string
	Setup   string
	Figures []string             // names in print order
	Units   map[string]string    // figure -> unit
	Runs    []map[string]float64 // one map per run
	Notes   []string
	Targets []target
}

// target is a goal on the median of one figure.
type target struct {
	Figure string
	Op     string // "<=", ">=" or "=="
	Value  float64
	Text   string
}

func (r *report) section(name, setup string) *section {
	s := &section{Name: name, Setup: setup, Units: map[string]string{}}
	r.Sections = append(r.Sections, s)
	return s
}

// add records one run's figure; the first run fixes the print order.
func (s *section) add(run int, figure, unit string, v float64) {
	for len(s.Runs) <= run {
		s.Runs = append(s.Runs, map[string]float64{})
	}
	s.Runs[run][figure] = v
	if !slices.Contains(s.Figures, figure) {
		s.Figures = append(s.Figures, figure)
		s.Units[figure] = unit
	}
}

func (s *section) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	if !slices.Contains(s.Notes, n) {
		s.Notes = append(s.Notes, n)
	}
}

func (s *section) target(figure, op string, v float64, text string) {
	s.Targets = append(s.Targets, target{Figure: figure, Op: op, Value: v, Text: text})
}

// stats returns the median, minimum and maximum of a figure over the runs.
func (s *section) stats(figure string) (med, lo, hi float64, n int) {
	var vs []float64
	for _, r := range s.Runs {
		if v, ok := r[figure]; ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return math.NaN(), math.NaN(), math.NaN(), 0
	}
	sort.Float64s(vs)
	m := len(vs) / 2
	med = vs[m]
	if len(vs)%2 == 0 {
		med = (vs[m-1] + vs[m]) / 2
	}
	return med, vs[0], vs[len(vs)-1], len(vs)
}

func (t target) met(med float64) bool {
	switch t.Op {
	case "<=":
		return med <= t.Value
	case ">=":
		return med >= t.Value
	case "==":
		return med == t.Value
	}
	return false
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v == math.Trunc(v) && math.Abs(v) < 1e12:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	case math.Abs(v) >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "covacdc-bench %s\n", r.Args)
	fmt.Fprintf(w, "machine: %s, %s CPUs, %s memory, %s %s; Kafka: %s\n",
		r.Machine["model"], r.Machine["cpus"], r.Machine["memory"], r.Machine["go"], r.Machine["os"], r.Kafka)
	for _, s := range r.Sections {
		fmt.Fprintf(w, "\n== %s (%d run(s))\n", s.Name, len(s.Runs))
		if s.Setup != "" {
			fmt.Fprintf(w, "   %s\n", s.Setup)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "   figure\tmedian\tmin\tmax\tunit\t\n")
		for _, f := range s.Figures {
			med, lo, hi, _ := s.stats(f)
			fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s\t\n", f, num(med), num(lo), num(hi), s.Units[f])
		}
		_ = tw.Flush()
		for _, t := range s.Targets {
			med, _, _, _ := s.stats(t.Figure)
			verdict := "NOT MET"
			if t.met(med) {
				verdict = "met"
			}
			fmt.Fprintf(w, "   target %s %s %s: %s (median %s)\n", t.Figure, t.Op, num(t.Value), verdict, num(med))
			if t.Text != "" {
				fmt.Fprintf(w, "     (%s)\n", t.Text)
			}
		}
		for _, n := range s.Notes {
			fmt.Fprintf(w, "   note: %s\n", strings.ReplaceAll(n, "\n", "\n         "))
		}
	}
}
