package ddoauth_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// replicas authorizes one organization on an in-memory emulator (inside a
// synctest bubble) and returns n Clients with the same credentials, as n
// replicas of one partner backend would have, sharing store.
func replicas(t *testing.T, n int, store ddoauth.Store, mod func(*ddoauthtest.Server)) (*ddoauthtest.Server, []*ddoauth.Client) {
	t.Helper()
	dd := ddoauthtest.NewUnstartedServer()
	if mod != nil {
		mod(dd)
	}
	oc := dd.NewClient(testRedirect)
	var cs []*ddoauth.Client
	for range n {
		c, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: testRedirect,
			HTTPClient: &http.Client{Transport: dd.Transport()}})
		require.NoError(t, err)
		cs = append(cs, c)
	}
	authURL, p, err := cs[0].Start(ddoauth.Sites()[3])
	require.NoError(t, err)
	cb, err := dd.Approve(t.Context(), authURL)
	require.NoError(t, err)
	conn, err := cs[0].Complete(t.Context(), p, cb.Query())
	require.NoError(t, err)
	require.NoError(t, store.Save(t.Context(), "tenant-1", conn))
	dd.ResetRequests()
	return dd, cs
}

// slowStore delays every access by up to max, as a networked database
// would, so that replicas interleave.
type slowStore struct {
	*ddoauth.MemoryStore
	max time.Duration
}

func (s slowStore) pause() { time.Sleep(rand.N(s.max + 1)) }
func (s slowStore) Load(ctx context.Context, id string) (*ddoauth.Connection, error) {
	s.pause()
	return s.MemoryStore.Load(ctx, id)
}
func (s slowStore) Save(ctx context.Context, id string, c *ddoauth.Connection) error {
	s.pause()
	return s.MemoryStore.Save(ctx, id, c)
}
func (s slowStore) Lease(ctx context.Context, name, owner string, ttl time.Duration) (int64, error) {
	s.pause()
	return s.MemoryStore.Lease(ctx, name, owner, ttl)
}

// TestTokenSourceFleetOneRefreshPerExpiry runs 4 replicas of 8 callers
// each across 20 expiries with rotating refresh tokens, in both of the
// emulator's rotation modes: one token request per expiry, no caller
// error, and the stored refresh token still works at the end.
func TestTokenSourceFleetOneRefreshPerExpiry(t *testing.T) {
	t.Parallel()
	for _, mode := range []struct {
		name string
		mod  func(*ddoauthtest.Server)
	}{
		{"strict rotation", func(dd *ddoauthtest.Server) { dd.RotateRefreshTokens = true }},
		{"no rotation", nil},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				store := slowStore{MemoryStore: &ddoauth.MemoryStore{}, max: 4 * time.Millisecond}
				dd, cs := replicas(t, 4, store, mode.mod)
				const expiries = 20
				end := time.Now().Add(expiries*time.Hour - time.Minute)
				var errs atomic.Int64
				var wg sync.WaitGroup
				for _, c := range cs {
					ts := c.TokenSource(store, "tenant-1")
					for range 8 {
						wg.Go(func() {
							for time.Now().Before(end) {
								if _, err := ts.TokenContext(t.Context()); err != nil {
									errs.Add(1)
								}
								time.Sleep(rand.N(20 * time.Second))
							}
						})
					}
				}
				wg.Wait()
				assert.Equal(t, expiries, dd.Count(ddoauthtest.EndpointToken), "token requests")
				assert.Zero(t, errs.Load(), "caller errors")
				saved, err := store.Load(t.Context(), "tenant-1")
				require.NoError(t, err)
				assert.False(t, saved.Revoked)
				_, err = cs[0].Refresh(t.Context(), saved)
				assert.NoError(t, err, "the stored refresh token is live")
			})
		})
	}
}

// TestTokenSourceEarlyRefreshDoesNotBlock: while a slow refresh runs ahead
// of expiry, callers holding a valid token get it at once.
func TestTokenSourceEarlyRefreshDoesNotBlock(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dd, c, store := inMemory(t, ddoauth.Sites()[0])
		ts := c.TokenSource(store, "tenant-1")
		held, err := ts.TokenContext(t.Context())
		require.NoError(t, err)
		time.Sleep(time.Hour - 30*time.Second) // inside the refresh margin
		dd.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Delay: 1500 * time.Millisecond})
		start := time.Now()
		var wg sync.WaitGroup
		for range 200 {
			wg.Go(func() {
				tok, err := ts.TokenContext(t.Context())
				assert.NoError(t, err)
				assert.Equal(t, held.AccessToken, tok.AccessToken)
				assert.Zero(t, time.Since(start), "no caller waits for the network")
			})
		}
		wg.Wait()
		synctest.Wait()
		time.Sleep(2 * time.Second)
		tok, err := ts.TokenContext(t.Context())
		require.NoError(t, err)
		assert.NotEqual(t, held.AccessToken, tok.AccessToken, "the early refresh landed")
		assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointToken))
	})
}

