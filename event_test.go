package ddoauth_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// events collects what Config.OnEvent receives.
type events struct {
	mu  sync.Mutex
	got []ddoauth.Event
}

func (e *events) on(_ context.Context, ev ddoauth.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

// take returns the events received since the last take.
func (e *events) take() []ddoauth.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	got := e.got
	e.got = nil
	return got
}

// eventful authorizes one organization at EU1 on an in-memory emulator
// (inside a synctest bubble), for a Client whose events go to the
// returned collector, and saves the connection under "tenant-1".
func eventful(t *testing.T, failingAfter int) (*ddoauthtest.Server, *ddoauth.Client, *ddoauth.MemoryStore, *events) {
	t.Helper()
	dd := ddoauthtest.NewUnstartedServer()
	oc := dd.NewClient(testRedirect)
	ev := &events{}
	c, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: testRedirect,
		HTTPClient: &http.Client{Transport: dd.Transport()}, OnEvent: ev.on, FailingAfter: failingAfter})
	require.NoError(t, err)
	authURL, p, err := c.Start(ddoauth.Sites()[3])
	require.NoError(t, err)
	cb, err := dd.Approve(t.Context(), authURL)
	require.NoError(t, err)
	conn, err := c.Complete(t.Context(), p, cb.Query())
	require.NoError(t, err)
	store := &ddoauth.MemoryStore{}
	require.NoError(t, store.Save(t.Context(), "tenant-1", conn))
	return dd, c, store, ev
}

func TestOnEventRevokedOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dd, c, store, ev := eventful(t, 0)
		ts := c.TokenSource(store, "tenant-1")
		dd.RevokeTokens(dd.DefaultOrg(ddoauth.Sites()[3]).ID)
		time.Sleep(2 * time.Hour)
		for range 3 {
			_, err := ts.TokenContext(t.Context())
			require.ErrorIs(t, err, ddoauth.ErrRevoked)
		}
		got := ev.take()
		require.Len(t, got, 1)
		assert.Equal(t, ddoauth.EventRevoked, got[0].Kind)
		assert.Equal(t, "tenant-1", got[0].ID)
		assert.Equal(t, "EU1", got[0].Site.Name())
		assert.ErrorIs(t, got[0].Err, ddoauth.ErrRevoked)
	})
}

func TestOnEventFailingThenRecovered(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name         string
		failingAfter int
		want         int // the failure that sends EventFailing
	}{
		{"default threshold", 0, 3},
		{"threshold 1", 1, 1},
		{"threshold 5", 5, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				dd, c, store, ev := eventful(t, tt.failingAfter)
				ts := c.TokenSource(store, "tenant-1")
				time.Sleep(2 * time.Hour) // expired: every call refreshes
				// Not retried, so each call is one failed refresh.
				dd.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Times: -1, Status: 400, Body: `{"error":"invalid_request"}`})
				first := time.Now()
				for i := 1; i <= tt.want+2; i++ {
					_, err := ts.TokenContext(t.Context())
					require.ErrorIs(t, err, ddoauth.ErrAuthorization)
					got := ev.take()
					if i != tt.want {
						assert.Empty(t, got, "after failure %d", i)
						time.Sleep(time.Minute)
						continue
					}
					require.Len(t, got, 1, "after failure %d", i)
					assert.Equal(t, ddoauth.EventFailing, got[0].Kind)
					assert.Equal(t, "tenant-1", got[0].ID)
					assert.Equal(t, "EU1", got[0].Site.Name())
					assert.Equal(t, tt.want, got[0].Failures)
					assert.Equal(t, first, got[0].Since)
					assert.ErrorIs(t, got[0].Err, ddoauth.ErrAuthorization)
					time.Sleep(time.Minute)
				}
				dd.ClearFaults()
				_, err := ts.TokenContext(t.Context())
				require.NoError(t, err)
				got := ev.take()
				require.Len(t, got, 1)
				assert.Equal(t, ddoauth.EventRecovered, got[0].Kind)
				assert.Equal(t, tt.want+2, got[0].Failures)
				assert.Equal(t, first, got[0].Since)
				assert.NoError(t, got[0].Err)
			})
		})
	}
}

// A refresh that fails fewer times than the threshold, then succeeds,
// sends nothing: recovery follows only a reported failure.
func TestOnEventNoRecoveryWithoutFailing(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dd, c, store, ev := eventful(t, 0)
		ts := c.TokenSource(store, "tenant-1")
		time.Sleep(2 * time.Hour)
		dd.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Times: 2, Status: 400, Body: `{"error":"invalid_request"}`})
		for range 2 {
			_, err := ts.TokenContext(t.Context())
			require.Error(t, err)
		}
		_, err := ts.TokenContext(t.Context())
		require.NoError(t, err)
		assert.Empty(t, ev.take())
	})
}

func TestOnEventAPIKeyCreated(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c, store, ev := eventful(t, 0)
		conn, err := store.Load(t.Context(), "tenant-1")
		require.NoError(t, err)
		keys := &ddoauth.MemoryStore{}
		key, err := c.EnsureAPIKey(t.Context(), conn, keys, "acme/EU1")
		require.NoError(t, err)
		_, err = c.EnsureAPIKey(t.Context(), conn, keys, "acme/EU1") // stored: not created again
		require.NoError(t, err)
		got := ev.take()
		require.Len(t, got, 1)
		assert.Equal(t, ddoauth.Event{Kind: ddoauth.EventAPIKeyCreated, ID: "acme/EU1", Site: ddoauth.Sites()[3], Last4: key.Last4}, got[0])
		assert.NotContains(t, got[0].LogValue().String(), key.Key)
	})
}

func TestConfigFailingAfterNegative(t *testing.T) {
	t.Parallel()
	_, err := ddoauth.New(ddoauth.Config{ClientID: "id", ClientSecret: "secret", RedirectURL: testRedirect, FailingAfter: -1})
	assert.ErrorIs(t, err, ddoauth.ErrInvalidConfig)
}
