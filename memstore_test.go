package ddoauth_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/internal/cpuclock"
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

// usedCount reads how many used states s keeps from its Format output.
func usedCount(t testing.TB, s *ddoauth.MemoryStore) int {
	t.Helper()
	var conns, keys, used int
	_, err := fmt.Sscanf(fmt.Sprint(s), "ddoauth.MemoryStore{connections:%d keys:%d used:%d}", &conns, &keys, &used)
	require.NoError(t, err)
	return used
}

// TestMemoryStoreUsedStatesBounded is issue 9 item 9: the used-state set
// was bounded in time only, so callbacks could grow it without end. It
// keeps MaxUsedStates records at most, dropping the first to expire, and
// drops expired records a few per call.
func TestMemoryStoreUsedStatesBounded(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	use := func(s *ddoauth.MemoryStore, key string, expires time.Time) bool {
		t.Helper()
		first, err := s.Use(ctx, key, expires)
		require.NoError(t, err)
		return first
	}
	t.Run("full: the first to expire makes room", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		s := &ddoauth.MemoryStore{Now: clk.Now, MaxUsedStates: 3}
		now := clk.Now()
		for i, key := range []string{"b", "a", "c"} {
			require.True(t, use(s, key, now.Add(time.Duration([]int{2, 1, 3}[i])*time.Minute)))
		}
		assert.True(t, use(s, "d", now.Add(10*time.Minute)), "a new key")
		assert.Equal(t, 3, usedCount(t, s))
		assert.False(t, use(s, "b", now.Add(10*time.Minute)), "b is kept")
		assert.False(t, use(s, "c", now.Add(10*time.Minute)), "c is kept")
		assert.False(t, use(s, "d", now.Add(10*time.Minute)), "d is kept")
		assert.True(t, use(s, "a", now.Add(10*time.Minute)), "a, first to expire, was dropped")
		assert.Equal(t, 3, usedCount(t, s))
	})
	t.Run("expired records go before live ones", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		s := &ddoauth.MemoryStore{Now: clk.Now, MaxUsedStates: 3}
		now := clk.Now()
		require.True(t, use(s, "live-1", now.Add(time.Hour)))
		require.True(t, use(s, "old", now.Add(time.Minute)))
		require.True(t, use(s, "live-2", now.Add(time.Hour)))
		clk.Advance(2 * time.Minute)
		assert.True(t, use(s, "new", now.Add(time.Hour)))
		assert.False(t, use(s, "live-1", now.Add(time.Hour)))
		assert.False(t, use(s, "live-2", now.Add(time.Hour)))
		assert.Equal(t, 3, usedCount(t, s))
	})
	t.Run("default bound and a flood", func(t *testing.T) {
		t.Parallel()
		s := &ddoauth.MemoryStore{}
		later := time.Now().Add(time.Hour)
		for i := range 100_000 + 500 {
			require.True(t, use(s, fmt.Sprint("flood-", i), later))
		}
		assert.Equal(t, 100_000, usedCount(t, s))
	})
	t.Run("expired records drain a few per call", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		s := &ddoauth.MemoryStore{Now: clk.Now}
		for i := range 1000 {
			require.True(t, use(s, fmt.Sprint("k-", i), clk.Now().Add(time.Minute)))
		}
		clk.Advance(time.Hour)
		require.True(t, use(s, "next", clk.Now().Add(time.Minute)))
		n := usedCount(t, s)
		assert.Less(t, n, 1000, "some expired records dropped")
		assert.Greater(t, n, 990, "not all at once")
		for i := 0; usedCount(t, s) > 1; i++ {
			require.Less(t, i, 1000, "the expired records never drain")
			use(s, "next", clk.Now().Add(time.Minute))
		}
		assert.False(t, use(s, "next", clk.Now().Add(time.Minute)))
	})
	t.Run("a key used again after its record expired", func(t *testing.T) {
		t.Parallel()
		clk := newClock()
		s := &ddoauth.MemoryStore{Now: clk.Now, MaxUsedStates: 2}
		require.True(t, use(s, "a", clk.Now().Add(time.Minute)))
		require.True(t, use(s, "b", clk.Now().Add(3*time.Minute)))
		clk.Advance(2 * time.Minute)
		// "a" may or may not be swept yet; either way it counts as new,
		// and it now expires after "b".
		require.True(t, use(s, "a", clk.Now().Add(time.Hour)))
		require.True(t, use(s, "c", clk.Now().Add(time.Hour)))
		assert.False(t, use(s, "a", clk.Now().Add(time.Hour)), "a is kept: b expired first")
		assert.True(t, use(s, "b", clk.Now().Add(time.Hour)))
	})
}

// BenchmarkMemoryStoreUse1M measures Use with a million used states, and
// the slowest call among them: an upper bound of how long Use holds the
// store's lock, which every other Use, Load and Save waits on. It reports
// the slowest call in wall time and in the thread's CPU time (Linux), the
// latter free of the waits for a CPU on a busy machine. "expired" has all
// million records expired at once, which made the old Use sweep the whole
// map in one call; "full" has them all live, so every call makes room.
func BenchmarkMemoryStoreUse1M(b *testing.B) {
	const n = 1 << 20
	for _, bc := range []struct {
		name    string
		advance time.Duration
	}{{"expired", 2 * time.Hour}, {"full", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			runtime.LockOSThread() // for the thread's CPU clock
			defer runtime.UnlockOSThread()
			clk := newClock()
			s := &ddoauth.MemoryStore{Now: clk.Now, MaxUsedStates: n}
			ctx := context.Background()
			start := clk.Now()
			for i := range n {
				// Spread over an hour, as callbacks come.
				if _, err := s.Use(ctx, fmt.Sprintf("ddoauth:%043d", i), start.Add(time.Hour+time.Duration(i)*time.Millisecond)); err != nil {
					b.Fatal(err)
				}
			}
			clk.Advance(bc.advance)
			keys := make([]string, 1<<16)
			for i := range keys {
				keys[i] = fmt.Sprintf("ddoauth:new-%039d", i)
			}
			var worstWall, worstCPU time.Duration
			i := 0
			for b.Loop() {
				c0, _ := cpuclock.Thread()
				t0 := time.Now()
				s.Use(ctx, keys[i%len(keys)], clk.Now().Add(2*time.Hour)) //nolint:errcheck
				worstWall = max(worstWall, time.Since(t0))
				if c1, ok := cpuclock.Thread(); ok {
					worstCPU = max(worstCPU, c1-c0)
				}
				i++
			}
			b.ReportMetric(float64(worstWall.Microseconds()), "worst-wall-µs")
			if _, ok := cpuclock.Thread(); ok {
				b.ReportMetric(float64(worstCPU.Microseconds()), "worst-cpu-µs")
			}
		})
	}
}
