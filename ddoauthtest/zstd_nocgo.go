//go:build !cgo

package ddoauthtest

import "io"

// zstdReader reports zstd unsupported without cgo, where the official
// client cannot send it either.
func zstdReader(io.Reader) (io.ReadCloser, bool) { return nil, false }
