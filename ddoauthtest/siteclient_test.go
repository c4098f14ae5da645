package ddoauthtest_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// TestClientRegisteredPerSite checks that a client registered at EU1 only
// works there: elsewhere the authorize page, the token and the revocation
// endpoints do not know it.
func TestClientRegisteredPerSite(t *testing.T) {
	t.Parallel()
	srv := ddoauthtest.NewServer()
	t.Cleanup(srv.Close)
	srv.AutoConsent = true
	eu1, us1 := site(t, "EU1"), site(t, "US1")
	c := ddoauthtest.OAuthClient{ID: "eu1-only", Secret: "ddtest_eu1-only-secret", RedirectURIs: []string{redirectURI},
		Scopes: []string{ddoauthtest.ScopeAPIKeysWrite}, Published: true, Sites: []ddoauth.Site{eu1}}
	srv.AddClient(c)

	tok := connect(t, srv, eu1, c)
	assert.NotEmpty(t, tok.str("refresh_token"))

	resp, err := browser(srv).Get(authURL(us1.BrowserHost(), c.ID, redirectURI, rfcChallenge, "st"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "the US1 authorize page does not know the client")

	r := postForm(t, srv.Client(), us1.TokenURL(), refreshForm(c, tok.str("refresh_token")))
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, "invalid_client", r.str("error"))
	r = postForm(t, srv.Client(), us1.RevokeURL(), url.Values{"client_id": {c.ID}, "client_secret": {c.Secret},
		"token": {tok.str("refresh_token")}})
	assert.Equal(t, http.StatusUnauthorized, r.status)
}
