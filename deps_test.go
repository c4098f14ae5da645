package ddoauth_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRootDependencies: importing the root package costs the standard
// library, golang.org/x and the module's own internal packages, and no
// cgo outside the standard library (whose cgo is optional).
func TestRootDependencies(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the test runs go list")
	const module = "github.com/ddoauth/ddoauth"
	out, err := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{len .CgoFiles}}", module).CombinedOutput()
	require.NoError(t, err, string(out))
	var others []string
	n := 0
	for line := range strings.Lines(string(out)) {
		n++
		f := strings.Fields(line)
		require.Len(t, f, 3, line)
		path, std, cgo := f[0], f[1] == "true", f[2] != "0"
		switch {
		case std:
		case cgo:
			others = append(others, path+" (cgo)")
		case path == module, strings.HasPrefix(path, module+"/internal/"), strings.HasPrefix(path, "golang.org/x/"):
		default:
			others = append(others, path)
		}
	}
	assert.Greater(t, n, 50, "go list printed the dependencies")
	assert.Empty(t, others, "the root package depends on more than the standard library, golang.org/x and its internal packages")
}
