package main

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
	"github.com/ddoauth/ddoauth/examples/internal/clitest"
)

// start serves a backend on a loopback port, configured by env.
func start(t *testing.T, env map[string]string) (*backend, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	origin := "http://" + ln.Addr().String()
	b, err := newBackend(origin, func(k string) string { return env[k] })
	require.NoError(t, err)
	srv := &http.Server{Handler: b}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { srv.Close(); b.Close() })
	return b, origin
}

// userAgent is curl with a cookie jar: it follows redirects and keeps cookies.
func userAgent(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar}
}

type page struct {
	status int
	url    *url.URL
	body   string
}

func do(t *testing.T, c *http.Client, method, u string, form url.Values) page {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return page{resp.StatusCode, resp.Request.URL, string(b)}
}

func connections(t *testing.T, c *http.Client, origin string) ([]map[string]any, string) {
	t.Helper()
	p := do(t, c, http.MethodGet, origin+"/connections", nil)
	require.Equal(t, http.StatusOK, p.status, p.body)
	var out []map[string]any
	require.NoError(t, json.Unmarshal([]byte(p.body), &out))
	return out, p.body
}

// TestConnectWithCookieJar is connect.sh in Go: sign in, onboarding with
// the site, Datadog approving at once, callback; then /connections lists
// the organization with the API key's last four characters only, and a
// disconnect revokes the grant.
func TestConnectWithCookieJar(t *testing.T) {
	t.Parallel()
	b, origin := start(t, map[string]string{"DDOAUTH_AUTOCONSENT": "1"})
	c := userAgent(t)
	require.Equal(t, http.StatusOK, do(t, c, http.MethodPost, origin+"/signin", url.Values{"user": {"alice"}}).status)

	p := do(t, c, http.MethodGet, origin+"/oauth/datadog/onboarding?site="+url.QueryEscape("https://app.datadoghq.eu"), nil)
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Equal(t, "/oauth/datadog/callback", p.url.Path)
	assert.Contains(t, p.body, "You may now close this tab")

	list, raw := connections(t, c, origin)
	require.Len(t, list, 1)
	got := list[0]
	key, ok := b.dd.APIKey("eu1-org")
	require.True(t, ok)
	assert.Equal(t, "datadoghq.eu", got["site"])
	assert.Equal(t, "EU1", got["site_name"])
	assert.Equal(t, []any{ddoauthtest.ScopeAPIKeysWrite, ddoauthtest.ScopeEventsRead}, got["scopes"])
	assert.Equal(t, key.Last4, got["api_key_last4"])
	assert.Equal(t, "connected", got["status"])
	var fields []string
	for k := range got {
		fields = append(fields, k)
	}
	assert.ElementsMatch(t, []string{"id", "site", "site_name", "scopes", "api_key_last4", "status", "created"}, fields)

	id := got["id"].(string)
	conn, err := b.store.Load(context.Background(), id)
	require.NoError(t, err)
	apiKey, err := b.store.LoadAPIKey(context.Background(), "alice/datadoghq.eu")
	require.NoError(t, err)
	for _, secret := range []string{conn.Token.AccessToken, conn.Token.RefreshToken, apiKey.Key} {
		assert.NotContains(t, raw, secret)
	}

	p = do(t, c, http.MethodPost, origin+"/connections/"+id+"/disconnect", url.Values{})
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Contains(t, p.body, `"status": "disconnected"`)
	assert.Equal(t, 2, b.dd.Count(ddoauthtest.EndpointRevoke))
	_, err = b.client.Refresh(context.Background(), conn)
	assert.ErrorIs(t, err, ddoauth.ErrInvalidGrant, "the grant is revoked at Datadog")
	list, _ = connections(t, c, origin)
	assert.Equal(t, "disconnected", list[0]["status"])
}

