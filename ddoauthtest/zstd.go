//go:build cgo

package ddoauthtest

import (
	"io"

	"github.com/DataDog/zstd"
)

// zstdReader decodes the "zstd1" encoding the official Datadog client
// offers for metrics. The client compresses it only when built with cgo,
// through the same library.
func zstdReader(r io.Reader) (io.ReadCloser, bool) { return zstd.NewReader(r), true }
