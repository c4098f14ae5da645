package ddoauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

const memRedirect = "https://partner.example" + callbackPath

// memSession is the session cookie of memPartner's signed-in user.
func memSession() *http.Cookie { return &http.Cookie{Name: sessionCookie, Value: "alice-session"} }

// memPartner serves the handlers without sockets, in front of the
// emulator's in-memory transport, so that it runs in a synctest bubble.
type memPartner struct {
	dd     *ddoauthtest.Server
	client *ddoauth.Client
	h      *ddoauth.Handlers

	mu      sync.Mutex
	errs    []error
	errCtxs []error // each OnError request's ctx.Err() when it was called
}

// newMemPartner makes a memPartner; each edit may change its configuration.
func newMemPartner(t *testing.T, redirect string, onConnect func(*memPartner, *http.Request, *ddoauth.Connection) error,
	edits ...func(*ddoauth.Config, *ddoauth.HandlerConfig)) *memPartner {
	t.Helper()
	p := &memPartner{dd: ddoauthtest.NewUnstartedServer()}
	t.Cleanup(p.dd.Close)
	oc := p.dd.NewClient(redirect)
	cfg := ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: redirect,
		HTTPClient: &http.Client{Transport: p.dd.Transport()}}
	hcfg := ddoauth.HandlerConfig{
		CookieKeys: [][]byte{randomKey()},
		Session:    session,
		OnConnect:  func(r *http.Request, c *ddoauth.Connection) error { return onConnect(p, r, c) },
		OnError: func(r *http.Request, err error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.errs = append(p.errs, err)
			p.errCtxs = append(p.errCtxs, r.Context().Err())
		},
	}
	for _, edit := range edits {
		edit(&cfg, &hcfg)
	}
	var err error
	p.client, err = ddoauth.New(cfg)
	require.NoError(t, err)
	p.h, err = p.client.Handlers(hcfg)
	require.NoError(t, err)
	return p
}

// onboard runs onboarding for query and returns the pending cookie and
// the authorize URL.
func (p *memPartner) onboard(t *testing.T, query string) (*http.Cookie, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "https://partner.example"+onboardingPath+"?"+query, nil)
	req.AddCookie(memSession())
	p.h.Onboarding().ServeHTTP(rec, req)
	require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
	cks := rec.Result().Cookies()
	require.Len(t, cks, 1)
	return cks[0], rec.Header().Get("Location")
}

// connect runs onboarding, the user approving on Datadog, and the
// callback, whose request has ctx.
func (p *memPartner) connect(t *testing.T, ctx context.Context) *httptest.ResponseRecorder {
	t.Helper()
	ck, authURL := p.onboard(t, "domain=datadoghq.eu")
	cb, err := p.dd.Approve(t.Context(), authURL)
	require.NoError(t, err)
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, cb.String(), nil)
	req.AddCookie(ck)
	req.AddCookie(memSession())
	rec := httptest.NewRecorder()
	p.h.Callback().ServeHTTP(rec, req)
	return rec
}

func (p *memPartner) reported() ([]error, []error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.errs...), append([]error(nil), p.errCtxs...)
}

type sessionKey struct{}

// failingKeyStore never saves.
type failingKeyStore struct{ ddoauth.MemoryStore }

var errKeyStoreDown = errors.New("key store down")

func (*failingKeyStore) SaveAPIKey(context.Context, string, *ddoauth.APIKey) error {
	return errKeyStoreDown
}

// TestCallbackOnConnectOutlivesBrowser closes the tab while OnConnect
// runs: the API key is still created and saved, and the connection kept.
func TestCallbackOnConnectOutlivesBrowser(t *testing.T) {
	t.Parallel()
	ctx, closeTab := context.WithCancel(context.WithValue(t.Context(), sessionKey{}, "alice"))
	defer closeTab()
	store := &ddoauth.MemoryStore{}
	p := newMemPartner(t, memRedirect, func(p *memPartner, r *http.Request, conn *ddoauth.Connection) error {
		closeTab()
		assert.Equal(t, "alice", r.Context().Value(sessionKey{}), "the request's values stay")
		if err := store.Save(r.Context(), "c1", conn); err != nil {
			return err
		}
		_, err := p.client.EnsureAPIKey(r.Context(), conn, store, "alice/datadoghq.eu")
		return err
	})

	rec := p.connect(t, ctx)
	assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	errs, _ := p.reported()
	assert.Empty(t, errs)
	key, err := store.LoadAPIKey(t.Context(), "alice/datadoghq.eu")
	require.NoError(t, err)
	held, ok := p.dd.APIKey("eu1-org")
	require.True(t, ok)
	assert.Equal(t, held.Last4, key.Last4)
	assert.Equal(t, 0, p.dd.Count(ddoauthtest.EndpointRevoke))
}

