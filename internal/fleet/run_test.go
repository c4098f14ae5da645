package fleet

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth/ddoauthtest"
	"github.com/ddoauth/ddoauth/internal/pgtest"
	"github.com/ddoauth/ddoauth/internal/redistest"
)

// backend is a store a fleet shares.
type backend struct {
	name string
	// open returns the fleet's store, isolated from other tests', on a
	// server they may share.
	open func(t *testing.T) *sharedStore
	// own returns it on a server of t's own, with the server's stop and
	// start, for fault tests.
	own func(t *testing.T) (ss *sharedStore, stop, start func(testing.TB))
}

func backends() []backend {
	return []backend{
		{
			name: "postgres",
			open: func(t *testing.T) *sharedStore { return postgresFleet(t, pgtest.Start(t)) },
			own: func(t *testing.T) (*sharedStore, func(testing.TB), func(testing.TB)) {
				srv := pgtest.NewServer(t)
				return postgresFleet(t, srv), srv.Stop, srv.Start
			},
		},
		{
			name: "redis",
			open: func(t *testing.T) *sharedStore { return redisFleet(t, redistest.Start(t)) },
			own: func(t *testing.T) (*sharedStore, func(testing.TB), func(testing.TB)) {
				srv := redistest.Start(t)
				return redisFleet(t, srv), srv.Stop, srv.Restart
			},
		},
	}
}

// modes are the emulator's behaviours on a rotated refresh token sent
// again: refused (strict rotation), or refused and the grant revoked.
var modes = []struct {
	suffix string
	reuse  bool
}{{"", false}, {"/reuse-detection", true}}

// TestFleet is the proof `make fleet` prints: for each backend and mode,
// one token request per expiry, no caller error, a live refresh token.
func TestFleet(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		for _, m := range modes {
			name := b.name + m.suffix
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				sc := fleetScenario(name, m.reuse)
				o := runFleet(t, sc, b.open(t))
				fmt.Println(o.line("fleet", name))
				requireHealthy(t, sc, o)
			})
		}
	}
}

// A lease holder killed after Datadog answered its refresh and before its
// write: the others proceed once its lease expires, and the connection
// ends revoked, in the store and for every caller (see the package doc).
func TestFleetLeaseHolderKilled(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		for _, m := range modes {
			name := b.name + m.suffix + "/holder-killed"
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				sc := fleetScenario(name, m.reuse)
				// The killer's clock runs ahead, so it refreshes first.
				sc.roles = []string{roleKiller, roleWorker, roleWorker, roleWorker}
				sc.offsets = []time.Duration{sc.margin}
				o := runFleet(t, sc, b.open(t))
				survivors := int64(0)
				for _, s := range o.sums[1:] {
					if s != nil {
						survivors += s.Revoked
					}
				}
				fmt.Printf("fault %s: %d token POSTs (%d refused), stored connection revoked: %s, "+
					"survivors' callers ended with ErrRevoked: %d/%d, longest wait %v\n",
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
				assert.Equal(t, 1, o.refused, "one survivor spends the dead refresh token, once")
				// The holder's refresh, after any a survivor made first when
				// the holder was slow to start.
				assert.Positive(t, o.posts-o.refused)
				// No caller waits longer than a refresh may take: the dead
				// holder's lease, then one refresh.
				assert.Less(t, o.maxWait, sc.timeout+sc.timeout/4+sc.timeout+2*time.Second)
			})
		}
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// faultScenario is a run with room for an outage of the store: 6 s tokens
// refreshed 3 s ahead, so that an outage of a second or two falls inside
// the margin and every caller keeps a valid token through it.
func faultScenario(name string) scenario {
	return scenario{
		name: name, expiries: 5,
		ttl: 6 * time.Second, margin: 3 * time.Second, timeout: 4 * time.Second,
		roles: []string{roleWorker, roleWorker, roleWorker, roleWorker},
		delay: tokenDelay,
	}
}

// outage stops the store just before the fleet's third refresh is due,
// for down, then starts it again: the refresh meets the outage.
func outage(ss *sharedStore, stop, start func(testing.TB), margin, down time.Duration) func(*testing.T, *ddoauthtest.Server, []*child) {
	return func(t *testing.T, dd *ddoauthtest.Server, _ []*child) {
		var due time.Time
		require.Eventually(t, func() bool {
			if refreshPosts(dd) != 2 {
				return false
			}
			conn, err := ss.store.Load(t.Context(), connID)
			if err != nil || conn.Version == 0 {
				return false
			}
			due = conn.Token.Expiry.Add(-margin)
			return refreshPosts(dd) == 2
		}, time.Minute, 20*time.Millisecond, "the fleet did not reach its second refresh")
		time.Sleep(time.Until(due.Add(-down / 2))) // the fault's schedule, not a wait for a condition
		t0 := time.Now()
		stop(t)
		time.Sleep(down - time.Since(t0))
		start(t)
		t.Logf("store down for %v around the third refresh", time.Since(t0).Round(time.Millisecond))
	}
}

