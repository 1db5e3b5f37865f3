package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// envPrefix starts the environment variable of every flag: --page-size reads
// COVACDC_PAGE_SIZE when the flag is not given.
const envPrefix = "COVACDC_"

// envName returns the environment variable that backs a flag.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// command is one subcommand's flag set. It uses flag.FlagSet for storage and
// defaults but parses arguments itself, so that every mistake can be reported as
// one line naming the flag the way a user typed it (--page-size, not -page-size).
type command struct {
	name    string // "run", "demo", ...
	summary string // one line for covacdc --help
	fs      *flag.FlagSet
	order   []string // flag names in definition order, for help and the README
	secret  map[string]bool
	fromEnv map[string]string // flag name -> the variable parse took its value from
}

func newCommand(name, summary string) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &command{name: name, summary: summary, fs: fs, secret: map[string]bool{}, fromEnv: map[string]string{}}
}

func (c *command) add(v flag.Value, name, usage string) {
	c.fs.Var(v, name, usage)
	c.order = append(c.order, name)
}

func (c *command) String(p *string, name, def, usage string) {
	*p = def
	c.add((*stringValue)(p), name, usage)
}

// Secret is String for a value that must never be printed (help shows no default).
func (c *command) Secret(p *string, name, usage string) {
	c.String(p, name, "", usage)
	c.secret[name] = true
}

func (c *command) Int(p *int, name string, def int, usage string) {
	*p = def
	c.add((*intValue)(p), name, usage)
}

func (c *command) Int64(p *int64, name string, def int64, usage string) {
	*p = def
	c.add((*int64Value)(p), name, usage)
}

func (c *command) Bool(p *bool, name string, def bool, usage string) {
	*p = def
	c.add((*boolValue)(p), name, usage)
}

func (c *command) Duration(p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	c.add((*durationValue)(p), name, usage)
}

// List is a repeatable flag that also splits on commas: --company-id 1 --company-id 2,3.
func (c *command) List(p *[]string, name, usage string) {
	c.add((*listValue)(p), name, usage)
}

// parse reads args, then the environment for every flag not given, and rejects
// positional arguments. getenv is os.Getenv in production. It records in
// fromEnv which flags took their value from a variable, so that an error about
// such a flag can name the variable (see explainEnvSource).
func (c *command) parse(args []string, getenv func(string) string) error {
	set := map[string]bool{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if rest := args[i+1:]; len(rest) > 0 {
				return usagef("unexpected argument %q", rest[0])
			}
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return usagef("unexpected argument %q (flags start with --)", a)
		}
		name := strings.TrimLeft(a, "-")
		value, hasValue := "", false
		if k := strings.IndexByte(name, '='); k >= 0 {
			name, value, hasValue = name[:k], name[k+1:], true
		}
		if name == "help" || name == "h" {
			return flag.ErrHelp
		}
		f := c.fs.Lookup(name)
		if f == nil {
			return usagef("--%s: unknown flag (see covacdc %s --help)", name, c.name)
		}
		if _, isBool := f.Value.(*boolValue); isBool && !hasValue {
			value, hasValue = "true", true
		}
		if !hasValue {
			if i+1 >= len(args) {
				return usagef("--%s: missing value", name)
			}
			i++
			value = args[i]
		}
		if err := c.fs.Set(name, value); err != nil {
			return usagef("--%s: %v", name, err)
		}
		set[name] = true
	}
	for _, name := range c.order {
		if set[name] {
			continue // flags win over the environment
		}
		env := envName(name)
		value := getenv(env)
		if value == "" {
			continue
		}
		c.fromEnv[name] = env
		if err := c.fs.Set(name, value); err != nil {
			return usagef("--%s: %v", name, err)
		}
	}
	return nil
}

