package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/internal/pgtest"
	"github.com/ddoauth/ddoauth/pgstore"
	"github.com/ddoauth/ddoauth/storetest"
)

// A restart, a stop and a server that hangs, on a server of the test's
// own: the pool dials again after the restart, and every call fails alike
// while the server is away. The store does not retry.
func TestOutage(t *testing.T) {
	t.Parallel()
	srv := pgtest.NewServer(t)
	// One database for the check's stores, emptied for each: a database
	// per store would take most of the test's time.
	db := srv.NewDatabase(t)
	storetest.TestOutage(t, storetest.OutageConfig{
		Open: func(t *testing.T) storetest.Store {
			pool, err := pgxpool.New(context.Background(), db)
			require.NoError(t, err)
			t.Cleanup(pool.Close)
			s := open(t, pool, pgstore.Config{})
			_, err = pool.Exec(t.Context(), "TRUNCATE ddoauth_connections, ddoauth_api_keys, ddoauth_leases, ddoauth_used_states")
			require.NoError(t, err)
			return s
		},
		Restart: func(t *testing.T) { srv.Restart(t) },
		Stop:    func(t *testing.T) { srv.Stop(t) },
		// pgx does not dial again: a call to a stopped server fails at once.
		FailsFast: true,
		Dial: func(t *testing.T, addr string) storetest.Store {
			pool, err := pgxpool.New(t.Context(), "postgres://postgres@"+addr+"/db?sslmode=disable")
			require.NoError(t, err)
			t.Cleanup(pool.Close)
			s, err := pgstore.New(pool, pgstore.Config{Keys: [][]byte{newKey}})
			require.NoError(t, err)
			return s
		},
	})
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
