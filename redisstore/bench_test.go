package redisstore_test

import (
	"testing"

	"github.com/ddoauth/ddoauth/internal/redistest"
	"github.com/ddoauth/ddoauth/redisstore"
	"github.com/ddoauth/ddoauth/storetest"
)

// BenchmarkStore runs storetest's benchmarks against the test binary's
// private Redis (appendfsync everysec) over TCP loopback, each
// sub-benchmark under a key prefix of its own. It skips without
// redis-server.
func BenchmarkStore(b *testing.B) {
	srv := redistest.Shared(b)
	storetest.Benchmark(b, func(b *testing.B) storetest.Store { return open(b, srv, redisstore.Config{}) })
}
