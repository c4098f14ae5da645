package fleet

import (
	"flag"
	"os"
	"testing"

	"github.com/ddoauth/ddoauth/internal/pgtest"
)

// TestMain stops the package's shared Postgres, and lets more fleets run at once than the default -parallel
// (GOMAXPROCS): a fleet spends its time waiting for tokens to expire, not
// computing, and the package's runs take a minute side by side against
// several one after the other. An explicit -parallel is kept.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", "6") //nolint:errcheck // a valid value of a registered flag
	}
	code := m.Run()
	pgtest.Shutdown()
	os.Exit(code)
}