// nameEnvSource rewrites a message that starts with "--flag:" into "--flag
// (from COVACDC_FLAG):" when parse took that flag's value from its variable: a
// user who never typed the flag is told where the bad value came from.
func (c *command) nameEnvSource(msg string) string {
	name, rest, ok := strings.Cut(strings.TrimPrefix(msg, "--"), ":")
	if !ok || !strings.HasPrefix(msg, "--") || c.fromEnv[name] == "" {
		return msg
	}
	return fmt.Sprintf("--%s (from %s):%s", name, c.fromEnv[name], rest)
}

// usage writes the subcommand's help: every flag with its default and variable.
func (c *command) usage(w io.Writer) {
	if len(c.order) == 0 {
		fmt.Fprintf(w, "Usage: covacdc %s\n\n%s\n", c.name, c.summary)
		return
	}
	fmt.Fprintf(w, "Usage: covacdc %s [flags]\n\n%s\n\nFlags (each also read from the environment variable shown; a flag wins over its variable):\n", c.name, c.summary)
	for _, name := range c.order {
		f := c.fs.Lookup(name)
		typ := typeName(f.Value)
		fmt.Fprintf(w, "  --%s", name)
		if typ != "" {
			fmt.Fprintf(w, " %s", typ)
		}
		fmt.Fprintf(w, "\n      %s\n      (%s, env %s)\n", f.Usage, c.defaultText(f), envName(name))
	}
}

// defaultText describes a flag's default for help and the README.
func (c *command) defaultText(f *flag.Flag) string {
	switch {
	case c.secret[f.Name]:
		return "no default; secret"
	case f.DefValue == "" || f.DefValue == "[]":
		return "no default"
	default:
		return "default " + f.DefValue
	}
}

func typeName(v flag.Value) string {
	switch v.(type) {
	case *boolValue:
		return ""
	case *intValue, *int64Value:
		return "int"
	case *durationValue:
		return "duration"
	case *listValue:
		return "list"
	default:
		return "string"
	}
}

// referenceMarkdown renders the flag table of the README's configuration reference.
func (c *command) referenceMarkdown(w io.Writer) {
	fmt.Fprintf(w, "#### `covacdc %s`\n\n%s\n\n", c.name, c.summary)
	fmt.Fprintf(w, "| Flag | Environment variable | Default | Meaning |\n|---|---|---|---|\n")
	for _, name := range c.order {
		f := c.fs.Lookup(name)
		def := "-"
		if !c.secret[name] && f.DefValue != "" && f.DefValue != "[]" {
			def = "`" + f.DefValue + "`"
		}
		usage := strings.ReplaceAll(f.Usage, "|", "\\|")
		fmt.Fprintf(w, "| `--%s` | `%s` | %s | %s |\n", name, envName(name), def, usage)
	}
	fmt.Fprintln(w)
}

type stringValue string

func (s *stringValue) Set(v string) error { *s = stringValue(v); return nil }
func (s *stringValue) String() string     { return string(*s) }

type intValue int

func (i *intValue) Set(v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("not a whole number: %q", v)
	}
	*i = intValue(n)
	return nil
}
func (i *intValue) String() string { return strconv.Itoa(int(*i)) }

type int64Value int64

func (i *int64Value) Set(v string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return fmt.Errorf("not a whole number: %q", v)
	}
	*i = int64Value(n)
	return nil
}
func (i *int64Value) String() string { return strconv.FormatInt(int64(*i), 10) }

type boolValue bool

func (b *boolValue) Set(v string) error {
	x, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("not true or false: %q", v)
	}
	*b = boolValue(x)
	return nil
}
func (b *boolValue) String() string { return strconv.FormatBool(bool(*b)) }

type durationValue time.Duration

func (d *durationValue) Set(v string) error {
	x, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("not a duration such as 30s or 2m: %q", v)
	}
	*d = durationValue(x)
	return nil
}
func (d *durationValue) String() string { return time.Duration(*d).String() }

type listValue []string

func (l *listValue) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}
func (l *listValue) String() string { return strings.Join(*l, ",") }

// usageError is a configuration mistake: covacdc exits 2 and prints its one line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func isUsage(err error) bool {
	var u *usageError
	return errors.As(err, &u)
}