// TestLoginCSRF: mallory starts an authorization, approves it for his
// organization, and gets alice's browser to open his callback with his
// pending cookie. The backend refuses it: alice's session did not start
// it. No code is redeemed and alice has no connection; in mallory's own
// session the same callback completes.
func TestLoginCSRF(t *testing.T) {
	t.Parallel()
	b, origin := start(t, map[string]string{"DDOAUTH_AUTOCONSENT": "1"})
	mallory, alice := userAgent(t), userAgent(t)
	for user, c := range map[string]*http.Client{"mallory": mallory, "alice": alice} {
		require.Equal(t, http.StatusOK, do(t, c, http.MethodPost, origin+"/signin", url.Values{"user": {user}}).status)
	}
	mallory.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == "/oauth/datadog/callback" {
			return http.ErrUseLastResponse // he keeps the callback for alice
		}
		return nil
	}
	resp, err := mallory.Get(origin + "/oauth/datadog/onboarding?site=" + url.QueryEscape("https://app.datadoghq.eu"))
	require.NoError(t, err)
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	require.Contains(t, callback, "/oauth/datadog/callback?")

	u, _ := url.Parse(origin + "/")
	for _, ck := range mallory.Jar.Cookies(u) {
		if ck.Name != sessionCookie {
			ck.Path = "/"
			alice.Jar.SetCookies(u, []*http.Cookie{ck})
		}
	}
	p := do(t, alice, http.MethodGet, callback, nil)
	assert.Equal(t, http.StatusBadRequest, p.status)
	assert.Contains(t, p.body, "not started by the account signed in here")
	assert.Equal(t, 0, b.dd.Count(ddoauthtest.EndpointToken))
	list, _ := connections(t, alice, origin)
	assert.Empty(t, list)

	p = do(t, mallory, http.MethodGet, callback, nil)
	assert.Equal(t, http.StatusOK, p.status, p.body)
	list, _ = connections(t, mallory, origin)
	assert.Len(t, list, 1)
}

// connect signs c in as user, if it is not, and connects site.
func connect(t *testing.T, c *http.Client, origin, user, site string) {
	t.Helper()
	require.Equal(t, http.StatusOK, do(t, c, http.MethodPost, origin+"/signin", url.Values{"user": {user}}).status)
	p := do(t, c, http.MethodGet, origin+"/oauth/datadog/onboarding?site="+url.QueryEscape(site), nil)
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Contains(t, p.body, "You may now close this tab")
}

// TestReconnectKeepsAPIKey connects one organization twice: the second
// connection finds the API key saved by the first instead of asking
// Datadog, which would refuse a second key.
func TestReconnectKeepsAPIKey(t *testing.T) {
	t.Parallel()
	b, origin := start(t, map[string]string{"DDOAUTH_AUTOCONSENT": "1"})
	for range 2 {
		connect(t, userAgent(t), origin, "alice", "https://app.datadoghq.eu")
	}
	c := userAgent(t)
	connect(t, c, origin, "alice", "https://us5.datadoghq.com")
	eu, ok := b.dd.APIKey("eu1-org")
	require.True(t, ok)
	us5, ok := b.dd.APIKey("us5-org")
	require.True(t, ok)

	list, _ := connections(t, c, origin)
	require.Len(t, list, 3)
	for i, want := range []string{eu.Last4, eu.Last4, us5.Last4} {
		assert.Equal(t, "connected", list[i]["status"], i)
		assert.Equal(t, want, list[i]["api_key_last4"], i)
	}
	assert.Equal(t, 2, b.dd.Count(ddoauthtest.EndpointAPIKey), "Datadog asked once per organization")
}

// TestDisconnectTwice: a disconnected connection is saved revoked, so its
// token source answers ErrRevoked, and disconnecting it again is not an
// error and does not reach Datadog.
func TestDisconnectTwice(t *testing.T) {
	t.Parallel()
	b, origin := start(t, map[string]string{"DDOAUTH_AUTOCONSENT": "1"})
	c := userAgent(t)
	connect(t, c, origin, "alice", "https://app.datadoghq.eu")
	list, _ := connections(t, c, origin)
	require.Len(t, list, 1)
	id := list[0]["id"].(string)

	for range 2 {
		p := do(t, c, http.MethodPost, origin+"/connections/"+id+"/disconnect", url.Values{})
		require.Equal(t, http.StatusOK, p.status, p.body)
		assert.Contains(t, p.body, `"status": "disconnected"`)
	}
	assert.Equal(t, 2, b.dd.Count(ddoauthtest.EndpointRevoke), "revoked once: refresh and access token")
	conn, err := b.store.Load(context.Background(), id)
	require.NoError(t, err)
	assert.True(t, conn.Revoked)
	assert.Nil(t, conn.Token)
	_, err = b.client.TokenSource(b.store, id).TokenContext(context.Background())
	assert.ErrorIs(t, err, ddoauth.ErrRevoked)
	list, _ = connections(t, c, origin)
	assert.Equal(t, "disconnected", list[0]["status"])
}

