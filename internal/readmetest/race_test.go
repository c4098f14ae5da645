//go:build race

package readmetest

// Under -race the go commands this test runs build with -race too, so that
// they reuse the compile the test's own build made of the packages the
// blocks import, rather than compiling them a second time.
func init() { buildFlags = []string{"-race"} }
