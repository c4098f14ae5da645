package ddoauthtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

const redirectURI = "https://partner.example/oauth/callback"

// RFC 7636 Appendix B.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

// setup starts a server with auto-consent and one published client.
func setup(t *testing.T) (*ddoauthtest.Server, ddoauthtest.OAuthClient) {
	t.Helper()
	srv := ddoauthtest.NewServer()
	t.Cleanup(srv.Close)
	srv.AutoConsent = true
	return srv, srv.NewClient(redirectURI)
}

// browser returns a real-TLS client that stops at redirects, as a test
// reading the callback needs.
func browser(srv *ddoauthtest.Server) *http.Client {
	c := srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

func site(t *testing.T, name string) ddoauth.Site {
	t.Helper()
	for _, s := range ddoauth.Sites() {
		if s.Name() == name {
			return s
		}
	}
	t.Fatalf("no site %s", name)
	return ddoauth.Site{}
}

func authURL(host, clientID, redirect, challenge, state string) string {
	q := url.Values{
		"client_id":             {clientID},
		"redirect_uri":          {redirect},
		"response_type":         {"code"},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
	}
	if state != "" {
		q.Set("state", state)
	}
	return "https://" + host + "/oauth2/v1/authorize?" + q.Encode()
}

// authorize runs the authorize step over real TLS with auto-consent and
// returns the callback query.
func authorize(t *testing.T, srv *ddoauthtest.Server, host string, c ddoauthtest.OAuthClient) url.Values {
	t.Helper()
	resp, err := browser(srv).Get(authURL(host, c.ID, c.RedirectURIs[0], rfcChallenge, "st"))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := resp.Location()
	require.NoError(t, err)
	return loc.Query()
}

type result struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r result) str(key string) string {
	s, _ := r.json[key].(string)
	return s
}

func do(t *testing.T, c *http.Client, req *http.Request) result {
	t.Helper()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := result{status: resp.StatusCode, header: resp.Header, body: body}
	_ = json.Unmarshal(body, &r.json)
	return r
}

func postForm(t *testing.T, c *http.Client, rawURL string, form url.Values) result {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, c, req)
}

func codeForm(c ddoauthtest.OAuthClient, code string) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {c.ID},
		"client_secret": {c.Secret},
		"code":          {code},
		"redirect_uri":  {c.RedirectURIs[0]},
		"code_verifier": {rfcVerifier},
	}
}

func refreshForm(c ddoauthtest.OAuthClient, refresh string) url.Values {
	return url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {c.ID},
		"client_secret": {c.Secret},
		"refresh_token": {refresh},
	}
}

// connect authorizes the default org of s and redeems the code.
func connect(t *testing.T, srv *ddoauthtest.Server, s ddoauth.Site, c ddoauthtest.OAuthClient) result {
	t.Helper()
	code := authorize(t, srv, s.BrowserHost(), c).Get("code")
	require.NotEmpty(t, code)
	r := postForm(t, srv.Client(), s.TokenURL(), codeForm(c, code))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	return r
}

func bearerPost(t *testing.T, srv *ddoauthtest.Server, rawURL, token string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, rawURL, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	return do(t, srv.Client(), req)
}

// createKey creates the API key of the org behind an access token.
func createKey(t *testing.T, srv *ddoauthtest.Server, s ddoauth.Site, token string) string {
	t.Helper()
	r := bearerPost(t, srv, s.APIKeyURL(), token)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	var body struct {
		Data struct {
			Attributes struct{ Key string } `json:"attributes"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.body, &body))
	return body.Data.Attributes.Key
}

func send(t *testing.T, srv *ddoauthtest.Server, rawURL, apiKey, body string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, rawURL, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("DD-API-KEY", apiKey)
	return do(t, srv.Client(), req)
}
