package ddoauth_test

import (
	"testing"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/storetest"
)

// MemoryStore keeps no record it could not decode, so the corrupt-record
// check is left to the shared stores.
func TestMemoryStoreConformance(t *testing.T) {
	t.Parallel()
	storetest.Test(t, storetest.Config{
		Open: func(*testing.T) storetest.Store { return &ddoauth.MemoryStore{} },
	})
}

// BenchmarkMemoryStore runs storetest's benchmarks on MemoryStore: the
// floor the shared stores are measured against.
func BenchmarkMemoryStore(b *testing.B) {
	storetest.Benchmark(b, func(*testing.B) storetest.Store { return &ddoauth.MemoryStore{} })
}
