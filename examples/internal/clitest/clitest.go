// Package clitest checks the example commands' command lines from their
// tests: the test binary, started again with runMainEnv set, runs the
// command's main instead of its tests.
package clitest

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const runMainEnv = "EXAMPLE_RUN_MAIN"

// BuildFlags are the go command's build flags for a test that builds a
// command: -race when the test binary has it (race.go), so that the build
// reuses the packages compiled for the test instead of compiling them
// again without it.
var BuildFlags []string

// Main is a command's TestMain: in a copy that CheckHelp starts it runs
// main, otherwise the tests.
func Main(m *testing.M, main func()) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// CheckHelp runs the command with -h, which must exit 0 with a usage that
// names every flag and environment variable in names, then with an
// unknown flag, which must exit 1.
func CheckHelp(t *testing.T, names ...string) {
	t.Helper()
	out, err := runMain("-h")
	require.NoError(t, err, out)
	for _, name := range names {
		assert.Contains(t, out, name)
	}
	out, err = runMain("-nope")
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, out)
	assert.Equal(t, 1, exit.ExitCode())
}

func runMain(args ...string) (string, error) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}
