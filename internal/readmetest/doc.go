// Package readmetest checks the Go in the module's READMEs (README.md and
// examples/*/README.md) as written. The rule, so that nothing is added
// behind the reader's back: every ```go block is a whole Go file, package
// clause and imports included, formatted as gofmt formats it; go vet,
// run from the module's root, passes on it alone. A block whose package
// name ends in _test is a test file, and go test runs it too. Blocks of
// other languages (```sh) are not checked.
//
// It holds tests only. go vet runs with the build flags of the test binary
// (-race under `go test -race`), so it reuses the compile of the packages
// the blocks import that the same `make test` made.
package readmetest
