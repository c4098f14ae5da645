package ddoauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

const memRedirect = "https://partner.example" + callbackPath

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

func newMemPartner(t *testing.T, redirect string, onConnect func(*memPartner, *http.Request, *ddoauth.Connection) error) *memPartner {
	t.Helper()
	p := &memPartner{dd: ddoauthtest.NewUnstartedServer()}
	t.Cleanup(p.dd.Close)
	oc := p.dd.NewClient(redirect)
	var err error
	p.client, err = ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: redirect,
		HTTPClient: &http.Client{Transport: p.dd.Transport()}})
	require.NoError(t, err)
	p.h, err = p.client.Handlers(ddoauth.HandlerConfig{
		CookieKeys: [][]byte{randomKey()},
		OnConnect:  func(r *http.Request, c *ddoauth.Connection) error { return onConnect(p, r, c) },
		OnError: func(r *http.Request, err error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.errs = append(p.errs, err)
			p.errCtxs = append(p.errCtxs, r.Context().Err())
		},
	})
	require.NoError(t, err)
	return p
}

// onboard runs onboarding for query and returns the pending cookie and
// the authorize URL.
func (p *memPartner) onboard(t *testing.T, query string) (*http.Cookie, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	p.h.Onboarding().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://partner.example"+onboardingPath+"?"+query, nil))
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

// TestHandlersPendingCookieSize keeps HandlerConfig's word: one pending
// authorization costs the browser one cookie of about 560 bytes at most,
// with a long redirect URL and an organization subdomain, and lives at
// most ten minutes.
func TestHandlersPendingCookieSize(t *testing.T) {
	t.Parallel()
	redirect := "https://datadog-integrations.partner-company.example.com" + callbackPath // 79 characters
	p := newMemPartner(t, redirect, func(*memPartner, *http.Request, *ddoauth.Connection) error { return nil })
	for _, q := range []string{"", "domain=datadoghq.eu", "site=" + "https://a-long-organization-name.us5.datadoghq.com"} {
		rec := httptest.NewRecorder()
		p.h.Onboarding().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://partner.example"+onboardingPath+"?"+q, nil))
		require.Equal(t, http.StatusFound, rec.Code)
		line := rec.Header().Values("Set-Cookie")
		require.Len(t, line, 1, "one cookie per authorization")
		assert.LessOrEqual(t, len(line[0]), 560, line[0])
		assert.Contains(t, line[0], "Max-Age=600")
		assert.Contains(t, line[0], "Path="+callbackPath)
	}
}
