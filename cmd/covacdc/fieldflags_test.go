package main

import (
	"errors"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/covacdc/covacdc/poller"
	"github.com/covacdc/covacdc/poller/covatest"
	"github.com/covacdc/covacdc/publisher"
)

var commandNames = []string{"run", "demo", "resync", "tail", "state", "schema", "simulate"}

// fieldNames lists the exported fields of a struct type, nested structs of
// this module dotted ("State.Topic").
func fieldNames(t reflect.Type, prefix string) []string {
	var names []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		if f.Type.Kind() == reflect.Struct && strings.HasPrefix(f.Type.PkgPath(), "github.com/covacdc/") {
			names = append(names, fieldNames(f.Type, prefix+f.Name+".")...)
			continue
		}
		names = append(names, prefix+f.Name)
	}
	return names
}

// Every field of the configurations covacdc run builds is set by a flag that
// exists, or is one the command keeps at its default on purpose; so an error
// that names a field always reaches the user under a flag they can set.
func TestEveryConfigFieldHasItsFlag(t *testing.T) {
	run := commandByName("run")
	for _, pkg := range []struct {
		name  string
		typ   reflect.Type
		flags map[string]string
	}{
		{"poller", reflect.TypeFor[poller.Config](), pollerFlags},
		{"publisher", reflect.TypeFor[publisher.Config](), publisherFlags},
	} {
		fields := fieldNames(pkg.typ, "")
		for _, field := range fields {
			flag, ok := pkg.flags[field]
			switch {
			case fixedFields[pkg.name+"."+field]:
				if ok {
					t.Errorf("%s.%s is both fixed and set by --%s", pkg.name, field, flag)
				}
			case !ok:
				t.Errorf("%s.%s: no flag sets it and it is not listed as fixed", pkg.name, field)
			case run.fs.Lookup(flag) == nil:
				t.Errorf("%s.%s: --%s is not a flag of covacdc run", pkg.name, field, flag)
			}
		}
		for field := range pkg.flags {
			if !slices.Contains(fields, field) {
				t.Errorf("the table maps %s.%s, which the Config does not have", pkg.name, field)
			}
		}
	}
}

// A bad value the packages refuse is reported under its flag, in the
// package's words, with exit code 2: here a zero the packages do not fill in.
func TestPackageRulesReachTheUserUnderTheFlag(t *testing.T) {
	base := []string{"--kafka-brokers", "k:9092", "--company-id", "1", "--cova-client-id", "id",
		"--cova-client-secret", "s", "--cova-username", "u", "--cova-password", "p"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--page-size", "0"}, "--page-size: must be between 2 and 100, got 0"},
		{[]string{"--page-overlap", "0"}, "--page-overlap: must be between 1 and the page size - 1 (99), got 0"},
		{[]string{"--lookback", "0s"}, "--lookback: must be positive, got 0s"},
		{[]string{"--max-backoff", "1ms"}, "--max-backoff: must be at least the initial backoff (500ms), got 1ms"},
		{[]string{"--max-retries", "-1"}, "--max-retries: must be between 0 (no retry) and 1000, got -1"},
		{[]string{"--state-partitions", "0"}, "--state-partitions: must be at least 1, got 0"},
		{[]string{"--replication-factor", "0"}, "--replication-factor: must be -1 (the broker's default) or at least 1, got 0"},
		{[]string{"--state-partitions", "-5"}, "--state-partitions: must be at least 1, got -5"},
		{[]string{"--partitions", "3000000000"}, "--partitions: 3000000000 is out of range: at most 2147483647"},
		{[]string{"--compression", "brotli"}, "--compression: must be one of none, gzip, snappy, lz4, zstd, got \"brotli\""},
	} {
		var f runFlags
		if err := runCommand(&f).parse(append(slices.Clone(base), tc.args...), func(string) string { return "" }); err != nil {
			t.Fatalf("%v: parse: %v", tc.args, err)
		}
		_, err := f.validate()
		var usage *usageError
		if !errors.As(err, &usage) || err.Error() != tc.want {
			t.Errorf("%v: %v, want the usage error %q", tc.args, err, tc.want)
		}
	}
	var f runFlags
	if err := runCommand(&f).parse(append(slices.Clone(base), "--max-retries", "0"), func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if cfg, err := f.validate(); err != nil || cfg.Poller.MaxRetries != 0 {
		t.Errorf("--max-retries 0: %v, MaxRetries %d; want no retry", err, cfg.Poller.MaxRetries)
	}
}

var flagInText = regexp.MustCompile(`(?:^|[^-\w])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)`)

// Every --flag that covacdc's code can print (an error, a warning, help) is a
// flag of one of its commands: no message sends a user to a flag that does
// not exist.
func TestFlagsNamedInMessagesExist(t *testing.T) {
	known := map[string]bool{"help": true, "version": true} // covacdc --help, covacdc --version
	for _, name := range commandNames {
		commandByName(name).fs.VisitAll(func(f *flag.Flag) { known[f.Name] = true })
	}
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	checked := 0
	for _, dir := range []string{"cmd/covacdc", "poller", "poller/covatest", "publisher", "state", "schema"} {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				text, err := strconv.Unquote(lit.Value)
				if err != nil {
					return true
				}
				for _, m := range flagInText.FindAllStringSubmatch(text, -1) {
					checked++
					if !known[m[1]] {
						t.Errorf("%s: prints --%s, which no covacdc command has", fset.Position(lit.Pos()), m[1])
					}
				}
				return true
			})
		}
	}
	if checked < 50 {
		t.Fatalf("found only %d flag names in messages: the scan is broken", checked)
	}
	t.Logf("%d flag names in messages, each a real flag", checked)
}

