package pgstore_test

import (
	"testing"

	"github.com/ddoauth/ddoauth/internal/pgtest"
	"github.com/ddoauth/ddoauth/pgstore"
	"github.com/ddoauth/ddoauth/storetest"
)

// BenchmarkStore runs storetest's benchmarks against the test binary's
// private Postgres (fsync and synchronous_commit off) over TCP loopback,
// each sub-benchmark on a database of its own. It skips without the
// Postgres binaries.
func BenchmarkStore(b *testing.B) {
	srv := pgtest.Start(b)
	storetest.Benchmark(b, func(b *testing.B) storetest.Store { return open(b, newPool(b, srv), pgstore.Config{}) })
}