// The store restarted while a refresh is due: the clients reconnect, the
// refresh lands after the outage, and every caller keeps a valid token.
func TestFleetStoreRestarted(t *testing.T) {
	t.Parallel()
	for _, b := range backends() {
		name := b.name + "/restarted"
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ss, stop, start := b.own(t)
			sc := faultScenario(name)
			sc.during = outage(ss, stop, start, sc.margin, time.Second)
			o := runFleet(t, sc, ss)
			fmt.Println(o.line("fault", name))
			requireHealthy(t, sc, o)
			assert.Positive(t, o.store, "the fleet met the outage")
		})
	}
}

// Replicas whose clocks run 2 s ahead and 2 s behind still make one token
// request per expiry: leases are timed by the store's clock, and the
// replica whose clock runs ahead refreshes first. Expiries are stamped by
// the refreshing replica's clock, though: with a margin larger than the
// 4 s between the clocks no replica serves a token Datadog considers
// expired; with a smaller one the replica behind does (see the package
// doc).
func TestFleetClocksDiffer(t *testing.T) {
	t.Parallel()
	type clockCase struct {
		backend  backend
		suffix   string
		expiries int
		ttl      time.Duration
		margin   time.Duration
		deadOK   bool // the margin is below the clocks' difference
	}
	var cases []clockCase
	for _, b := range backends() {
		cases = append(cases, clockCase{b, "/clocks-differ", 3, 10 * time.Second, 5 * time.Second, false})
	}
	cases = append(cases, clockCase{backends()[1], "/clocks-differ-beyond-margin", 6, 2 * time.Second, time.Second, true})
	for _, c := range cases {
		name := c.backend.name + c.suffix
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc := scenario{
				name: name, expiries: c.expiries,
				ttl: c.ttl, margin: c.margin, timeout: 4 * time.Second,
				roles:   []string{roleWorker, roleWorker, roleWorker, roleWorker},
				offsets: []time.Duration{2 * time.Second, -2 * time.Second},
				delay:   tokenDelay,
			}
			o := runFleet(t, sc, c.backend.open(t))
			fmt.Println(o.line("fault", name))
			if !c.deadOK {
				requireHealthy(t, sc, o)
				return
			}
			assert.Equal(t, o.expiries, o.posts, "token POSTs per expiry")
			assert.Equal(t, int64(0), o.errors, "caller errors")
			assert.True(t, o.live, "stored refresh token live")
			assert.Positive(t, o.dead, "a margin below the clocks' difference serves expired tokens")
			t.Logf("served tokens Datadog refused as expired: %d", o.dead)
		})
	}
}

// The control: the same fleet with each replica sharing refreshes only
// within its process, as before the lease, fails the checks the other
// tests pass, so they can fail.
func TestFleetWithoutLeaseFails(t *testing.T) {
	t.Parallel()
	for _, m := range modes {
		name := "redis" + m.suffix + "/no-lease"
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc := fleetScenario(name, m.reuse)
			sc.expiries, sc.noLease = 3, true
			o := runFleet(t, sc, redisFleet(t, redistest.Start(t)))
			fmt.Println(o.line("control", name))
			assert.False(t, o.posts == o.expiries && o.errors == 0 && o.live,
				"without a lease the fleet spends refresh tokens twice")
		})
	}
}

// The store goes down after Datadog answered a refresh and before its
// result was written, for less than the lease: with rotation the replica
// that refreshed holds the only live refresh token. It writes it once the
// store is back, and no other replica spends the old one meanwhile. Only
// its own callers, once their old token expired, may fail while it waits.
// (An outage longer than the lease loses the grant as a kill does: see
// the package doc.)
func TestFleetStoreDownAfterPost(t *testing.T) {
	t.Parallel()
	const down = 2 * time.Second
	for _, b := range backends() {
		name := b.name + "/down-after-post"
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ss, stop, start := b.own(t)
			sc := faultScenario(name)
			sc.reuse = true
			sc.timeout = 4 * time.Second // the lease lasts 5 s, longer than the outage
			// The staller's clock runs ahead, so it refreshes first.
			sc.roles = []string{roleStaller, roleWorker, roleWorker, roleWorker}
			sc.offsets = []time.Duration{500 * time.Millisecond}
			sc.during = func(t *testing.T, _ *ddoauthtest.Server, procs []*child) {
				select {
				case <-procs[0].posted:
				case <-time.After(30 * time.Second):
					t.Error("the staller made no refresh")
					return
				}
				t0 := time.Now()
				stop(t)
				procs[0].resume(t)
				time.Sleep(down - time.Since(t0)) // the fault's schedule
				start(t)
				t.Logf("store down for %v after the staller's POST", time.Since(t0).Round(time.Millisecond))
			}
			o := runFleet(t, sc, ss)
			fmt.Println(o.line("fault", name))
			for i, st := range o.states {
				require.Truef(t, st.Success(), "process %d: %v", i, st)
				require.NotNilf(t, o.sums[i], "process %d left no summary", i)
				assert.Truef(t, o.sums[i].Reached, "process %d saw %d tokens", i, len(o.sums[i].Tokens))
				if i > 0 {
					assert.Equalf(t, int64(0), o.sums[i].Errors, "process %d: caller errors %q", i, o.sums[i].Samples)
				}
			}
			assert.GreaterOrEqual(t, o.expiries, sc.expiries)
			assert.Equal(t, o.expiries, o.posts, "token POSTs per expiry")
			assert.Equal(t, int64(0), o.dead, "served tokens Datadog refused")
			assert.True(t, o.live, "stored refresh token live")
		})
	}
}
