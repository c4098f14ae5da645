package ddoauthtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth/ddoauthtest"
)

func TestRequestLogRedactsSecrets(t *testing.T) {
	t.Parallel()
	us1 := site(t, "US1")
	srv, c := setup(t)
	code := authorize(t, srv, us1.BrowserHost(), c).Get("code")
	tok := postForm(t, srv.Client(), us1.TokenURL(), codeForm(c, code))
	require.Equal(t, http.StatusOK, tok.status)
	access, refresh := tok.str("access_token"), tok.str("refresh_token")
	refreshed := postForm(t, srv.Client(), us1.TokenURL(), refreshForm(c, refresh))
	key := createKey(t, srv, us1, access)
	send(t, srv, us1.APIURL()+"/api/v2/series", key, `{"series":[]}`)

	// Basic auth and an API key in a query, which ddoauth never sends but
	// a careless client might.
	req, err := http.NewRequest(http.MethodPost, us1.TokenURL()+"?api_key="+url.QueryEscape(key),
		strings.NewReader(url.Values{"code": {code}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.ID, c.Secret)
	req.AddCookie(&http.Cookie{Name: "session", Value: access})
	do(t, srv.Client(), req)
	postForm(t, srv.Client(), us1.RevokeURL(), url.Values{"client_id": {c.ID}, "client_secret": {c.Secret}, "token": {refresh}})

	reqs := srv.Requests()
	dump, err := json.Marshal(reqs)
	require.NoError(t, err)
	text := string(dump) + fmt.Sprintf("%+v %#v", reqs, reqs)
	for name, secret := range map[string]string{
		"client secret": c.Secret, "code": code, "verifier": rfcVerifier, "access token": access,
		"refresh token": refresh, "refreshed access token": refreshed.str("access_token"), "API key": key,
	} {
		require.NotEmpty(t, secret)
		assert.NotContains(t, text, secret, name)
	}

	var tokenPosts []ddoauthtest.Request
	for _, r := range reqs {
		if r.Endpoint == ddoauthtest.EndpointToken && r.Form.Get("code") == ddoauthtest.Fingerprint(code) {
			tokenPosts = append(tokenPosts, r)
		}
	}
	require.Len(t, tokenPosts, 2, "a test can tell which token requests used a code")
	assert.Equal(t, "authorization_code", tokenPosts[0].Form.Get("grant_type"))
	assert.Equal(t, c.ID, tokenPosts[0].Form.Get("client_id"), "public values stay readable")
	assert.Equal(t, "Basic "+ddoauthtest.Fingerprint(basic(c.ID, c.Secret)), tokenPosts[1].Header.Get("Authorization"))
	assert.Equal(t, http.StatusUnauthorized, tokenPosts[1].Status)
	assert.Equal(t, 3, srv.Count(ddoauthtest.EndpointToken))
	assert.Equal(t, 1, srv.Count(ddoauthtest.EndpointAuthorize))

	for _, r := range reqs {
		if r.Endpoint == ddoauthtest.EndpointAPIKey {
			assert.True(t, strings.HasPrefix(r.Header.Get("Authorization"), "Bearer [redacted "))
		}
	}

	srv.ResetRequests()
	assert.Empty(t, srv.Requests())
}

func basic(id, secret string) string {
	req, _ := http.NewRequest(http.MethodGet, "https://x", nil)
	req.SetBasicAuth(id, secret)
	_, cred, _ := strings.Cut(req.Header.Get("Authorization"), " ")
	return cred
}
