// Package testenv decides what a test does when a program it needs (a
// browser, a database server) is not installed: skip, with the make
// target that installs it, or fail where the environment requires it, as
// CI does once it has installed the program.
package testenv

import (
	"fmt"
	"testing"
)

// Missing skips tb, naming what is missing and the make target that
// installs it, or fails tb when getenv(require) is "1".
func Missing(tb testing.TB, what, target, require string, getenv func(string) string) {
	tb.Helper()
	msg := fmt.Sprintf("%s is not installed; `make %s` installs it", what, target)
	if getenv(require) == "1" {
		tb.Fatal(msg + " (" + require + "=1)")
		return
	}
	tb.Skip(msg)
}