// TestClickThrough is a person's path: onboarding before signing in, the
// sign-in form, then Datadog's consent page through the gateway.
func TestClickThrough(t *testing.T) {
	t.Parallel()
	_, origin := start(t, nil)
	c := userAgent(t)

	p := do(t, c, http.MethodGet, origin+"/oauth/datadog/onboarding?domain=us5.datadoghq.com", nil)
	require.Equal(t, http.StatusOK, p.status)
	assert.Equal(t, "/", p.url.Path, "sign in first")
	next := between(t, p.body, `name="next" value="`, `"`)
	p = do(t, c, http.MethodPost, origin+"/signin", url.Values{"user": {"bob"}, "next": {html.UnescapeString(next)}})
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.True(t, strings.HasPrefix(p.url.Path, "/_datadog/us5.datadoghq.com/oauth2/v1/authorize"), p.url.String())
	assert.Contains(t, p.body, "Default US5")

	action, err := p.url.Parse(between(t, p.body, `action="`, `"`))
	require.NoError(t, err)
	consent := html.UnescapeString(between(t, p.body, `name="consent" value="`, `"`))
	p = do(t, c, http.MethodPost, action.String(), url.Values{"consent": {consent}, "decision": {"approve"}})
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Contains(t, p.body, "You may now close this tab")
	list, _ := connections(t, c, origin)
	require.Len(t, list, 1)
	assert.Equal(t, "US5", list[0]["site_name"])
}

func between(t *testing.T, s, start, end string) string {
	t.Helper()
	_, rest, ok := strings.Cut(s, start)
	require.True(t, ok, "%q not in %s", start, s)
	v, _, ok := strings.Cut(rest, end)
	require.True(t, ok)
	return v
}

func TestEverySite(t *testing.T) {
	t.Parallel()
	_, origin := start(t, map[string]string{"DDOAUTH_AUTOCONSENT": "1"})
	c := userAgent(t)
	do(t, c, http.MethodPost, origin+"/signin", url.Values{"user": {"carol"}})
	for _, site := range ddoauth.Sites() {
		p := do(t, c, http.MethodGet, origin+"/oauth/datadog/onboarding?site="+url.QueryEscape("https://"+site.BrowserHost()), nil)
		require.Equal(t, http.StatusOK, p.status, site.Name()+": "+p.body)
	}
	list, _ := connections(t, c, origin)
	require.Len(t, list, len(ddoauth.Sites()))
	for i, site := range ddoauth.Sites() {
		assert.Equal(t, site.Domain(), list[i]["site"])
		assert.Len(t, list[i]["api_key_last4"], 4)
	}

	// The site picker, when the link names no site.
	p := do(t, c, http.MethodGet, origin+"/oauth/datadog/onboarding", nil)
	assert.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, p.body, "Choose your Datadog site")
}

func TestAccess(t *testing.T) {
	t.Parallel()
	_, origin := start(t, map[string]string{"DDOAUTH_AUTOCONSENT": "1"})
	alice, mallory := userAgent(t), userAgent(t)
	do(t, alice, http.MethodPost, origin+"/signin", url.Values{"user": {"alice"}})
	do(t, alice, http.MethodGet, origin+"/oauth/datadog/onboarding?domain=datadoghq.com", nil)
	list, _ := connections(t, alice, origin)
	require.Len(t, list, 1)

	assert.Equal(t, http.StatusUnauthorized, do(t, mallory, http.MethodGet, origin+"/connections", nil).status)
	do(t, mallory, http.MethodPost, origin+"/signin", url.Values{"user": {"mallory"}})
	mine, _ := connections(t, mallory, origin)
	assert.Empty(t, mine)
	p := do(t, mallory, http.MethodPost, origin+"/connections/"+list[0]["id"].(string)+"/disconnect", url.Values{})
	assert.Equal(t, http.StatusNotFound, p.status)
	assert.Equal(t, http.StatusBadRequest, do(t, mallory, http.MethodPost, origin+"/signin", url.Values{"user": {"<x>"}}).status)
	// The gateway serves Datadog hosts only.
	assert.Equal(t, http.StatusNotFound, do(t, mallory, http.MethodGet, origin+"/_datadog/example.com/", nil).status)
}

// TestConnectScript runs connect.sh itself against the backend.
func TestConnectScript(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " is not installed")
		}
	}
	b, origin := start(t, map[string]string{"DDOAUTH_AUTOCONSENT": "1"})
	cmd := exec.Command("bash", "connect.sh", "us3")
	cmd.Env = append(cmd.Environ(), "BASE="+origin, "DISCONNECT=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	key, ok := b.dd.APIKey("us3-org")
	require.True(t, ok)
	assert.Contains(t, string(out), "You may now close this tab")
	assert.Contains(t, string(out), `"api_key_last4": "`+key.Last4+`"`)
	assert.Contains(t, string(out), `"status": "connected"`)
	assert.Contains(t, string(out), `"status": "disconnected"`)
	assert.Equal(t, 2, b.dd.Count(ddoauthtest.EndpointRevoke))
}

