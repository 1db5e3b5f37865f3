package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// MetricNames returns every metric name that the Grafana dashboards and the Prometheus
// rule files under dir query, each mapped to the sorted, slash-separated paths
// (relative to dir) of the files that use it.
//
// A dashboard is a .json file whose top-level object has "panels"; every "expr" in it
// (panels, rows, annotations) and every Prometheus query variable counts. A rule file is
// a .yml or .yaml file with top-level "groups" (or, in a Kubernetes PrometheusRule,
// "spec.groups"); every rule's "expr" counts. Other files, directories named testdata and
// hidden directories are ignored; a dashboard or YAML file that does not parse is an
// error naming the file.
//
// Names are the series names as written in the queries, so a histogram family F shows up
// as F_bucket, F_sum or F_count: a caller comparing them with a registry's Gather output,
// which names families, must strip that suffix for histogram and summary families. Series
// that Prometheus makes itself rather than scrapes (up, scrape_*, ALERTS,
// ALERTS_FOR_STATE) and series recorded by a recording rule under dir are left out, since
// no binary exposes them.
//
// MetricNames only reads files and is safe for concurrent use.
func MetricNames(dir string) (map[string][]string, error) {
	names := make(map[string]map[string]bool)
	recorded := make(map[string]bool)
	add := func(file, expr string) {
		for _, n := range exprMetrics(expr) {
			if names[n] == nil {
				names[n] = make(map[string]bool)
			}
			names[n][file] = true
		}
	}

	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch strings.ToLower(filepath.Ext(path)) {
		case ".json":
			exprs, err := dashboardExprs(path)
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			for _, e := range exprs {
				add(rel, e)
			}
		case ".yml", ".yaml":
			exprs, records, err := ruleExprs(path)
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
			for _, e := range exprs {
				add(rel, e)
			}
			for _, r := range records {
				recorded[r] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	out := make(map[string][]string, len(names))
	for n, files := range names {
		if recorded[n] || prometheusMade(n) {
			continue
		}
		list := make([]string, 0, len(files))
		for f := range files {
			list = append(list, f)
		}
		sort.Strings(list)
		out[n] = list
	}
	return out, nil
}

// prometheusMade reports series that Prometheus synthesises per target or per rule.
func prometheusMade(name string) bool {
	switch name {
	case "up", "ALERTS", "ALERTS_FOR_STATE":
		return true
	}
	return strings.HasPrefix(name, "scrape_")
}

// dashboardExprs returns the queries of a Grafana dashboard, or nothing for JSON that is
// not a dashboard.
func dashboardExprs(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var top map[string]any
	if err := json.Unmarshal(raw, &top); err != nil {
		// Only a file that claims to be a dashboard must parse; other JSON is not ours.
		if bytes.Contains(raw, []byte(`"panels"`)) {
			return nil, err
		}
		return nil, nil
	}
	if _, ok := top["panels"]; !ok {
		return nil, nil
	}
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && k == "expr" {
					exprs = append(exprs, s)
					continue
				}
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(top)

	// Query variables hold Grafana's own query language, not bare PromQL.
	if tpl, ok := top["templating"].(map[string]any); ok {
		list, _ := tpl["list"].([]any)
		for _, item := range list {
			v, _ := item.(map[string]any)
			if v == nil || v["type"] != "query" {
				continue
			}
			q := v["query"]
			if m, ok := q.(map[string]any); ok {
				q = m["query"]
			}
			if s, ok := q.(string); ok {
				if e := variableExpr(s); e != "" {
					exprs = append(exprs, e)
				}
			}
		}
	}
	return exprs, nil
}

var (
	labelValuesOfExpr = regexp.MustCompile(`^\s*label_values\(\s*(.+)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)
	labelValuesOnly   = regexp.MustCompile(`^\s*label_values\(\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)
	queryResult       = regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`)
	metricsQuery      = regexp.MustCompile(`^\s*(metrics|label_names)\(.*\)\s*$`)
)

// variableExpr turns a Grafana Prometheus variable query into the PromQL it runs.
func variableExpr(q string) string {
	switch {
	case labelValuesOnly.MatchString(q), metricsQuery.MatchString(q):
		return ""
	case labelValuesOfExpr.MatchString(q):
		return labelValuesOfExpr.FindStringSubmatch(q)[1]
	case queryResult.MatchString(q):
		return queryResult.FindStringSubmatch(q)[1]
	}
	return q
}

// ruleFile is the part of a Prometheus rule file (or a PrometheusRule object) read here.
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
	Spec   struct {
		Groups []ruleGroup `yaml:"groups"`
	} `yaml:"spec"`
}

type ruleGroup struct {
	Rules []struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	} `yaml:"rules"`
}

// ruleExprs returns the rule expressions and recorded series of every document in a
// YAML file; documents without rule groups contribute nothing.
func ruleExprs(path string) (exprs, records []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	for {
		var doc ruleFile
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return exprs, records, nil
			}
			return nil, nil, err
		}
		for _, g := range append(doc.Groups, doc.Spec.Groups...) {
			for _, r := range g.Rules {
				exprs = append(exprs, r.Expr)
				if r.Record != "" {
					records = append(records, r.Record)
				}
			}
		}
	}
}

// grafanaVariable matches $var, ${var}, ${var:format} and [[var]].
var grafanaVariable = regexp.MustCompile(`\$\{[^}]*\}|\$[a-zA-Z_][a-zA-Z0-9_]*|\[\[[^\]]*\]\]`)

// promqlKeywords are identifiers that are never metric names outside a function call.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "atan2": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true,
	"group_right": true, "inf": true, "nan": true,
}

// labelListKeywords take a parenthesised list of label names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

var nameMatcher = regexp.MustCompile(`__name__\s*=\s*["'` + "`" + `]([a-zA-Z_:][a-zA-Z0-9_:]*)["'` + "`" + `]`)

// exprMetrics returns the metric names a PromQL expression selects, in order of first use.
// It is a lexer, not a parser: it skips strings, label matchers, ranges, numbers,
// durations, keywords, label lists and anything called like a function, and what is left
// are vector selectors. Grafana variables are replaced by a number first.
func exprMetrics(expr string) []string {
	s := grafanaVariable.ReplaceAllString(expr, "0")
	var out []string
	seen := make(map[string]bool)
	record := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	i := 0
	skipSpace := func(j int) int {
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r') {
			j++
		}
		return j
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
		case c == '{':
			end := skipBlock(s, i, '{', '}')
			for _, m := range nameMatcher.FindAllStringSubmatch(s[i:end], -1) {
				record(m[1])
			}
			i = end
		case c == '[':
			i = skipBlock(s, i, '[', ']')
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			for i < len(s) && (isIdent(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			word := s[i:j]
			next := skipSpace(j)
			i = j
			switch {
			case labelListKeywords[strings.ToLower(word)]:
				if next < len(s) && s[next] == '(' {
					i = skipBlock(s, next, '(', ')')
				}
			case promqlKeywords[strings.ToLower(word)]:
			case next < len(s) && s[next] == '(':
				// A function or an aggregation called directly.
			case followedByGrouping(s, next):
				// An aggregation written "sum by (x) (...)".
			default:
				record(word)
			}
		default:
			i++
		}
	}
	return out
}

func followedByGrouping(s string, at int) bool {
	rest := strings.ToLower(s[at:])
	for _, kw := range []string{"by", "without"} {
		if strings.HasPrefix(rest, kw) && (len(rest) == len(kw) || !isIdent(rest[len(kw)])) {
			return true
		}
	}
	return false
}

// skipString returns the index just past the string literal starting at i.
func skipString(s string, i int) int {
	q := s[i]
	i++
	for i < len(s) {
		switch {
		case s[i] == '\\' && q != '`':
			i += 2
		case s[i] == q:
			return i + 1
		default:
			i++
		}
	}
	return len(s)
}

// skipBlock returns the index just past the bracket that closes the one at i,
// ignoring brackets inside strings.
func skipBlock(s string, i int, open, close byte) int {
	depth := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
			continue
		case c == open:
			depth++
		case c == close:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return len(s)
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdent(c byte) bool      { return isIdentStart(c) || isDigit(c) }
