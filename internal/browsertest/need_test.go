package browsertest

import (
	"fmt"
	"os"
	"path/filepath"
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

func TestNeedChromium(t *testing.T) {
	t.Parallel()
	present := filepath.Join(t.TempDir(), "chromium")
	assert.NoError(t, os.WriteFile(present, nil, 0o755))
	missing := filepath.Join(t.TempDir(), "chromium")
	for _, tc := range []struct {
		name       string
		path, env  string
		want       bool
		skip, fail bool
	}{
		{"installed", present, "", true, false, false},
		{"installed, required", present, "1", true, false, false},
		{"missing", missing, "", false, true, false},
		{"missing, required", missing, "1", false, false, true},
		{"missing, required is not 1", missing, "true", false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recordingTB{}
			got := needChromium(rec, tc.path, func(k string) string {
				if k == "DDOAUTH_REQUIRE_BROWSER" {
					return tc.env
				}
				return ""
			})
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.skip, rec.skipped != "", "skipped: %q", rec.skipped)
			assert.Equal(t, tc.fail, rec.failed != "", "failed: %q", rec.failed)
			if tc.fail {
				assert.Contains(t, rec.failed, "DDOAUTH_REQUIRE_BROWSER=1")
			}
		})
	}
}
