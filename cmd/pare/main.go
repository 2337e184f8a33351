// Command pare compresses trained neural networks (ONNX, TFLite) and
// compiles them ahead of time. Run `pare help` for the commands.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand; each lives in its own file.
type command struct {
	name    string
	args    string // usage after the name
	summary string
	detail  string
	flags   func(fs *flag.FlagSet) func(pos []string) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// exitError carries a process exit status without an extra message
// (pare diff exits 1 when graphs differ; pare check when a test failed).
type exitError struct{ code int }

// statusError is an error reported with a given exit status (pare diff
// exits 2 on errors, as diff(1) does, since 1 means "they differ").
type statusError struct {
	code int
	err  error
}

func (e statusError) Error() string { return e.err.Error() }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

var stdout io.Writer = os.Stdout
var stderr io.Writer = os.Stderr

func main() {
	os.Exit(runMain(os.Args[1:]))
}

func runMain(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c := commands[args[1]]; c != nil {
				usage(c, stdout)
				return 0
			}
			fmt.Fprintf(stderr, "pare: unknown command %q\n", args[1])
			return 2
		}
		help(stdout)
		return 0
	}
	c := commands[args[0]]
	if c == nil {
		fmt.Fprintf(stderr, "pare: unknown command %q (see pare help)\n", args[0])
		return 2
	}
	fs := flag.NewFlagSet("pare "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	run := c.flags(fs)
	fs.Usage = func() { usage(c, stderr) }
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := run(pos); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		fmt.Fprintf(stderr, "pare %s: %v\n", c.name, err)
		var se statusError
		if errors.As(err, &se) {
			return se.code
		}
		return 1
	}
	return 0
}

// parseInterspersed parses flags that may come before or after the
// positional arguments, as users write them (`pare run m.onnx --top 5`).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func help(w io.Writer) {
	fmt.Fprintln(w, `pare compresses trained neural networks and compiles them ahead of time.

Usage: pare COMMAND [flags] ARGS

MODEL is an .onnx, .tflite or .ir file everywhere.

Commands:`)
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun `pare help COMMAND` or `pare COMMAND -h` for a command's flags.")
}

func usage(c *command, w io.Writer) {
	fmt.Fprintf(w, "Usage: pare %s %s\n\n%s\n", c.name, c.args, c.summary)
	if c.detail != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.detail))
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.flags(fs)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }
