// Package cli holds what the example commands share: the one way they
// read a Datadog site, and a -h that exits 0 and names the environment
// variables each reads.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ddoauth/ddoauth"
)

// Site resolves v as every example takes a site (-site or DD_SITE): a
// site name in any letter case ("eu1", "US1-FED"), or any form
// ddoauth.ResolveSite accepts ("datadoghq.eu", "app.datadoghq.eu",
// "https://app.datadoghq.eu/"). An empty v is the zero Site. Errors wrap
// ddoauth.ErrUnknownSite.
func Site(v string) (ddoauth.Site, error) {
	if v == "" {
		return ddoauth.Site{}, nil
	}
	for _, s := range ddoauth.Sites() {
		if strings.EqualFold(s.Name(), v) {
			return s, nil
		}
	}
	return ddoauth.ResolveSite(v)
}

// Env is an environment variable a command reads and what it is for,
// for its usage text.
type Env [2]string

// SiteUsage describes -site and DD_SITE the same way in every example.
const SiteUsage = "Datadog site: a name (eu1, US1-FED), a domain (datadoghq.eu), a host or an https origin"

// NewFlagSet returns a flag set for command name that returns errors
// instead of exiting, and whose usage text, written to out, shows
// summary, the flags, then env.
func NewFlagSet(name, summary string, env []Env, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "%s\n\nUsage: go run ./examples/%s [flags]\n", strings.TrimSpace(summary), name)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(out, "\nFlags:")
			fs.PrintDefaults()
		}
		if len(env) > 0 {
			fmt.Fprintln(out, "\nEnvironment:")
			for _, e := range env {
				fmt.Fprintf(out, "  %s\n    \t%s\n", e[0], e[1])
			}
		}
	}
	return fs
}

// Exit ends a command's main: status 0 for nil and for flag.ErrHelp
// (-h printed the usage), otherwise the error on stderr and status 1.
func Exit(name string, err error) {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	os.Exit(1)
}

// Parse parses args with fs: flag.ErrHelp for -h, and an error for a
// flag fs refuses or an argument left over.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q; see -h", fs.Arg(0))
	}
	return nil
}
