package redisstore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/internal/redistest"
	"github.com/ddoauth/ddoauth/redisstore"
	"github.com/ddoauth/ddoauth/storetest"
)

// A restart, a stop and a server that hangs, on a server of the test's
// own: the client dials again after the restart, the data and the counter
// are kept by the append-only file, and every call fails alike while the
// server is away.
func TestOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	storetest.TestOutage(t, storetest.OutageConfig{
		Open:    func(t *testing.T) storetest.Store { return open(t, srv, redisstore.Config{}) },
		Restart: func(t *testing.T) { srv.Restart(t) },
		Stop:    func(t *testing.T) { srv.Stop(t) },
		Dial: func(t *testing.T, addr string) storetest.Store {
			opt := srv.Options()
			opt.Addr = addr
			rdb := redis.NewClient(opt)
			t.Cleanup(func() { rdb.Close() })
			s, err := redisstore.New(rdb, redisstore.Config{Keys: [][]byte{newKey}})
			require.NoError(t, err)
			return s
		},
	})
}

// A Redis killed while a replica holds a lease: the lease is gone when it
// comes back (it expired meanwhile, by the server's clock), a second
// replica takes it over, and both replicas hold a copy read at the same
// version. Only one of their writes lands, whichever goes first.
func TestLeaseLostToKill(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx, prefix := t.Context(), srv.Prefix(t)
	replica := func() *redisstore.Store {
		s, err := redisstore.New(srv.Client(t), redisstore.Config{Prefix: prefix, Keys: [][]byte{newKey}})
		require.NoError(t, err)
		return s
	}
	a, b := replica(), replica()

	cases := []string{"successor first", "paused holder first", "together"}
	type copies struct{ a, b *ddoauth.Connection }
	held := map[string]*copies{}
	for _, id := range cases {
		conn, _ := fixture(t)
		require.NoError(t, a.Save(ctx, id, conn))
		fence, err := a.Lease(ctx, "connection/"+id, "replica-a", 300*time.Millisecond)
		require.NoError(t, err)
		ca, err := a.Load(ctx, id)
		require.NoError(t, err)
		ca.Fence = fence
		held[id] = &copies{a: ca}
	}

	srv.Kill(t)
	srv.Restart(t)

	for _, id := range cases {
		var fence int64
		require.Eventually(t, func() bool {
			var err error
			fence, err = b.Lease(ctx, "connection/"+id, "replica-b", time.Minute)
			return err == nil
		}, 10*time.Second, 20*time.Millisecond, "the lease of replica-a did not expire")
		assert.Greater(t, fence, held[id].a.Fence, "a fence given after the restart must be larger")
		cb, err := b.Load(ctx, id)
		require.NoError(t, err)
		require.Equal(t, held[id].a.Version, cb.Version, "both replicas read the same version")
		cb.Fence = fence
		held[id].b = cb
	}
	rotate := func(c *ddoauth.Connection, who string) {
		c.Token.AccessToken, c.Token.RefreshToken = "access-by-"+who, "refresh-by-"+who
	}
	stored := func(id string) string {
		got, err := a.Load(ctx, id)
		require.NoError(t, err)
		return got.Token.RefreshToken
	}

	t.Run("successor first", func(t *testing.T) {
		c := held["successor first"]
		rotate(c.b, "b")
		rotate(c.a, "a")
		require.NoError(t, b.Save(ctx, "successor first", c.b))
		require.ErrorIs(t, a.Save(ctx, "successor first", c.a), ddoauth.ErrConflict)
		// Read again, the paused holder is at the right version, and its
		// fence still keeps it out.
		fresh, err := a.Load(ctx, "successor first")
		require.NoError(t, err)
		fresh.Fence = c.a.Fence
		rotate(fresh, "a")
		require.ErrorIs(t, a.Save(ctx, "successor first", fresh), ddoauth.ErrConflict)
		assert.Equal(t, "refresh-by-b", stored("successor first"))
	})
	t.Run("paused holder first", func(t *testing.T) {
		c := held["paused holder first"]
		rotate(c.a, "a")
		rotate(c.b, "b")
		// The store cannot tell that the lease expired: no newer fence
		// has written yet. The write lands, and the successor's copy is
		// stale.
		require.NoError(t, a.Save(ctx, "paused holder first", c.a))
		require.ErrorIs(t, b.Save(ctx, "paused holder first", c.b), ddoauth.ErrConflict)
		assert.Equal(t, "refresh-by-a", stored("paused holder first"))
	})
	t.Run("together", func(t *testing.T) {
		c := held["together"]
		rotate(c.a, "a")
		rotate(c.b, "b")
		var errA, errB error
		var wg sync.WaitGroup
		wg.Go(func() { errA = a.Save(ctx, "together", c.a) })
		wg.Go(func() { errB = b.Save(ctx, "together", c.b) })
		wg.Wait()
		require.True(t, (errA == nil) != (errB == nil), "exactly one write lands: a %v, b %v", errA, errB)
		for _, err := range []error{errA, errB} {
			if err != nil {
				require.ErrorIs(t, err, ddoauth.ErrConflict)
			}
		}
		want := "refresh-by-a"
		if errB == nil {
			want = "refresh-by-b"
		}
		assert.Equal(t, want, stored("together"))
	})
}
