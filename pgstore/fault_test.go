package pgstore_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/internal/pgtest"
	"github.com/ddoauth/ddoauth/pgstore"
)

// A restart in the middle of use: the pool dials again, and no call in
// between gets a wrong answer. The store does not retry; the test does,
// for a bounded time.
func TestRestart(t *testing.T) {
	t.Parallel()
	srv := pgtest.NewServer(t)
	pool := newPool(t, srv)
	s, ctx := open(t, pool, pgstore.Config{}), t.Context()
	conn, key := fixture(t)
	require.NoError(t, s.Save(ctx, "tenant-1", conn))
	require.NoError(t, s.SaveAPIKey(ctx, "tenant-1", key))
	fence, err := s.Lease(ctx, "connection/tenant-1", "replica-a", time.Minute)
	require.NoError(t, err)

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
				var de *ddoauth.Error
				assert.ErrorAs(t, err, &de)
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

	var got *ddoauth.Connection
	require.Eventually(t, func() bool {
		got, err = s.Load(ctx, "tenant-1")
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the pool reconnects")
	assert.Equal(t, conn.Version, got.Version)
	assert.Equal(t, conn.Token.RefreshToken, got.Token.RefreshToken)
	gotKey, err := s.LoadAPIKey(ctx, "tenant-1")
	require.NoError(t, err)
	assert.Equal(t, key.Key, gotKey.Key)

	// The lease survived, and the sequence goes on from where it was.
	_, err = s.Lease(ctx, "connection/tenant-1", "replica-b", time.Minute)
	require.ErrorIs(t, err, ddoauth.ErrLeaseHeld)
	again, err := s.Lease(ctx, "connection/tenant-1", "replica-a", time.Minute)
	require.NoError(t, err)
	assert.Greater(t, again, fence)
	got.Fence = again
	require.NoError(t, s.Save(ctx, "tenant-1", got))
	assert.Greater(t, got.Version, again)
}

// calls are the store's calls, for checks that every one fails alike.
func calls(s *pgstore.Store) map[string]func(context.Context) error {
	return map[string]func(context.Context) error{
		"Load": func(ctx context.Context) error { _, err := s.Load(ctx, "tenant-1"); return err },
		"Save": func(ctx context.Context) error {
			return s.Save(ctx, "tenant-1", &ddoauth.Connection{Version: 1})
		},
		"Delete":     func(ctx context.Context) error { return s.Delete(ctx, "tenant-1", 1) },
		"Lease":      func(ctx context.Context) error { _, err := s.Lease(ctx, "l", "o", time.Minute); return err },
		"Release":    func(ctx context.Context) error { return s.Release(ctx, "l", "o") },
		"LoadAPIKey": func(ctx context.Context) error { _, err := s.LoadAPIKey(ctx, "tenant-1"); return err },
		"SaveAPIKey": func(ctx context.Context) error { return s.SaveAPIKey(ctx, "tenant-2", &ddoauth.APIKey{Key: "k"}) },
		"Use": func(ctx context.Context) error {
			_, err := s.Use(ctx, "state", time.Now().Add(time.Minute))
			return err
		},
	}
}

// A stopped server: each call fails at once with a *ddoauth.Error, well
// within its deadline, and says nothing of the contract's sentinels.
func TestServerDown(t *testing.T) {
	t.Parallel()
	srv := pgtest.NewServer(t)
	pool := newPool(t, srv)
	s, ctx := open(t, pool, pgstore.Config{}), t.Context()
	conn, _ := fixture(t)
	require.NoError(t, s.Save(ctx, "tenant-1", conn))
	srv.Stop(t)

	for name, call := range calls(s) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			start := time.Now()
			err := call(cctx)
			require.Error(t, err)
			assert.Less(t, time.Since(start), 4*time.Second)
			var de *ddoauth.Error
			assert.ErrorAs(t, err, &de)
			for _, sentinel := range []error{ddoauth.ErrNotFound, ddoauth.ErrConflict, ddoauth.ErrLeaseHeld, ddoauth.ErrCorruptConnection} {
				assert.NotErrorIs(t, err, sentinel)
			}
		})
	}
}

// A server that accepts connections and never answers: each call returns
// at its deadline with an error wrapping context.DeadlineExceeded.
func TestServerHangs(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	var accepted sync.WaitGroup
	t.Cleanup(accepted.Wait)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// Hold the connection open and silent until the listener closes.
			accepted.Go(func() {
				buf := make([]byte, 512)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			})
			t.Cleanup(func() { c.Close() })
		}
	}()
	pool, err := pgxpool.New(t.Context(), "postgres://postgres@"+l.Addr().String()+"/db?sslmode=disable")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	s, err := pgstore.New(pool, pgstore.Config{Keys: [][]byte{newKey}})
	require.NoError(t, err)

	for name, call := range calls(s) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := call(cctx)
			assert.Less(t, time.Since(start), 3*time.Second)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			var de *ddoauth.Error
			assert.ErrorAs(t, err, &de)
		})
	}
}

// A call waiting on a row lock returns as soon as its context is
// cancelled, with an error wrapping context.Canceled. Whether the write
// lands is not known (pgx's default cuts the connection and sends no
// cancel request, so the server goes on with the statement): either way
// the record is whole, as after any failure in flight.
func TestCancelWhileBlocked(t *testing.T) {
	t.Parallel()
	pool := newPool(t, pgtest.Start(t))
	s, ctx := open(t, pool, pgstore.Config{}), t.Context()
	conn, _ := fixture(t)
	require.NoError(t, s.Save(ctx, "tenant-1", conn))

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, "SELECT 1 FROM ddoauth_connections WHERE id = 'tenant-1' FOR UPDATE")
	require.NoError(t, err)

	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	update := *conn
	update.Token = &oauth2.Token{AccessToken: "pgstore-secret-access-token-2", RefreshToken: "pgstore-secret-refresh-token-2"}
	go func() { errc <- s.Save(cctx, "tenant-1", &update) }()
	// Wait until the Save is blocked on the lock, as the server sees it.
	require.Eventually(t, func() bool {
		var n int
		err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()").Scan(&n)
		return err == nil && n == 1
	}, 10*time.Second, 10*time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, context.Canceled)
		var de *ddoauth.Error
		assert.ErrorAs(t, err, &de)
	case <-time.After(5 * time.Second):
		t.Fatal("Save did not return after its context was cancelled")
	}
	require.NoError(t, tx.Rollback(ctx))

	got, err := s.Load(ctx, "tenant-1")
	require.NoError(t, err)
	if got.Version == conn.Version {
		assert.Equal(t, conn.Token.AccessToken, got.Token.AccessToken)
	} else {
		assert.Greater(t, got.Version, conn.Version)
		assert.Equal(t, update.Token.AccessToken, got.Token.AccessToken)
	}
}
