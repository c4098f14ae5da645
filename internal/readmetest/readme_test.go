package readmetest

import (
	"bytes"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// block is a ```go block of a README.
type block struct {
	file string // relative to the module root
	line int    // of the opening fence
	src  string
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

// goBlocks returns the ```go blocks of the README at path.
func goBlocks(t *testing.T, root, path string) []block {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, path))
	require.NoError(t, err)
	var (
		out []block
		cur *block
		src strings.Builder
		n   int
	)
	for line := range strings.Lines(string(data)) {
		n++
		fence := strings.TrimSpace(line)
		switch {
		case cur == nil && fence == "```go":
			cur = &block{file: path, line: n}
			src.Reset()
		case cur != nil && fence == "```":
			cur.src = src.String()
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			src.WriteString(line)
		}
	}
	require.Nil(t, cur, "%s: a ```go block is not closed", path)
	return out
}

// buildFlags are the go command's build flags for the blocks: those this
// test binary was built with (race_test.go).
var buildFlags []string

// TestReadmeSnippets: every ```go block of the READMEs is a whole file,
// gofmt-formatted, that compiles and passes go vet against this module.
func TestReadmeSnippets(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the test runs go vet")
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	readmes, err := filepath.Glob(filepath.Join(root, "examples", "*", "README.md"))
	require.NoError(t, err)
	paths := []string{"README.md"}
	for _, r := range readmes {
		rel, err := filepath.Rel(root, r)
		require.NoError(t, err)
		paths = append(paths, rel)
	}
	var blocks []block
	for _, p := range paths {
		blocks = append(blocks, goBlocks(t, root, p)...)
	}
	require.NotEmpty(t, blocks)
	for _, b := range blocks {
		t.Run(b.String(), func(t *testing.T) {
			t.Parallel()
			require.True(t, strings.HasPrefix(b.src, "package "), "%s: a ```go block is a whole file and starts with its package clause", b)
			formatted, err := format.Source([]byte(b.src))
			require.NoError(t, err, "%s does not parse", b)
			if string(formatted) != b.src {
				t.Errorf("%s is not gofmt-formatted; gofmt makes it:\n%s", b, formatted)
			}
			name := strings.NewReplacer("/", "_", ":", "_", ".", "_").Replace(b.String())
			pkg, _, _ := strings.Cut(b.src, "\n")
			isTest := strings.HasSuffix(pkg, "_test")
			if isTest {
				name += "_test" // a test file: package p_test
			}
			file := filepath.Join(t.TempDir(), name+".go")
			require.NoError(t, os.WriteFile(file, []byte(b.src), 0o600))
			commands := [][]string{append(append([]string{"vet"}, buildFlags...), file)}
			if isTest { // a test that shows a use must pass
				commands = append(commands, append(append([]string{"test", "-count=1"}, buildFlags...), file))
			}
			for _, args := range commands {
				cmd := exec.Command(goTool, args...)
				cmd.Dir = root
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				assert.NoError(t, cmd.Run(), "go %s %s:\n%s", args[0], b, out.String())
			}
		})
	}
}
