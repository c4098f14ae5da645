package fleet

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth/ddoauthtest"
)

func TestFleet(t *testing.T) {
	t.Parallel()
	for _, reuse := range []bool{false, true} {
		name := "redis"
		if reuse {
			name += "/reuse-detection"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc := fleetScenario(name, reuse)
			ss, _ := redisFleet(t)
			o := runFleet(t, sc, ss)
			fmt.Println(o.line(name))
			requireHealthy(t, sc, o)
		})
	}
}

// A lease holder killed after Datadog answered its refresh and before its
// write: the others proceed once its lease expires, and the connection
// ends revoked, in the store and for every caller (see the package doc).
func TestFleetLeaseHolderKilled(t *testing.T) {
	t.Parallel()
	for _, reuse := range []bool{false, true} {
		name := "redis/holder-killed"
		if reuse {
			name = "redis/reuse-detection/holder-killed"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc := fleetScenario(name, reuse)
			// The killer's clock runs ahead, so it refreshes first.
			sc.roles = []string{roleKiller, roleWorker, roleWorker, roleWorker}
			sc.offsets = []time.Duration{sc.margin}
			ss, _ := redisFleet(t)
			o := runFleet(t, sc, ss)
			survivors := int64(0)
			for _, s := range o.sums[1:] {
				if s != nil {
					survivors += s.Revoked
				}
			}
			fmt.Printf("fleet %s: %d token POSTs (%d refused), stored connection revoked: %s, survivors' callers ended with ErrRevoked: %d/%d, longest wait %v\n",
				name, o.posts, o.refused, yesNo(o.stored.Revoked), survivors, 3*16, o.maxWait.Round(10*time.Millisecond))

			ws := o.states[0].Sys().(syscall.WaitStatus)
			require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "the holder was killed: %v", o.states[0])
			assert.Nil(t, o.sums[0], "the holder died before it could report")
			for i, st := range o.states[1:] {
				require.Truef(t, st.Success(), "survivor %d: %v", i+1, st)
				require.NotNil(t, o.sums[i+1])
				s := o.sums[i+1]
				assert.Equalf(t, int64(16), s.Revoked, "survivor %d: every caller ends with ErrRevoked", i+1)
				assert.Equalf(t, s.Revoked, s.Errors, "survivor %d: no error but ErrRevoked: %q", i+1, s.Samples)
			}
			assert.True(t, o.stored.Revoked, "the stored connection is marked revoked")
			assert.False(t, o.live)
			assert.Equal(t, 2, o.posts, "the holder's refresh, then one survivor's after the lease expired")
			assert.Equal(t, 1, o.refused)
			// Nothing waits longer than the dead holder's lease and one refresh.
			assert.Less(t, o.maxWait, sc.timeout+sc.timeout/4+sc.timeout+time.Second)
		})
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// faultScenario is a run with room for an outage of the store: 4 s tokens
// refreshed 2 s ahead, so that an outage of a second falls inside the
// margin and every caller keeps a valid token through it.
func faultScenario(name string) scenario {
	return scenario{
		name: name, expiries: 8,
		ttl: 4 * time.Second, margin: 2 * time.Second, timeout: 2 * time.Second,
		roles: []string{roleWorker, roleWorker, roleWorker, roleWorker},
		delay: tokenDelay,
	}
}

// outage stops the store just before the fleet's third refresh is due,
// for down, then starts it again: the refresh meets the outage.
func outage(ss *sharedStore, stop, start func(testing.TB), down time.Duration) func(*testing.T, *ddoauthtest.Server) {
	return func(t *testing.T, dd *ddoauthtest.Server) {
		afterPosts(t, dd, 2, time.Minute)
		var due time.Time
		require.Eventually(t, func() bool {
			conn, err := ss.store.Load(t.Context(), connID)
			if err != nil || conn.Version == 0 {
				return false
			}
			due = conn.Token.Expiry.Add(-2 * time.Second) // the margin
			return refreshPosts(dd) == 2
		}, 10*time.Second, 20*time.Millisecond)
		time.Sleep(time.Until(due.Add(-down / 2))) // the fault's schedule, not a wait for a condition
		t0 := time.Now()
		stop(t)
		time.Sleep(down - time.Since(t0))
		start(t)
		t.Logf("store down for %v around the third refresh", time.Since(t0).Round(time.Millisecond))
	}
}

func TestFleetStoreRestarted(t *testing.T) {
	t.Parallel()
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		name := "redis/restarted"
		ss, srv := redisFleet(t)
		sc := faultScenario(name)
		sc.during = outage(ss, srv.Stop, srv.Restart, time.Second)
		o := runFleet(t, sc, ss)
		fmt.Println(o.line(name))
		requireHealthy(t, sc, o)
		assert.Positive(t, o.store, "the fleet met the outage")
	})
}

// Replicas whose clocks differ by up to 4 s still make one token request
// per expiry: leases are timed by the store's clock. The replica whose
// clock runs ahead refreshes first; the margin exceeds the difference
// between the clocks, so no replica serves a token Datadog considers
// expired (see the package doc).
func TestFleetClocksDiffer(t *testing.T) {
	t.Parallel()
	name := "redis/clocks-differ"
	ss, _ := redisFleet(t)
	sc := scenario{
		name: name, expiries: 4,
		ttl: 10 * time.Second, margin: 5 * time.Second, timeout: 2 * time.Second,
		roles:   []string{roleWorker, roleWorker, roleWorker, roleWorker},
		offsets: []time.Duration{2 * time.Second, -2 * time.Second},
		delay:   tokenDelay,
	}
	o := runFleet(t, sc, ss)
	fmt.Println(o.line(name))
	requireHealthy(t, sc, o)
}

// The control: the same fleet with each replica sharing refreshes only
// within its process, as before the lease, fails the checks the other
// tests pass, so they can fail.
func TestFleetWithoutLeaseFails(t *testing.T) {
	t.Parallel()
	for _, reuse := range []bool{false, true} {
		name := "redis/no-lease"
		if reuse {
			name = "redis/reuse-detection/no-lease"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc := fleetScenario(name, reuse)
			sc.expiries, sc.noLease = 3, true
			ss, _ := redisFleet(t)
			o := runFleet(t, sc, ss)
			fmt.Println(o.line(name))
			assert.False(t, o.posts == o.expiries && o.errors == 0 && o.live,
				"without a lease the fleet spends refresh tokens twice")
		})
	}
}
