package browsertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeMake logs each call with DDOAUTH_REQUIRE_BROWSER and
// DDOAUTH_REQUIRE_SERVERS as the target saw them, and fails the targets
// listed in FAIL_TARGETS.
const fakeMake = `#!/usr/bin/env bash
echo "$1 browser=${DDOAUTH_REQUIRE_BROWSER:-} servers=${DDOAUTH_REQUIRE_SERVERS:-}" >>"$MAKE_LOG"
case " $FAIL_TARGETS " in *" $1 "*) exit 2 ;; esac
`

// TestCIRun runs .ci/run with a make that only logs: a Chromium that
// cannot be installed does not stop CI, and one that was installed makes
// the browser test required; Postgres and Redis are always required, so a
// failed install stops CI before the tests; the datadogV2 tests run after
// make test, and fail CI too.
func TestCIRun(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", ".ci", "run"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		fail   string
		ok     bool
		log    string
		notice bool
	}{
		{"chromium installed", "", true, "chromium browser= servers=\nservers browser=1 servers=\ntest browser=1 servers=1\ntest-v2 browser=1 servers=1\n", false},
		{"chromium not installable", "chromium", true, "chromium browser= servers=\nservers browser= servers=\ntest browser= servers=1\ntest-v2 browser= servers=1\n", true},
		{"servers not installable", "servers", false, "chromium browser= servers=\nservers browser=1 servers=\n", false},
		{"tests fail", "test", false, "chromium browser= servers=\nservers browser=1 servers=\ntest browser=1 servers=1\n", false},
		{"v2 tests fail", "test-v2", false, "chromium browser= servers=\nservers browser=1 servers=\ntest browser=1 servers=1\ntest-v2 browser=1 servers=1\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bin := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(bin, "make"), []byte(fakeMake), 0o755))
			log := filepath.Join(t.TempDir(), "make.log")
			cmd := exec.Command("bash", script)
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "DDOAUTH_REQUIRE_") && !strings.HasPrefix(kv, "PATH=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
				"MAKE_LOG="+log, "FAIL_TARGETS="+tc.fail)
			out, err := cmd.CombinedOutput()
			if tc.ok {
				require.NoError(t, err, string(out))
			} else {
				require.Error(t, err, string(out))
			}
			got, err := os.ReadFile(log)
			require.NoError(t, err)
			assert.Equal(t, tc.log, string(got))
			assert.Equal(t, tc.notice, strings.Contains(string(out), "notice: Chromium could not be installed"), string(out))
		})
	}
}

// TestMakeChromiumChecksTestPath: `make chromium` checks the path the
// test runs, not whichever chromium is first on PATH.
func TestMakeChromiumChecksTestPath(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	out, err := exec.Command("make", "--no-print-directory", "-n", "-C", filepath.Join("..", ".."), "chromium").CombinedOutput()
	require.NoError(t, err, string(out))
	assert.True(t, strings.HasPrefix(string(out), "test -x "+chromiumPath+" "), string(out))
}
