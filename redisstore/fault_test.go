package redisstore_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/internal/redistest"
	"github.com/ddoauth/ddoauth/redisstore"
)

// A restart in the middle of use: the client dials again, the data and
// the counter are kept by the append-only file, and no call in between
// gets a wrong answer.
func TestRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s, ctx := open(t, srv, redisstore.Config{}), t.Context()
	conn, key := fixture(t)
	require.NoError(t, s.Save(ctx, "tenant-1", conn))
	require.NoError(t, s.SaveAPIKey(ctx, "tenant-1", key))
	fence, err := s.Lease(ctx, "connection/tenant-1", "replica-a", time.Minute)
	require.NoError(t, err)

	// A reader that runs through the restart: its calls may fail while
	// the server is down, but never with a wrong answer.
	stop := make(chan struct{})
	var reads, failures atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			got, err := s.Load(rctx, "tenant-1")
			cancel()
			reads.Add(1)
			if err != nil {
				failures.Add(1)
				assert.NotErrorIs(t, err, ddoauth.ErrNotFound)
				assert.NotErrorIs(t, err, ddoauth.ErrCorruptConnection)
				continue
			}
			assert.Equal(t, conn.Version, got.Version)
		}
	})
	srv.Restart(t)
	close(stop)
	wg.Wait()
	t.Logf("%d reads during the restart, %d failed", reads.Load(), failures.Load())

	got, err := s.Load(ctx, "tenant-1")
	require.NoError(t, err)
	assert.Equal(t, conn.Version, got.Version)
	assert.Equal(t, conn.Token.RefreshToken, got.Token.RefreshToken)
	gotKey, err := s.LoadAPIKey(ctx, "tenant-1")
	require.NoError(t, err)
	assert.Equal(t, key.Key, gotKey.Key)

	// The lease survived, and the counter goes on from where it was.
	_, err = s.Lease(ctx, "connection/tenant-1", "replica-b", time.Minute)
	require.ErrorIs(t, err, ddoauth.ErrLeaseHeld)
	again, err := s.Lease(ctx, "connection/tenant-1", "replica-a", time.Minute)
	require.NoError(t, err)
	assert.Greater(t, again, fence)
	got.Fence = again
	require.NoError(t, s.Save(ctx, "tenant-1", got))
	assert.Greater(t, got.Version, again)
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

// A store that is down or hangs: every call returns an error by its
// context's deadline, and a call cancelled while it waits for a server
// that is down returns at once, saying so.
func TestStoreDown(t *testing.T) {
	t.Parallel()
	stopped := redistest.Start(t)
	stopped.Stop(t)

	// A server that accepts and never answers, like one that is stuck.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns sync.WaitGroup
	t.Cleanup(conns.Wait)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				defer c.Close()
				buf := make([]byte, 512)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			})
		}
	}()
	t.Cleanup(func() { l.Close() }) // before conns.Wait: stops accepting

	conn, key := fixture(t)
	calls := []struct {
		name string
		call func(context.Context, *redisstore.Store) error
	}{
		{"Load", func(ctx context.Context, s *redisstore.Store) error { _, err := s.Load(ctx, "t"); return err }},
		{"Save", func(ctx context.Context, s *redisstore.Store) error { return s.Save(ctx, "t", conn) }},
		{"Delete", func(ctx context.Context, s *redisstore.Store) error { return s.Delete(ctx, "t", 1) }},
		{"Lease", func(ctx context.Context, s *redisstore.Store) error {
			_, err := s.Lease(ctx, "connection/t", "o", time.Minute)
			return err
		}},
		{"Release", func(ctx context.Context, s *redisstore.Store) error { return s.Release(ctx, "connection/t", "o") }},
		{"LoadAPIKey", func(ctx context.Context, s *redisstore.Store) error { _, err := s.LoadAPIKey(ctx, "t"); return err }},
		{"SaveAPIKey", func(ctx context.Context, s *redisstore.Store) error { return s.SaveAPIKey(ctx, "t", key) }},
		{"Use", func(ctx context.Context, s *redisstore.Store) error {
			_, err := s.Use(ctx, "k", time.Now().Add(time.Minute))
			return err
		}},
	}
	const deadline, slack = 250 * time.Millisecond, time.Second
	for _, server := range []struct{ name, addr string }{
		{"stopped", stopped.Addr()},
		{"hung", l.Addr().String()},
	} {
		for _, c := range calls {
			t.Run(server.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				// A client per call, so that an earlier call's failures do
				// not make the pool fail fast.
				opt := stopped.Options()
				opt.Addr = server.addr
				rdb := redis.NewClient(opt)
				t.Cleanup(func() { rdb.Close() })
				s, err := redisstore.New(rdb, redisstore.Config{Keys: [][]byte{newKey}})
				require.NoError(t, err)

				ctx, cancel := context.WithTimeout(t.Context(), deadline)
				defer cancel()
				start := time.Now()
				err = c.call(ctx, s)
				took := time.Since(start)
				require.Error(t, err)
				assert.Less(t, took, deadline+slack)
				assert.False(t, errors.Is(err, ddoauth.ErrNotFound) || errors.Is(err, ddoauth.ErrConflict), "%v", err)
				if took >= deadline {
					assert.ErrorIs(t, err, context.DeadlineExceeded)
				}
				var e *ddoauth.Error
				assert.ErrorAs(t, err, &e)

				if server.name == "hung" {
					// go-redis bounds a blocked read by the context's
					// deadline, not by its cancellation: a cancelled call
					// to a server that hangs waits for DialTimeout or
					// ReadTimeout.
					return
				}
				ctx, cancel = context.WithCancel(t.Context())
				timer := time.AfterFunc(50*time.Millisecond, cancel)
				defer timer.Stop()
				start = time.Now()
				err = c.call(ctx, s)
				took = time.Since(start)
				require.Error(t, err)
				assert.Less(t, took, slack)
				if took >= 50*time.Millisecond {
					assert.ErrorIs(t, err, context.Canceled)
				}
			})
		}
	}
}
