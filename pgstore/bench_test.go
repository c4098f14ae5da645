package pgstore_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth/internal/pgtest"
	"github.com/ddoauth/ddoauth/pgstore"
)

// The benchmarks run against the test binary's private Postgres (fsync
// off) over TCP loopback, one call at a time. Besides ns/op they report
// each call's p50 and p99 in microseconds.

// latencies records the duration of each op and reports its percentiles.
type latencies []time.Duration

func (l *latencies) time(f func()) {
	start := time.Now()
	f()
	*l = append(*l, time.Since(start))
}

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	b.ReportMetric(float64(l[len(l)/2].Nanoseconds())/1000, "p50-us")
	b.ReportMetric(float64(l[len(l)*99/100].Nanoseconds())/1000, "p99-us")
}

// BenchmarkLoad loads a sealed connection: one SELECT by primary key and
// an AES-GCM open.
func BenchmarkLoad(b *testing.B) {
	s, ctx := open(b, newPool(b, pgtest.Start(b)), pgstore.Config{}), b.Context()
	conn, _ := fixture(b)
	require.NoError(b, s.Save(ctx, "tenant-1", conn))
	var lat latencies
	for b.Loop() {
		lat.time(func() {
			if _, err := s.Load(ctx, "tenant-1"); err != nil {
				b.Fatal(err)
			}
		})
	}
	lat.report(b)
}

// BenchmarkSave writes a connection over the version it read, under a
// fence: the conditional UPDATE of a refresh.
func BenchmarkSave(b *testing.B) {
	s, ctx := open(b, newPool(b, pgtest.Start(b)), pgstore.Config{}), b.Context()
	conn, _ := fixture(b)
	fence, err := s.Lease(ctx, "connection/tenant-1", "replica-a", time.Hour)
	require.NoError(b, err)
	conn.Fence = fence
	require.NoError(b, s.Save(ctx, "tenant-1", conn))
	var lat latencies
	for b.Loop() {
		lat.time(func() {
			if err := s.Save(ctx, "tenant-1", conn); err != nil {
				b.Fatal(err)
			}
		})
	}
	lat.report(b)
}

// BenchmarkLease takes a lease and releases it: what a replica does
// around each refresh.
func BenchmarkLease(b *testing.B) {
	s, ctx := open(b, newPool(b, pgtest.Start(b)), pgstore.Config{}), b.Context()
	var lat latencies
	for b.Loop() {
		lat.time(func() {
			if _, err := s.Lease(ctx, "connection/tenant-1", "replica-a", time.Minute); err != nil {
				b.Fatal(err)
			}
			if err := s.Release(ctx, "connection/tenant-1", "replica-a"); err != nil {
				b.Fatal(err)
			}
		})
	}
	lat.report(b)
}
