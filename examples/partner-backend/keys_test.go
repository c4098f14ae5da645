package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// downKeys is a key store that holds nothing and saves nothing.
type downKeys struct{}

func (downKeys) LoadAPIKey(context.Context, string) (*ddoauth.APIKey, error) {
	return nil, &ddoauth.Error{Op: "load API key", Err: ddoauth.ErrNotFound}
}

func (downKeys) SaveAPIKey(context.Context, string, *ddoauth.APIKey) error {
	return errors.New("key store down")
}

// TestAPIKeyNotSavedIsKept: Datadog created the key but the key store
// kept failing. onConnect keeps the key in the fallback, logs its last
// four characters only, keeps the connection, and the next connection
// of the organization finds the key there instead of asking Datadog.
// In a synctest bubble, so that EnsureAPIKey's backoff does not wait.
func TestAPIKeyNotSavedIsKept(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const redirect = "https://partner.example/oauth/datadog/callback"
		dd := ddoauthtest.NewUnstartedServer()
		defer dd.Close()
		oc := dd.NewClient(redirect)
		client, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: redirect,
			HTTPClient: &http.Client{Transport: dd.Transport()}})
		require.NoError(t, err)
		logs := &syncBuffer{}
		mem := &ddoauth.MemoryStore{}
		b := &backend{client: client, store: mem, sessions: map[string]string{"s1": "alice"}, conns: map[string]*record{}, logs: logs}
		b.keys = &keyStore{primary: downKeys{}, Leaser: mem}
		site, err := ddoauth.ResolveSite("datadoghq.eu")
		require.NoError(t, err)

		for range 2 {
			authURL, pending, err := client.Start(site)
			require.NoError(t, err)
			cb, err := dd.Approve(t.Context(), authURL)
			require.NoError(t, err)
			conn, err := client.Complete(t.Context(), pending, cb.Query())
			require.NoError(t, err)
			req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, cb.String(), nil)
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: "s1"})
			require.NoError(t, b.onConnect(req, conn))
		}

		held, ok := dd.APIKey("eu1-org")
		require.True(t, ok)
		kept, err := b.keys.LoadAPIKey(t.Context(), "alice/datadoghq.eu")
		require.NoError(t, err, "the key is in the fallback")
		assert.Equal(t, held.Last4, kept.Last4)
		require.Len(t, kept.Key, 32)
		list := b.userConnections("alice")
		require.Len(t, list, 2)
		for _, rec := range list {
			assert.Equal(t, "connected", rec.Status)
			assert.Equal(t, held.Last4, rec.Last4)
		}
		assert.Contains(t, list[0].Note, "fallback")
		assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointAPIKey), "the second connection found the kept key")
		assert.Equal(t, 0, dd.Count(ddoauthtest.EndpointRevoke))
		assert.Contains(t, logs.String(), "..."+held.Last4)
		assert.NotContains(t, logs.String(), kept.Key)
	})
}
