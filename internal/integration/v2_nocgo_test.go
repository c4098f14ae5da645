//go:build datadogv2 && !cgo

package integration

import (
	"io"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV2"
)

// metricEncodings are the encodings the official client can send for
// metrics without cgo.
var metricEncodings = []datadogV2.MetricContentEncoding{
	datadogV2.METRICCONTENTENCODING_GZIP, datadogV2.METRICCONTENTENCODING_DEFLATE,
}

// decodeZstd is nil: without cgo the official client sends no zstd1.
var decodeZstd func(io.Reader) io.ReadCloser