// demoOverrides are the fields in which the demo's configuration departs from
// covacdc run's defaults, beyond where Cova and Kafka are and who logs in.
var demoOverrides = []string{"poller.RequestsPerMinute", "publisher.TransactionalID"}

// The demo runs on covacdc run's defaults, the packages' DefaultConfig, and
// departs from them only where demoOverrides says.
func TestDemoSharesRunDefaults(t *testing.T) {
	sim := covatest.NewServer(covatest.Config{})
	defer sim.Close()
	pc, bc := demoConfig(sim, []string{"127.0.0.1:1"})
	where := map[string]bool{"BaseURL": true, "TokenURL": true, "ClientID": true, "ClientSecret": true,
		"Username": true, "Password": true, "KafkaOpts": true}
	for _, c := range []struct {
		pkg        string
		demo, run_ any
	}{{"poller", pc, poller.DefaultConfig()}, {"publisher", bc, publisher.DefaultConfig()}} {
		dv, rv := reflect.ValueOf(c.demo), reflect.ValueOf(c.run_)
		for i := range dv.NumField() {
			name := dv.Type().Field(i).Name
			same := reflect.DeepEqual(dv.Field(i).Interface(), rv.Field(i).Interface())
			override := slices.Contains(demoOverrides, c.pkg+"."+name)
			switch {
			case where[name]:
			case override && same:
				t.Errorf("%s.%s is listed as a demo override but equals run's default", c.pkg, name)
			case !override && !same:
				t.Errorf("%s.%s: demo %v, run's default %v", c.pkg, name, dv.Field(i).Interface(), rv.Field(i).Interface())
			}
		}
	}
	// run's flag defaults are the same DefaultConfig.
	run := commandByName("run")
	for flagName, want := range map[string]string{
		"page-size": strconv.Itoa(poller.DefaultConfig().PageSize), "max-retries": strconv.Itoa(poller.DefaultConfig().MaxRetries),
		"lookback": poller.DefaultConfig().Lookback.String(), "compression": publisher.DefaultConfig().Compression,
		"max-events-per-transaction": strconv.Itoa(publisher.DefaultConfig().MaxEventsPerTransaction),
	} {
		if got := run.fs.Lookup(flagName).DefValue; got != want {
			t.Errorf("--%s defaults to %s, the package's default is %s", flagName, got, want)
		}
	}
}
