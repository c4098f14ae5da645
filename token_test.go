package ddoauth_test

import (
	"context"
	"errors"
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

// clock is a settable per-test clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *clock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }

// connected authorizes one organization at site on a fresh emulator and
// saves the connection in a MemoryStore under "tenant-1".
func connected(t *testing.T, site ddoauth.Site, mod ...func(*ddoauthtest.Server)) (*ddoauthtest.Server, *ddoauth.Client, *ddoauth.MemoryStore, *clock) {
	t.Helper()
	dd := ddoauthtest.NewServer()
	t.Cleanup(dd.Close)
	clk := newClock()
	dd.Now = clk.Now
	for _, m := range mod {
		m(dd)
	}
	c, store := authorizeAndStore(t, dd, site, dd.Client(), clk.Now)
	return dd, c, store, clk
}

// authorizeAndStore registers a client with dd, runs the authorization at
// site through hc, saves the connection under "tenant-1" and clears dd's
// request log.
func authorizeAndStore(t *testing.T, dd *ddoauthtest.Server, site ddoauth.Site, hc *http.Client, now func() time.Time) (*ddoauth.Client, *ddoauth.MemoryStore) {
	t.Helper()
	oc := dd.NewClient(testRedirect)
	c, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: testRedirect,
		HTTPClient: hc, Now: now})
	require.NoError(t, err)
	authURL, p, err := c.Start(site)
	require.NoError(t, err)
	cb, err := dd.Approve(t.Context(), authURL)
	require.NoError(t, err)
	conn, err := c.Complete(t.Context(), p, cb.Query())
	require.NoError(t, err)
	store := &ddoauth.MemoryStore{}
	require.NoError(t, store.Save(t.Context(), "tenant-1", conn))
	dd.ResetRequests()
	return c, store
}

func TestTokenSourceServesStoredTokenWithoutRefresh(t *testing.T) {
	t.Parallel()
	dd, c, store, _ := connected(t, ddoauth.Sites()[3])
	stored, err := store.Load(t.Context(), "tenant-1")
	require.NoError(t, err)
	ts := c.TokenSource(store, "tenant-1")
	tok, err := ts.TokenContext(t.Context())
	require.NoError(t, err)
	assert.Equal(t, stored.Token.AccessToken, tok.AccessToken)
	assert.Equal(t, 0, dd.Count(ddoauthtest.EndpointToken))
}

func TestTokenSourceRefreshesAndSavesFirst(t *testing.T) {
	t.Parallel()
	for _, site := range ddoauth.Sites() {
		t.Run(site.Name(), func(t *testing.T) {
			t.Parallel()
			dd, c, store, clk := connected(t, site, func(dd *ddoauthtest.Server) { dd.RotateRefreshTokens = true })
			before, err := store.Load(t.Context(), "tenant-1")
			require.NoError(t, err)
			clk.Advance(time.Hour - 30*time.Second) // inside the one-minute margin
			tok, err := c.TokenSource(store, "tenant-1").TokenContext(t.Context())
			require.NoError(t, err)
			assert.NotEqual(t, before.Token.AccessToken, tok.AccessToken)
			after, err := store.Load(t.Context(), "tenant-1")
			require.NoError(t, err)
			assert.Equal(t, tok.AccessToken, after.Token.AccessToken)
			assert.NotEqual(t, before.Token.RefreshToken, after.Token.RefreshToken, "rotated refresh token saved")
			reqs := dd.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, "api."+site.Domain(), reqs[0].Host)
		})
	}
}

func TestTokenSourceOneRefreshForManyCallers(t *testing.T) {
	t.Parallel()
	dd, c, store, clk := connected(t, ddoauth.Sites()[0])
	clk.Advance(2 * time.Hour)
	ts := c.TokenSource(store, "tenant-1")
	var wg sync.WaitGroup
	toks := make([]string, 1000)
	errs := make([]error, 1000)
	for i := range 1000 {
		wg.Go(func() {
			tok, err := ts.TokenContext(context.Background())
			errs[i] = err
			if err == nil {
				toks[i] = tok.AccessToken
			}
		})
	}
	wg.Wait()
	for i := range 1000 {
		require.NoError(t, errs[i])
		assert.Equal(t, toks[0], toks[i])
	}
	assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointToken))
}

func TestTokenSourceCallerGivingUpDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	dd, c, store, clk := connected(t, ddoauth.Sites()[2])
	clk.Advance(2 * time.Hour)
	dd.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Delay: 200 * time.Millisecond, Times: 1})
	ts := c.TokenSource(store, "tenant-1")
	impatient, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := ts.TokenContext(t.Context())
		done <- err
	}()
	_, err := ts.TokenContext(impatient)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, <-done)
	assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointToken))
}

