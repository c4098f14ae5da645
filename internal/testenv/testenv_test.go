package testenv

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

// recordingTB records Skip and Fatal instead of ending the test.
type recordingTB struct {
	testing.TB
	skipped, failed string
}

func (r *recordingTB) Helper()           {}
func (r *recordingTB) Skip(args ...any)  { r.skipped = fmt.Sprint(args...) }
func (r *recordingTB) Fatal(args ...any) { r.failed = fmt.Sprint(args...) }

func TestMissing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		env        string
		skip, fail bool
	}{
		{"not required", "", true, false},
		{"required", "1", false, true},
		{"required is not 1", "true", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recordingTB{TB: t}
			Missing(rec, "redis-server (/usr/bin/redis-server)", "servers", "DDOAUTH_REQUIRE_SERVERS", func(k string) string {
				if k == "DDOAUTH_REQUIRE_SERVERS" {
					return tc.env
				}
				return ""
			})
			assert.Equal(t, tc.skip, rec.skipped != "", "skipped: %q", rec.skipped)
			assert.Equal(t, tc.fail, rec.failed != "", "failed: %q", rec.failed)
			assert.Contains(t, rec.skipped+rec.failed, "`make servers` installs it")
			assert.Contains(t, rec.skipped+rec.failed, "/usr/bin/redis-server")
			if tc.fail {
				assert.Contains(t, rec.failed, "DDOAUTH_REQUIRE_SERVERS=1")
			}
		})
	}
}