// TestConnectScriptTwice runs connect.sh twice for one site: the second
// connection shows the organization's API key too. Then twice with
// DISCONNECT=1, which disconnects every connection of the user: the
// second time, the first three again, and no disconnect fails.
func TestConnectScriptTwice(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " is not installed")
		}
	}
	b, origin := start(t, map[string]string{"DDOAUTH_AUTOCONSENT": "1"})
	script := func(env ...string) string {
		cmd := exec.Command("bash", "connect.sh", "https://us3.datadoghq.com")
		cmd.Env = append(cmd.Environ(), append(env, "BASE="+origin)...)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, string(out))
		return string(out)
	}
	script()
	second := script()
	key, ok := b.dd.APIKey("us3-org")
	require.True(t, ok)
	assert.Equal(t, 2, strings.Count(second, `"api_key_last4": "`+key.Last4+`"`), second)
	assert.NotContains(t, second, "connected_without_api_key")

	script("DISCONNECT=1")
	fourth := script("DISCONNECT=1")
	assert.Equal(t, 4, strings.Count(fourth, "== POST /connections/"), fourth)
	_, disconnects, _ := strings.Cut(fourth, "== POST")
	assert.Equal(t, 4, strings.Count(disconnects, `"status": "disconnected"`), fourth)
	assert.Equal(t, 8, strings.Count(fourth, `"api_key_last4": "`+key.Last4+`"`), "listed and disconnected: "+fourth)
	assert.Equal(t, 1, b.dd.Count(ddoauthtest.EndpointAPIKey))
	assert.Equal(t, 8, b.dd.Count(ddoauthtest.EndpointRevoke), "each grant revoked once")
}

func TestRealDatadogConfig(t *testing.T) {
	t.Parallel()
	b, origin := start(t, map[string]string{
		"DD_CLIENT_ID": "client", "DD_CLIENT_SECRET": "secret",
		"DD_REDIRECT_URL": "https://partner.example/oauth/datadog/callback",
	})
	assert.Nil(t, b.dd)
	c := userAgent(t)
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host != strings.TrimPrefix(origin, "http://") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	do(t, c, http.MethodPost, origin+"/signin", url.Values{"user": {"alice"}})
	resp, err := c.Get(origin + "/oauth/datadog/onboarding?domain=datadoghq.eu")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), "https://app.datadoghq.eu/oauth2/v1/authorize?"))

	_, err = newBackend(origin, func(k string) string { return map[string]string{"DDOAUTH_COOKIE_KEY": "short"}[k] })
	assert.Error(t, err)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRun(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, nil, func(k string) string { return map[string]string{"ADDR": "127.0.0.1:0"}[k] }, out)
	}()
	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, out.String(), "Datadog: emulated in process")
}

// TestMain runs main instead of the tests in the copies TestHelp starts.
func TestMain(m *testing.M) { clitest.Main(m, main) }

// TestHelp: -h exits 0, and the usage names the flags and every
// environment variable the command reads; an unknown flag exits 1.
func TestHelp(t *testing.T) {
	t.Parallel()
	clitest.CheckHelp(t, "-site", "ADDR", "DD_SITE", "DD_CLIENT_ID", "DD_CLIENT_SECRET", "DD_REDIRECT_URL",
		"DDOAUTH_COOKIE_KEY", "DDOAUTH_AUTOCONSENT", "DATABASE_URL", "REDIS_URL", "DDOAUTH_STORE_KEY")
}

// TestSiteSpellings: the onboarding URL takes a site's name in any case
// as well as what Datadog sends, and DD_SITE names the site of links
// that name none.
func TestSiteSpellings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ query, env string }{
		{"site=eu1", ""}, {"site=EU1", ""}, {"site=datadoghq.eu", ""}, {"site=https%3A%2F%2Fapp.datadoghq.eu", ""},
		{"domain=datadoghq.eu", ""}, {"", "eu1"}, {"", "datadoghq.eu"}, {"site=eu1", "us5"},
	} {
		t.Run(tc.query+"/"+tc.env, func(t *testing.T) {
			t.Parallel()
			_, origin := start(t, map[string]string{"DDOAUTH_AUTOCONSENT": "1", "DD_SITE": tc.env})
			c := userAgent(t)
			do(t, c, http.MethodPost, origin+"/signin", url.Values{"user": {"alice"}})
			p := do(t, c, http.MethodGet, origin+"/oauth/datadog/onboarding?"+tc.query, nil)
			require.Equal(t, http.StatusOK, p.status, p.body)
			list, _ := connections(t, c, origin)
			require.Len(t, list, 1)
			assert.Equal(t, "EU1", list[0]["site_name"])
		})
	}
	_, err := newBackend("http://127.0.0.1:1", func(k string) string { return map[string]string{"DD_SITE": "eu7"}[k] })
	assert.ErrorIs(t, err, ddoauth.ErrUnknownSite)
}