func TestTokenSourceRevokedGrant(t *testing.T) {
	t.Parallel()
	dd, c, store, clk := connected(t, ddoauth.Sites()[4])
	conn, err := store.Load(t.Context(), "tenant-1")
	require.NoError(t, err)
	require.NoError(t, c.Revoke(t.Context(), conn))
	dd.ResetRequests()
	clk.Advance(2 * time.Hour)
	ts := c.TokenSource(store, "tenant-1")
	_, err = ts.TokenContext(t.Context())
	require.ErrorIs(t, err, ddoauth.ErrRevoked)
	marked, err := store.Load(t.Context(), "tenant-1")
	require.NoError(t, err)
	assert.True(t, marked.Revoked)

	_, err = c.TokenSource(store, "tenant-1").TokenContext(t.Context())
	require.ErrorIs(t, err, ddoauth.ErrRevoked)
	assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointToken), "a revoked connection is not retried")
}

// failingStore fails Save while fail is set.
type failingStore struct {
	ddoauth.MemoryStore
	fail atomic.Bool
}

var errDiskFull = errors.New("disk full")

func (s *failingStore) Save(ctx context.Context, id string, c *ddoauth.Connection) error {
	if s.fail.Load() {
		return errDiskFull
	}
	return s.MemoryStore.Save(ctx, id, c)
}

func TestTokenSourceKeepsUnsavedRefresh(t *testing.T) {
	t.Parallel()
	rotate := func(dd *ddoauthtest.Server) { dd.RotateRefreshTokens = true }
	t.Run("store back within the lease", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			store := &failingStore{}
			dd, cs := replicas(t, 1, store, rotate)
			time.Sleep(2 * time.Hour)
			store.fail.Store(true)
			go func() {
				time.Sleep(20 * time.Second)
				store.fail.Store(false)
			}()
			tok, err := cs[0].TokenSource(store, "tenant-1").TokenContext(t.Context())
			require.NoError(t, err, "the save is retried while the lease lasts")
			saved, err := store.Load(t.Context(), "tenant-1")
			require.NoError(t, err)
			assert.Equal(t, tok.AccessToken, saved.Token.AccessToken)
			assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointToken))
		})
	})
	t.Run("store down past the lease", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			store := &failingStore{}
			dd, cs := replicas(t, 1, store, rotate)
			conn, err := store.Load(t.Context(), "tenant-1")
			require.NoError(t, err)
			time.Sleep(2 * time.Hour)
			ts := cs[0].TokenSource(store, "tenant-1")
			store.fail.Store(true)
			_, err = ts.TokenContext(t.Context())
			require.ErrorIs(t, err, errDiskFull, "a token that is not saved is not handed out")

			store.fail.Store(false)
			tok, err := ts.TokenContext(t.Context())
			require.NoError(t, err)
			saved, err := store.Load(t.Context(), "tenant-1")
			require.NoError(t, err)
			assert.Equal(t, tok.AccessToken, saved.Token.AccessToken)
			assert.NotEqual(t, conn.Token.RefreshToken, saved.Token.RefreshToken)
			assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointToken), "the rotated refresh token was kept, not spent again")
		})
	})
}

func TestTokenSourceUnknownConnection(t *testing.T) {
	t.Parallel()
	_, c, store, _ := connected(t, ddoauth.Sites()[0])
	_, err := c.TokenSource(store, "nobody").TokenContext(t.Context())
	assert.ErrorIs(t, err, ddoauth.ErrNotFound)
}

// TestStartWithoutSite runs the flow Datadog advises when the user starts
// on the partner's site: authorize on US1, where the user's organization
// turns out to be in EU1; the callback names the region, in each style.
func TestStartWithoutSite(t *testing.T) {
	t.Parallel()
	eu1 := ddoauth.Sites()[3]
	for _, style := range []ddoauthtest.CallbackStyle{ddoauthtest.CallbackDomain, ddoauthtest.CallbackSite, ddoauthtest.CallbackBoth, ddoauthtest.CallbackNone} {
		t.Run(style.String(), func(t *testing.T) {
			t.Parallel()
			dd := ddoauthtest.NewServer()
			t.Cleanup(dd.Close)
			dd.CallbackStyle = style
			dd.SignIn(dd.DefaultOrg(eu1).ID)
			oc := dd.NewClient(testRedirect)
			c, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: testRedirect, HTTPClient: dd.Client()})
			require.NoError(t, err)
			authURL, p, err := c.Start(ddoauth.Site{})
			require.NoError(t, err)
			require.Contains(t, authURL, "https://app.datadoghq.com/oauth2/v1/authorize?")
			cb, err := dd.Approve(t.Context(), authURL)
			require.NoError(t, err)
			conn, err := c.Complete(t.Context(), p, cb.Query())
			reqs := dd.Requests()
			tokenReq := reqs[len(reqs)-1]
			require.Equal(t, ddoauthtest.EndpointToken, tokenReq.Endpoint)
			assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointToken))
			if style == ddoauthtest.CallbackNone {
				// Nothing names EU1: the code is tried at US1, where it is unknown.
				assert.Equal(t, "api.datadoghq.com", tokenReq.Host)
				assert.ErrorIs(t, err, ddoauth.ErrInvalidGrant)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "api.datadoghq.eu", tokenReq.Host)
			assert.Equal(t, eu1, conn.Site)
		})
	}
}