// TestTokenSourceEarlyRefreshBacksOff: a failed early refresh is not
// retried on every call; callers keep the valid token meanwhile.
func TestTokenSourceEarlyRefreshBacksOff(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dd, c, store := inMemory(t, ddoauth.Sites()[1])
		ts := c.TokenSource(store, "tenant-1")
		held, err := ts.TokenContext(t.Context())
		require.NoError(t, err)
		time.Sleep(time.Hour - 59*time.Second)
		dd.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Times: -1, Status: 400, Body: `{"error":"invalid_request"}`})
		calls := 0
		for range 500 { // one call every 100 ms for 50 s
			tok, err := ts.TokenContext(t.Context())
			require.NoError(t, err)
			require.Equal(t, held.AccessToken, tok.AccessToken)
			calls++
			time.Sleep(100 * time.Millisecond)
		}
		n := dd.Count(ddoauthtest.EndpointToken)
		assert.GreaterOrEqual(t, n, 2, "the refresh is tried again")
		assert.LessOrEqual(t, n, 6, "after %d calls: jittered backoff, not a try per call", calls)
	})
}

// TestTokenSourceWaitsForLeaseHolder: a replica that crashed holding the
// lease delays the others until its lease expires, by the store's clock;
// a holder that saves a new version is served without a token request.
func TestTokenSourceWaitsForLeaseHolder(t *testing.T) {
	t.Parallel()
	t.Run("crashed holder", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			dd, c, store := inMemory(t, ddoauth.Sites()[2])
			time.Sleep(2 * time.Hour)
			_, err := store.Lease(t.Context(), "connection/tenant-1", "crashed replica", 75*time.Second)
			require.NoError(t, err)
			start := time.Now()
			_, err = c.TokenSource(store, "tenant-1").TokenContext(t.Context())
			require.NoError(t, err)
			assert.GreaterOrEqual(t, time.Since(start), 75*time.Second)
			assert.Less(t, time.Since(start), 76*time.Second, "taken over promptly once expired")
			assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointToken))
		})
	})
	t.Run("holder never finishes", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			dd, c, store := inMemory(t, ddoauth.Sites()[2])
			time.Sleep(2 * time.Hour)
			_, err := store.Lease(t.Context(), "connection/tenant-1", "stuck replica", time.Hour)
			require.NoError(t, err)
			start := time.Now()
			_, err = c.TokenSource(store, "tenant-1").TokenContext(t.Context())
			require.ErrorIs(t, err, ddoauth.ErrLeaseHeld)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, 135*time.Second, time.Since(start), "bounded by the lease's life plus RefreshTimeout")
			assert.Equal(t, 0, dd.Count(ddoauthtest.EndpointToken))
		})
	})
	t.Run("holder saves", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			dd, c, store := inMemory(t, ddoauth.Sites()[2])
			time.Sleep(2 * time.Hour)
			fence, err := store.Lease(t.Context(), "connection/tenant-1", "other replica", 75*time.Second)
			require.NoError(t, err)
			go func() {
				time.Sleep(3 * time.Second)
				conn, err := store.Load(t.Context(), "tenant-1")
				assert.NoError(t, err)
				next, err := c.Refresh(t.Context(), conn)
				assert.NoError(t, err)
				next.Version, next.Fence = conn.Version, fence
				assert.NoError(t, store.Save(t.Context(), "tenant-1", next))
			}()
			start := time.Now()
			tok, err := c.TokenSource(store, "tenant-1").TokenContext(t.Context())
			require.NoError(t, err)
			assert.Less(t, time.Since(start), 5*time.Second)
			saved, err := store.Load(t.Context(), "tenant-1")
			require.NoError(t, err)
			assert.Equal(t, saved.Token.AccessToken, tok.AccessToken)
			assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointToken), "the holder's refresh only")
		})
	})
}

// TestTokenSourceNewerVersionWins: the customer re-authorizes while a
// refresh is in flight whose refresh token Datadog then refuses. The
// newer connection is served and kept; nothing is marked revoked.
func TestTokenSourceNewerVersionWins(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dd, c, store := inMemory(t, ddoauth.Sites()[4])
		time.Sleep(2 * time.Hour)
		dd.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Delay: time.Second, Status: 400,
			Body: `{"error":"invalid_grant","error_description":"refresh token revoked"}`})
		go func() {
			time.Sleep(500 * time.Millisecond)
			old, err := store.Load(t.Context(), "tenant-1")
			assert.NoError(t, err)
			fresh := reauthorize(t, dd, c)
			fresh.Version = old.Version // the partner replaces the connection
			assert.NoError(t, store.Save(t.Context(), "tenant-1", fresh))
		}()
		tok, err := c.TokenSource(store, "tenant-1").TokenContext(t.Context())
		require.NoError(t, err)
		saved, err := store.Load(t.Context(), "tenant-1")
		require.NoError(t, err)
		assert.False(t, saved.Revoked)
		assert.Equal(t, saved.Token.AccessToken, tok.AccessToken)
	})
}

