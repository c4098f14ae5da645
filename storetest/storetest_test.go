package storetest_test

import (
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth/storetest"
)

// bugEnv names the bug TestBuggyStore runs the suite against, in the
// child process TestSuiteCatches starts.
const bugEnv = "STORETEST_BUG"

func TestCorrectStore(t *testing.T) {
	t.Parallel()
	storetest.Test(t, fakeConfig(""))
}

// TestSuiteCatches proves that each check can fail: it runs the check on
// a store with one bug, in a child process, and requires that check to
// fail there, without a panic escaping the suite. The children run all at
// once, since most of their time is spent waiting for expiry.
func TestSuiteCatches(t *testing.T) {
	t.Parallel()
	cases := []struct{ check, bug string }{
		{"RoundTrip", "load-drops-scopes"},
		{"RoundTrip", "load-shares"},
		{"RoundTrip", "load-no-version"},
		{"RoundTrip", "save-keeps-pointer"},
		{"RoundTrip", "save-no-version"},
		{"LoadAbsent", "not-found-plain"},
		{"ConditionalSave", "save-ignores-version"},
		{"ConditionalSave", "save-absent-any-version"},
		{"ConditionalSave", "save-writes-then-conflict"},
		{"ConcurrentSave", "save-racy"},
		{"ConcurrentSave", "save-ignores-version"},
		{"VersionsNotReused", "versions-per-id"},
		{"Delete", "delete-ignores-version"},
		{"Delete", "delete-absent-nil"},
		{"Lease", "lease-racy"},
		{"Lease", "lease-global"},
		{"Lease", "lease-fence-zero"},
		{"Lease", "fence-per-name"},
		{"Lease", "extend-same-fence"},
		{"Lease", "release-by-anyone"},
		{"Lease", "lease-ignores-ttl"},
		{"LeaseExpiry", "lease-never-expires"},
		{"LeaseExpiry", "lease-ignores-ttl"},
		{"LeaseExpiry", "release-by-anyone"},
		{"Fence", "save-ignores-fence"},
		{"Fence", "save-refuses-equal-fence"},
		{"Fence", "save-refuses-fence-zero"},
		{"Fence", "fence-overwrite"},
		{"Fence", "load-no-fence"},
		{"APIKey", "apikey-not-found-plain"},
		{"APIKey", "apikey-overwrite"},
		{"APIKey", "apikey-drops-last4"},
		{"APIKey", "apikey-racy"},
		{"UsedStates", "use-always-true"},
		{"UsedStates", "use-never-expires"},
		{"UsedStates", "use-racy"},
		{"UsedStates", "use-global"},
		{"Context", "ignore-ctx"},
		{"Context", "ctx-after-write"},
		{"CorruptRecord", "corrupt-panics"},
		{"CorruptRecord", "corrupt-plain"},
		{"Secrets", "format-leaks"},
	}
	catches(t, "TestBuggyStore", bugEnv, cases)
}

// catches runs each case's check on a store with the case's bug, in a
// child process of this test binary that runs test with env set to the
// bug, and requires the check to fail there without a panic escaping.
// The children run all at once, since most of their time is spent
// waiting; args are further flags for them.
func catches(t *testing.T, test, env string, cases []struct{ check, bug string }, args ...string) {
	t.Helper()
	type result struct {
		out []byte
		err error
	}
	results := make([]result, len(cases))
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], append([]string{"-test.run=^" + test + "$/^" + c.check + "$", "-test.count=1", "-test.timeout=1m"}, args...)...)
			cmd.Env = append(os.Environ(), env+"="+c.bug)
			results[i].out, results[i].err = cmd.CombinedOutput()
		})
	}
	wg.Wait()
	for i, c := range cases {
		t.Run(c.check+"/"+c.bug, func(t *testing.T) {
			out, err := results[i].out, results[i].err
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "the check passed on a store with the bug:\n%s", out)
			assert.Contains(t, string(out), "--- FAIL: "+test+"/"+c.check+" ")
			assert.NotContains(t, string(out), "\npanic: ")
		})
	}
}

// TestBuggyStore runs the suite for TestSuiteCatches.
func TestBuggyStore(t *testing.T) {
	bug := os.Getenv(bugEnv)
	if bug == "" {
		t.Skip("run by TestSuiteCatches")
	}
	storetest.Test(t, fakeConfig(bug))
}