// TestCallbackKeepsGrantWhenAPIKeyNotSaved: Datadog created the key but
// the store kept failing. The grant is not revoked, OnError receives the
// key (on a context the closed tab did not cancel) and the page is a 500
// without the key.
func TestCallbackKeepsGrantWhenAPIKeyNotSaved(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		wrap func(error) error
	}{
		{"as is", func(err error) error { return err }},
		{"wrapped", func(err error) error { return fmt.Errorf("connect alice: %w", err) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				ctx, closeTab := context.WithCancel(t.Context())
				defer closeTab()
				var conn *ddoauth.Connection
				p := newMemPartner(t, memRedirect, func(p *memPartner, r *http.Request, c *ddoauth.Connection) error {
					conn = c
					_, err := p.client.EnsureAPIKey(r.Context(), c, &failingKeyStore{}, "alice/datadoghq.eu")
					closeTab() // the user gives up waiting
					return tc.wrap(err)
				})

				rec := p.connect(t, ctx)
				assert.Equal(t, http.StatusInternalServerError, rec.Code)
				assert.Contains(t, rec.Body.String(), "could not save its API key")
				assert.Equal(t, 0, p.dd.Count(ddoauthtest.EndpointRevoke), "the grant is kept")
				require.NotNil(t, conn)
				_, err := p.client.Refresh(t.Context(), conn)
				assert.NoError(t, err, "the grant is alive")

				errs, ctxErrs := p.reported()
				require.Len(t, errs, 1)
				notSaved, ok := errors.AsType[*ddoauth.APIKeyNotSavedError](errs[0])
				require.True(t, ok, "%v", errs[0])
				assert.ErrorIs(t, errs[0], errKeyStoreDown)
				assert.NoError(t, ctxErrs[0], "OnError can still save the key")
				held, ok := p.dd.APIKey("eu1-org")
				require.True(t, ok)
				require.NotNil(t, notSaved.Key())
				assert.Equal(t, held.Last4, notSaved.Key().Last4)
				assert.NotContains(t, rec.Body.String(), notSaved.Key().Key)
			})
		})
	}
}

// TestCallbackRevokesOnOtherOnConnectErrors: any other error still
// revokes the new grant, on a context the closed tab did not cancel.
func TestCallbackRevokesOnOtherOnConnectErrors(t *testing.T) {
	t.Parallel()
	ctx, closeTab := context.WithCancel(t.Context())
	defer closeTab()
	p := newMemPartner(t, memRedirect, func(_ *memPartner, r *http.Request, _ *ddoauth.Connection) error {
		closeTab()
		return errors.New("database down")
	})
	rec := p.connect(t, ctx)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, 2, p.dd.Count(ddoauthtest.EndpointRevoke), "refresh and access token revoked")
	errs, ctxErrs := p.reported()
	require.Len(t, errs, 1)
	assert.NoError(t, ctxErrs[0])
}

// TestCallbackOnConnectDeadline: OnConnect's context has a deadline,
// OnConnectTimeout or else twice RefreshTimeout. An OnConnect that runs
// out of time fails the callback; the grant is still revoked, and OnError
// still has time to work.
func TestCallbackOnConnectDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                   string
		refresh, timeout, want time.Duration
	}{
		{"default", 0, 0, 2 * time.Minute},
		{"twice RefreshTimeout", 10 * time.Second, 0, 20 * time.Second},
		{"OnConnectTimeout", time.Minute, 5 * time.Second, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var budget, took time.Duration
				var ok bool
				p := newMemPartner(t, memRedirect, func(_ *memPartner, r *http.Request, _ *ddoauth.Connection) error {
					start := time.Now()
					deadline, has := r.Context().Deadline()
					budget, ok = deadline.Sub(start), has
					select {
					case <-r.Context().Done(): // a save that hangs
					case <-time.After(24 * time.Hour):
					}
					took = time.Since(start)
					return fmt.Errorf("save: %w", r.Context().Err())
				}, func(c *ddoauth.Config, h *ddoauth.HandlerConfig) {
					c.RefreshTimeout = tc.refresh
					h.OnConnectTimeout = tc.timeout
				})
				rec := p.connect(t, t.Context())
				require.True(t, ok, "OnConnect's context has a deadline")
				assert.Equal(t, tc.want, budget)
				assert.Equal(t, tc.want, took)
				assert.Equal(t, http.StatusInternalServerError, rec.Code)
				assert.Equal(t, 2, p.dd.Count(ddoauthtest.EndpointRevoke), "revoked after the deadline")
				errs, ctxErrs := p.reported()
				require.Len(t, errs, 1)
				assert.ErrorIs(t, errs[0], context.DeadlineExceeded)
				assert.NoError(t, ctxErrs[0], "OnError gets time of its own")
			})
		})
	}
}

// TestHandlersPendingCookieSize keeps HandlerConfig's word: one pending
// authorization costs the browser one cookie of about 330 bytes, 420 at
// most with the longest organization subdomain and a long redirect URL,
// and lives at most ten minutes; four of them, all a browser keeps, come
// to less than 2 KiB.
func TestHandlersPendingCookieSize(t *testing.T) {
	t.Parallel()
	redirect := "https://datadog-integrations.partner-company.example.com" + callbackPath // 79 characters
	p := newMemPartner(t, redirect, func(*memPartner, *http.Request, *ddoauth.Connection) error { return nil })
	longest := "https://" + strings.Repeat("a", 63) + ".us5.datadoghq.com"
	var header []string // the Cookie header a browser holding them all sends
	for _, q := range []string{"", "domain=datadoghq.eu", "site=" + longest, "site=" + longest} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "https://partner.example"+onboardingPath+"?"+q, nil)
		req.AddCookie(memSession())
		for _, h := range header {
			ck, err := http.ParseCookie(h)
			require.NoError(t, err)
			req.AddCookie(ck[0])
		}
		p.h.Onboarding().ServeHTTP(rec, req)
		require.Equal(t, http.StatusFound, rec.Code, rec.Body.String())
		line := rec.Header().Values("Set-Cookie")
		require.Len(t, line, 1, "one cookie per authorization")
		t.Logf("%d bytes: %s", len(line[0]), q)
		assert.LessOrEqual(t, len(line[0]), 480, line[0])
		assert.Contains(t, line[0], "Max-Age=600")
		assert.Contains(t, line[0], "Path=/;")
		ck := rec.Result().Cookies()[0]
		header = append(header, ck.Name+"="+ck.Value)
	}
	all := strings.Join(header, "; ")
	t.Logf("four pending cookies: %d bytes", len(all))
	assert.Less(t, len(all), 2048)
}