func reauthorize(t *testing.T, dd *ddoauthtest.Server, c *ddoauth.Client) *ddoauth.Connection {
	authURL, p, err := c.Start(ddoauth.Sites()[4])
	require.NoError(t, err)
	cb, err := dd.Approve(t.Context(), authURL)
	require.NoError(t, err)
	conn, err := c.Complete(t.Context(), p, cb.Query())
	require.NoError(t, err)
	return conn
}

// TestTokenSourceUnsavedRefreshNeverOverwrites: a refreshed token kept
// after a failed save is written only over the version it came from; a
// connection the partner saved meanwhile is kept.
func TestTokenSourceUnsavedRefreshNeverOverwrites(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		mem := &ddoauth.MemoryStore{}
		store := &failingStore{}
		dd, cs := replicas(t, 1, mem, func(dd *ddoauthtest.Server) { dd.RotateRefreshTokens = true })
		c := cs[0]
		conn, err := mem.Load(t.Context(), "tenant-1")
		require.NoError(t, err)
		conn.Version = 0
		require.NoError(t, store.Save(t.Context(), "tenant-1", conn))
		time.Sleep(2 * time.Hour)
		ts := c.TokenSource(store, "tenant-1")
		store.fail.Store(true)
		_, err = ts.TokenContext(t.Context())
		require.ErrorIs(t, err, errDiskFull)
		store.fail.Store(false)

		old, err := store.Load(t.Context(), "tenant-1")
		require.NoError(t, err)
		authURL, p, err := c.Start(ddoauth.Sites()[3])
		require.NoError(t, err)
		cb, err := dd.Approve(t.Context(), authURL)
		require.NoError(t, err)
		fresh, err := c.Complete(t.Context(), p, cb.Query())
		require.NoError(t, err)
		fresh.Version = old.Version
		require.NoError(t, store.Save(t.Context(), "tenant-1", fresh))

		tok, err := ts.TokenContext(t.Context())
		require.NoError(t, err)
		saved, err := store.Load(t.Context(), "tenant-1")
		require.NoError(t, err)
		assert.Equal(t, fresh.Token.RefreshToken, saved.Token.RefreshToken, "the re-authorized grant is kept")
		assert.Equal(t, fresh.Token.AccessToken, tok.AccessToken)
	})
}

// downStore fails every access while down is set.
type downStore struct {
	*ddoauth.MemoryStore
	down atomic.Bool
}

var errUnreachable = errors.New("connection refused")

func (s *downStore) Load(ctx context.Context, id string) (*ddoauth.Connection, error) {
	if s.down.Load() {
		return nil, errUnreachable
	}
	return s.MemoryStore.Load(ctx, id)
}
func (s *downStore) Lease(ctx context.Context, name, owner string, ttl time.Duration) (int64, error) {
	if s.down.Load() {
		return 0, errUnreachable
	}
	return s.MemoryStore.Lease(ctx, name, owner, ttl)
}

// TestTokenSourceStoreDown: with the store unreachable during a refresh,
// callers with a valid token keep being served; once it has expired they
// get a typed error naming the store's failure, and no token request is
// sent that could not be saved.
func TestTokenSourceStoreDown(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		mem := &ddoauth.MemoryStore{}
		store := &downStore{MemoryStore: mem}
		dd, cs := replicas(t, 1, store, nil)
		ts := cs[0].TokenSource(store, "tenant-1")
		held, err := ts.TokenContext(t.Context())
		require.NoError(t, err)
		time.Sleep(time.Hour - 50*time.Second)
		store.down.Store(true)
		for range 40 {
			tok, err := ts.TokenContext(t.Context())
			require.NoError(t, err)
			require.Equal(t, held.AccessToken, tok.AccessToken)
			time.Sleep(time.Second)
		}
		time.Sleep(15 * time.Second) // expired
		_, err = ts.TokenContext(t.Context())
		require.ErrorIs(t, err, errUnreachable)
		var e *ddoauth.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, 0, dd.Count(ddoauthtest.EndpointToken))
		store.down.Store(false)
		_, err = ts.TokenContext(t.Context())
		require.NoError(t, err, "recovers with the store")
	})
}

// TestEnsureAPIKeyAcrossReplicas: 8 replicas ensure the key of one new
// organization at once: Datadog is asked once and every caller gets the
// same key.
func TestEnsureAPIKeyAcrossReplicas(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store := slowStore{MemoryStore: &ddoauth.MemoryStore{}, max: 4 * time.Millisecond}
		dd, cs := replicas(t, 8, store, nil)
		dd.Fail(ddoauthtest.EndpointAPIKey, ddoauthtest.Fault{Delay: 300 * time.Millisecond})
		conn, err := store.Load(t.Context(), "tenant-1")
		require.NoError(t, err)
		keys := make([]string, len(cs))
		var wg sync.WaitGroup
		for i, c := range cs {
			wg.Go(func() {
				k, err := c.EnsureAPIKey(t.Context(), conn, store, "tenant-1")
				if assert.NoError(t, err) {
					keys[i] = k.Key
				}
			})
		}
		wg.Wait()
		assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointAPIKey))
		for _, k := range keys {
			assert.Equal(t, keys[0], k)
		}
		assert.NotEmpty(t, keys[0])
	})
}
