//go:build datadogv2 && cgo

package integration

import (
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV2"
	"github.com/DataDog/zstd"
)

// metricEncodings are the encodings the official client can send for
// metrics: zstd1 needs cgo.
var metricEncodings = []datadogV2.MetricContentEncoding{
	datadogV2.METRICCONTENTENCODING_GZIP, datadogV2.METRICCONTENTENCODING_DEFLATE, datadogV2.METRICCONTENTENCODING_ZSTD1,
}

// decodeZstd is the emulator's zstd1 decoder: the library the official
// client compresses with.
var decodeZstd = zstd.NewReader
