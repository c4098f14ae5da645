package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// TestLiveCallbackIgnoresStrayRequests: requests to the loopback callback
// without the authorization's state leave its one try to the real
// callback, which completes; a second real callback is refused.
func TestLiveCallbackIgnoresStrayRequests(t *testing.T) {
	t.Parallel()
	const redirect = "http://127.0.0.1:8765/callback"
	dd := ddoauthtest.NewUnstartedServer()
	t.Cleanup(dd.Close)
	oc := dd.NewClient(redirect)
	client, err := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: redirect,
		HTTPClient: &http.Client{Transport: dd.Transport()}})
	require.NoError(t, err)
	site, err := client.ResolveSite("datadoghq.eu")
	require.NoError(t, err)
	authURL, pending, err := client.Start(site)
	require.NoError(t, err)
	cb, err := dd.Approve(t.Context(), authURL)
	require.NoError(t, err)

	done := make(chan result, 1)
	h := callback(client, pending, done)
	get := func(target string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, target, nil))
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
		return rec.Code
	}
	for _, q := range []string{"?state=guess&code=c", "?state=&code=c", "?state=guess&error=access_denied"} {
		assert.Equal(t, http.StatusBadRequest, get("/callback"+q), q)
	}
	assert.Equal(t, http.StatusNotFound, get("/favicon.ico"))
	assert.Zero(t, len(done), "stray requests do not end the run")

	assert.Equal(t, http.StatusOK, get(cb.RequestURI()))
	res := <-done
	require.NoError(t, res.err)
	assert.Equal(t, "EU1", res.conn.Site.Name())
	assert.Equal(t, http.StatusBadRequest, get(cb.RequestURI()), "completed once")
}
