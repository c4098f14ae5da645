package ddoauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
)

const (
	testClientID = "ddoauth-test-client"
	testSecret   = "ddsecret-7f3c1e9a2b4d6f80"
	testRedirect = "https://partner.example/oauth/datadog/callback"
)

// recorded is what the fixture server saw of one request.
type recorded struct {
	Host, Method, Path, ContentType, Authorization string
	Form                                           url.Values
}

// tokenServer is a TLS server that answers for every Datadog host: the
// client under test dials it whatever the URL's host, so requests carry
// real Datadog hostnames through real TLS.
type tokenServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	reqs    []recorded
	respond http.HandlerFunc
}

func (ts *tokenServer) requests() []recorded {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]recorded(nil), ts.reqs...)
}

// setup starts a fixture server answering with respond and returns it
// with a Client wired to it.
func setup(t *testing.T, respond http.HandlerFunc, mod ...func(*ddoauth.Config)) (*tokenServer, *ddoauth.Client) {
	t.Helper()
	ts := &tokenServer{respond: respond}
	ts.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		ts.mu.Lock()
		ts.reqs = append(ts.reqs, recorded{r.Host, r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), form})
		ts.mu.Unlock()
		ts.respond(w, r)
	}))
	t.Cleanup(ts.srv.Close)
	tr := ts.srv.Client().Transport.(*http.Transport).Clone()
	addr := ts.srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	// httptest's certificate names example.com; the URL keeps the real host.
	tr.TLSClientConfig.ServerName = "example.com"
	cfg := ddoauth.Config{
		ClientID:     testClientID,
		ClientSecret: testSecret,
		RedirectURL:  testRedirect,
		HTTPClient:   &http.Client{Transport: tr},
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := ddoauth.New(cfg)
	require.NoError(t, err)
	return ts, c
}

func jsonAnswer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

const okBody = `{"access_token":"AT-abcdef123456","refresh_token":"RT-abcdef123456","expires_in":3600,"scope":"api_keys_write metrics_read","token_type":"bearer"}`

// callback builds the query Datadog sends to the redirect URI.
func callback(p *ddoauth.Pending, kv ...string) url.Values {
	q := url.Values{"state": {p.State}, "code": {"code-0123456789abcdef"}}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	return q
}

func mustSite(t *testing.T, raw string) ddoauth.Site {
	t.Helper()
	s, err := ddoauth.ResolveSite(raw)
	require.NoError(t, err)
	return s
}

func TestNewRejectsUnusableConfig(t *testing.T) {
	t.Parallel()
	valid := ddoauth.Config{ClientID: "id", ClientSecret: "secret", RedirectURL: testRedirect}
	us7, err := ddoauth.NewSite("US7", "us7.datadoghq.com", "us7.datadoghq.com")
	require.NoError(t, err)
	tests := []struct {
		name string
		mod  func(*ddoauth.Config)
	}{
		{"no client ID", func(c *ddoauth.Config) { c.ClientID = "" }},
		{"client ID with space", func(c *ddoauth.Config) { c.ClientID = "a b" }},
		{"no secret", func(c *ddoauth.Config) { c.ClientSecret = "" }},
		{"secret and secret func", func(c *ddoauth.Config) {
			c.ClientSecretFunc = func(context.Context, ddoauth.Site) (string, error) { return "x", nil }
		}},
		{"no redirect", func(c *ddoauth.Config) { c.RedirectURL = "" }},
		{"relative redirect", func(c *ddoauth.Config) { c.RedirectURL = "/callback" }},
		{"http redirect", func(c *ddoauth.Config) { c.RedirectURL = "http://partner.example/cb" }},
		{"redirect with fragment", func(c *ddoauth.Config) { c.RedirectURL = testRedirect + "#x" }},
		{"redirect with userinfo", func(c *ddoauth.Config) { c.RedirectURL = "https://u:p@partner.example/cb" }},
		{"javascript redirect", func(c *ddoauth.Config) { c.RedirectURL = "javascript:alert(1)" }},
		{"bad scope", func(c *ddoauth.Config) { c.Scopes = []string{"metrics_read events_read"} }},
		{"empty scope", func(c *ddoauth.Config) { c.Scopes = []string{""} }},
		{"negative TTL", func(c *ddoauth.Config) { c.PendingTTL = -time.Second }},
		{"built-in site in Sites", func(c *ddoauth.Config) { c.Sites = []ddoauth.Site{ddoauth.Sites()[3]} }},
		{"same site twice in Sites", func(c *ddoauth.Config) { c.Sites = []ddoauth.Site{us7, us7} }},
		{"zero site in Sites", func(c *ddoauth.Config) { c.Sites = []ddoauth.Site{{}} }},
		{"org site in Sites", func(c *ddoauth.Config) {
			s, err := ddoauth.ResolveSite("acme.datadoghq.com")
			require.NoError(t, err)
			c.Sites = []ddoauth.Site{s, us7}
		}},
		{"unknown site in SiteClients", func(c *ddoauth.Config) {
			c.SiteClients = map[string]ddoauth.ClientCredentials{"US7": {ClientID: "eu", ClientSecret: "s"}}
		}},
		{"org in SiteClients", func(c *ddoauth.Config) {
			c.SiteClients = map[string]ddoauth.ClientCredentials{"acme.datadoghq.eu": {ClientID: "eu", ClientSecret: "s"}}
		}},
		{"same site twice in SiteClients", func(c *ddoauth.Config) {
			c.SiteClients = map[string]ddoauth.ClientCredentials{"EU1": {ClientID: "eu", ClientSecret: "s"},
				"datadoghq.eu": {ClientID: "eu", ClientSecret: "s"}}
		}},
		{"no client ID in SiteClients", func(c *ddoauth.Config) {
			c.SiteClients = map[string]ddoauth.ClientCredentials{"EU1": {ClientSecret: "s"}}
		}},
		{"no secret in SiteClients", func(c *ddoauth.Config) {
			c.SiteClients = map[string]ddoauth.ClientCredentials{"EU1": {ClientID: "eu"}}
		}},
		{"secret in SiteClients and secret func", func(c *ddoauth.Config) {
			c.ClientSecret = ""
			c.ClientSecretFunc = func(context.Context, ddoauth.Site) (string, error) { return "x", nil }
			c.SiteClients = map[string]ddoauth.ClientCredentials{"EU1": {ClientID: "eu", ClientSecret: "s"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := valid
			tt.mod(&cfg)
			c, err := ddoauth.New(cfg)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, ddoauth.ErrInvalidConfig)
		})
	}
	t.Run("loopback http redirect is allowed", func(t *testing.T) {
		t.Parallel()
		for _, u := range []string{"http://127.0.0.1:8080/cb", "http://localhost:9000/cb", "http://[::1]/cb"} {
			cfg := valid
			cfg.RedirectURL = u
			_, err := ddoauth.New(cfg)
			assert.NoError(t, err, u)
		}
	})
}

func TestStartAuthorizeURL(t *testing.T) {
	t.Parallel()
	_, c := setup(t, jsonAnswer(200, okBody))
	tests := []struct {
		site     string // "" for no site
		wantHost string
	}{
		{"", "app.datadoghq.com"},
		{"datadoghq.com", "app.datadoghq.com"},
		{"us3.datadoghq.com", "us3.datadoghq.com"},
		{"us5.datadoghq.com", "us5.datadoghq.com"},
		{"datadoghq.eu", "app.datadoghq.eu"},
		{"ap1.datadoghq.com", "ap1.datadoghq.com"},
		{"ap2.datadoghq.com", "ap2.datadoghq.com"},
		{"uk1.datadoghq.com", "uk1.datadoghq.com"},
		{"ddog-gov.com", "app.ddog-gov.com"},
		{"us2.ddog-gov.com", "us2.ddog-gov.com"},
		{"https://acme.datadoghq.com", "acme.datadoghq.com"},
		{"https://acme.us5.datadoghq.com/", "acme.us5.datadoghq.com"},
		{"acme.datadoghq.eu", "acme.datadoghq.eu"},
	}
	for _, tt := range tests {
		t.Run(tt.site, func(t *testing.T) {
			t.Parallel()
			var site ddoauth.Site
			if tt.site != "" {
				site = mustSite(t, tt.site)
			}
			authURL, p, err := c.Start(site)
			require.NoError(t, err)
			u, err := url.Parse(authURL)
			require.NoError(t, err)
			assert.Equal(t, "https", u.Scheme)
			assert.Equal(t, tt.wantHost, u.Host)
			assert.Equal(t, "/oauth2/v1/authorize", u.Path)
			q := u.Query()
			assert.Equal(t, testClientID, q.Get("client_id"))
			assert.Equal(t, testRedirect, q.Get("redirect_uri"))
			assert.Equal(t, "code", q.Get("response_type"))
			assert.Equal(t, p.State, q.Get("state"))
			assert.Equal(t, ddoauth.Challenge(p.Verifier), q.Get("code_challenge"))
			assert.Equal(t, "S256", q.Get("code_challenge_method"))
			assert.False(t, q.Has("scope"))
			assert.NotContains(t, authURL, p.Verifier)
			assert.NotContains(t, authURL, testSecret)
			assert.Len(t, p.State, 43)
			assert.NoError(t, ddoauth.ValidateVerifier(p.Verifier))
			assert.Equal(t, site, p.Site)
		})
	}
}

func TestStartStatesAreUnique(t *testing.T) {
	t.Parallel()
	_, c := setup(t, jsonAnswer(200, okBody))
	seen := map[string]bool{}
	for range 200 {
		_, p, err := c.Start(ddoauth.Site{})
		require.NoError(t, err)
		assert.False(t, seen[p.State] || seen[p.Verifier])
		seen[p.State], seen[p.Verifier] = true, true
	}
}

func TestStartSendsConfiguredScopes(t *testing.T) {
	t.Parallel()
	_, c := setup(t, jsonAnswer(200, okBody), func(cfg *ddoauth.Config) {
		cfg.Scopes = []string{"api_keys_write", "metrics_read"}
	})
	authURL, _, err := c.Start(ddoauth.Sites()[0])
	require.NoError(t, err)
	u, err := url.Parse(authURL)
	require.NoError(t, err)
	assert.Equal(t, "api_keys_write metrics_read", u.Query().Get("scope"))
}

// TestCompleteTokenRequest checks the one token request for every site:
// a single form-encoded POST to api.<domain> with the credentials in the body.
func TestCompleteTokenRequest(t *testing.T) {
	t.Parallel()
	for _, site := range ddoauth.Sites() {
		t.Run(site.Name(), func(t *testing.T) {
			t.Parallel()
			ts, c := setup(t, jsonAnswer(200, okBody))
			_, p, err := c.Start(site)
			require.NoError(t, err)
			conn, err := c.Complete(t.Context(), p, callback(p, "domain", site.Domain()))
			require.NoError(t, err)

			reqs := ts.requests()
			require.Len(t, reqs, 1)
			r := reqs[0]
			assert.Equal(t, "api."+site.Domain(), r.Host)
			assert.Equal(t, http.MethodPost, r.Method)
			assert.Equal(t, "/oauth2/v1/token", r.Path)
			assert.Equal(t, "application/x-www-form-urlencoded", r.ContentType)
			assert.Empty(t, r.Authorization, "credentials go in the body, not Basic auth")
			assert.Equal(t, url.Values{
				"grant_type":    {"authorization_code"},
				"client_id":     {testClientID},
				"client_secret": {testSecret},
				"code":          {"code-0123456789abcdef"},
				"code_verifier": {p.Verifier},
				"redirect_uri":  {testRedirect},
			}, r.Form)

			assert.Equal(t, site, conn.Site)
			assert.Equal(t, "AT-abcdef123456", conn.Token.AccessToken)
			assert.Equal(t, "RT-abcdef123456", conn.Token.RefreshToken)
			assert.Equal(t, []string{"api_keys_write", "metrics_read"}, conn.Scopes)
			assert.True(t, conn.HasScope("api_keys_write"))
			assert.False(t, conn.HasScope("org_management"))
		})
	}
}

func TestCompleteRedeemsAtRegionWithoutOrgSubdomain(t *testing.T) {
	t.Parallel()
	ts, c := setup(t, jsonAnswer(200, okBody))
	_, p, err := c.Start(mustSite(t, "https://acme.us5.datadoghq.com/"))
	require.NoError(t, err)
	conn, err := c.Complete(t.Context(), p, callback(p, "site", "https://acme.us5.datadoghq.com", "domain", "us5.datadoghq.com"))
	require.NoError(t, err)
	require.Len(t, ts.requests(), 1)
	assert.Equal(t, "api.us5.datadoghq.com", ts.requests()[0].Host)
	assert.Equal(t, "us5.datadoghq.com", conn.Site.String())
}

func TestCompleteSiteFromCallbackWhenStartedWithout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		kv       []string
		wantHost string
	}{
		{"no site anywhere goes to US1", nil, "api.datadoghq.com"},
		{"current style", []string{"domain", "datadoghq.eu"}, "api.datadoghq.eu"},
		{"2022 style", []string{"site", "https://app.ddog-gov.com"}, "api.ddog-gov.com"},
		{"both styles", []string{"site", "https://acme.ap2.datadoghq.com", "domain", "ap2.datadoghq.com"}, "api.ap2.datadoghq.com"},
		{"iss names the same region", []string{"domain", "uk1.datadoghq.com", "iss", "https://uk1.datadoghq.com"}, "api.uk1.datadoghq.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, c := setup(t, jsonAnswer(200, okBody))
			_, p, err := c.Start(ddoauth.Site{})
			require.NoError(t, err)
			_, err = c.Complete(t.Context(), p, callback(p, tt.kv...))
			require.NoError(t, err)
			require.Len(t, ts.requests(), 1)
			assert.Equal(t, tt.wantHost, ts.requests()[0].Host)
		})
	}
}

// TestCompleteRejectsBeforeAnyRequest covers every callback that must fail
// without a byte sent to Datadog.
func TestCompleteRejectsBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	eu := "datadoghq.eu"
	tests := []struct {
		name  string
		start string // pending site, "" for none
		query func(p *ddoauth.Pending) url.Values
		want  error
		code  string
	}{
		{"missing state", eu, func(p *ddoauth.Pending) url.Values { q := callback(p); q.Del("state"); return q }, ddoauth.ErrStateMismatch, ""},
		{"wrong state", eu, func(p *ddoauth.Pending) url.Values { return callback(p, "state", p.State+"x") }, ddoauth.ErrStateMismatch, ""},
		{"empty state", eu, func(p *ddoauth.Pending) url.Values { return callback(p, "state", "") }, ddoauth.ErrStateMismatch, ""},
		{"repeated state", eu, func(p *ddoauth.Pending) url.Values { q := callback(p); q.Add("state", p.State); return q }, ddoauth.ErrStateMismatch, ""},
		{"access denied", eu, func(p *ddoauth.Pending) url.Values {
			return url.Values{"state": {p.State}, "error": {"access_denied"}, "domain": {eu}}
		}, ddoauth.ErrAccessDenied, "access_denied"},
		{"invalid scope", eu, func(p *ddoauth.Pending) url.Values {
			return url.Values{"state": {p.State}, "error": {"invalid_scope"}}
		}, ddoauth.ErrAuthorization, "invalid_scope"},
		{"invalid client id", eu, func(p *ddoauth.Pending) url.Values {
			return url.Values{"state": {p.State}, "error": {"invalid_request"}, "error_description": {"Invalid client_id parameter value"}}
		}, ddoauth.ErrInvalidClient, "invalid_request"},
		{"error with a forged state", eu, func(p *ddoauth.Pending) url.Values {
			return url.Values{"state": {"forged"}, "error": {"access_denied"}}
		}, ddoauth.ErrStateMismatch, ""},
		{"mix-up: callback names another region", eu, func(p *ddoauth.Pending) url.Values { return callback(p, "domain", "datadoghq.com") }, ddoauth.ErrSiteMismatch, ""},
		{"mix-up: 2022 site of another region", eu, func(p *ddoauth.Pending) url.Values {
			return callback(p, "site", "https://app.ddog-gov.com")
		}, ddoauth.ErrSiteMismatch, ""},
		{"site and domain disagree", "", func(p *ddoauth.Pending) url.Values {
			return callback(p, "site", "https://app.datadoghq.eu", "domain", "datadoghq.com")
		}, ddoauth.ErrSiteMismatch, ""},
		{"iss of another region", eu, func(p *ddoauth.Pending) url.Values { return callback(p, "iss", "https://app.datadoghq.com") }, ddoauth.ErrSiteMismatch, ""},
		{"iss of no Datadog site", "", func(p *ddoauth.Pending) url.Values { return callback(p, "iss", "https://evil.example") }, ddoauth.ErrSiteMismatch, ""},
		{"unknown site at callback", "", func(p *ddoauth.Pending) url.Values { return callback(p, "domain", "datadoghq.com.evil.example") }, ddoauth.ErrUnknownSite, ""},
		{"no code", eu, func(p *ddoauth.Pending) url.Values { q := callback(p); q.Del("code"); return q }, ddoauth.ErrInvalidCallback, ""},
		{"empty code", eu, func(p *ddoauth.Pending) url.Values { return callback(p, "code", "") }, ddoauth.ErrInvalidCallback, ""},
		{"repeated code", eu, func(p *ddoauth.Pending) url.Values { q := callback(p); q.Add("code", "again"); return q }, ddoauth.ErrInvalidCallback, ""},
		{"code with newline", eu, func(p *ddoauth.Pending) url.Values { return callback(p, "code", "abc\ndef") }, ddoauth.ErrInvalidCallback, ""},
		{"over-long code", eu, func(p *ddoauth.Pending) url.Values { return callback(p, "code", strings.Repeat("c", 4096)) }, ddoauth.ErrInvalidCallback, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, c := setup(t, jsonAnswer(200, okBody))
			var site ddoauth.Site
			if tt.start != "" {
				site = mustSite(t, tt.start)
			}
			_, p, err := c.Start(site)
			require.NoError(t, err)
			conn, err := c.Complete(t.Context(), p, tt.query(p))
			assert.Nil(t, conn)
			require.ErrorIs(t, err, tt.want)
			var e *ddoauth.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.code, e.Code)
			assert.True(t, strings.HasPrefix(err.Error(), "ddoauth: "), err.Error())
			assert.Empty(t, ts.requests(), "no request may be made")
		})
	}
}

func TestCompletePendingChecks(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ts, c := setup(t, jsonAnswer(200, okBody), func(cfg *ddoauth.Config) { cfg.Now = clock })

	t.Run("nil pending", func(t *testing.T) {
		_, err := c.Complete(t.Context(), nil, url.Values{"state": {"x"}, "code": {"y"}})
		assert.ErrorIs(t, err, ddoauth.ErrStateMismatch)
	})
	t.Run("expired", func(t *testing.T) {
		_, p, err := c.Start(ddoauth.Sites()[0])
		require.NoError(t, err)
		p.Created = now.Add(-10*time.Minute - time.Second)
		_, err = c.Complete(t.Context(), p, callback(p))
		assert.ErrorIs(t, err, ddoauth.ErrStateExpired)
	})
	t.Run("from the future", func(t *testing.T) {
		_, p, err := c.Start(ddoauth.Sites()[0])
		require.NoError(t, err)
		p.Created = now.Add(time.Hour)
		_, err = c.Complete(t.Context(), p, callback(p))
		assert.ErrorIs(t, err, ddoauth.ErrStateExpired)
	})
	t.Run("corrupt verifier", func(t *testing.T) {
		_, p, err := c.Start(ddoauth.Sites()[0])
		require.NoError(t, err)
		p.Verifier = p.Verifier[:20]
		_, err = c.Complete(t.Context(), p, callback(p))
		assert.ErrorIs(t, err, ddoauth.ErrInvalidGrant)
	})
	t.Run("tampered stored site", func(t *testing.T) {
		_, p, err := c.Start(ddoauth.Sites()[0])
		require.NoError(t, err)
		raw, err := ddoauth.MarshalPending(p)
		require.NoError(t, err)
		raw = bytes.Replace(raw, []byte(`"site":"datadoghq.com"`), []byte(`"site":"evil.example"`), 1)
		restored, err := ddoauth.UnmarshalPending(raw)
		require.NoError(t, err)
		_, err = c.Complete(t.Context(), restored, callback(restored))
		assert.ErrorIs(t, err, ddoauth.ErrUnknownSite)
	})
	assert.Empty(t, ts.requests())
}

func TestPendingSurvivesStorage(t *testing.T) {
	t.Parallel()
	ts, c := setup(t, jsonAnswer(200, okBody))
	_, p, err := c.Start(mustSite(t, "https://acme.datadoghq.eu/"))
	require.NoError(t, err)
	raw, err := ddoauth.MarshalPending(p)
	require.NoError(t, err)
	restored, err := ddoauth.UnmarshalPending(raw)
	require.NoError(t, err)
	assert.Equal(t, p.State, restored.State)
	assert.Equal(t, p.Verifier, restored.Verifier)
	assert.Equal(t, "acme.datadoghq.eu", restored.Site.String())
	assert.True(t, p.Created.Equal(restored.Created))

	conn, err := c.Complete(t.Context(), restored, callback(restored, "domain", "datadoghq.eu"))
	require.NoError(t, err)
	assert.Equal(t, "api.datadoghq.eu", ts.requests()[0].Host)

	raw, err = ddoauth.MarshalConnection(conn)
	require.NoError(t, err)
	back, err := ddoauth.UnmarshalConnection(raw)
	require.NoError(t, err)
	assert.Equal(t, conn.Site, back.Site)
	assert.Equal(t, conn.Token.AccessToken, back.Token.AccessToken)
	assert.Equal(t, conn.Token.RefreshToken, back.Token.RefreshToken)
	assert.Equal(t, conn.Scopes, back.Scopes)
}

func TestCompleteWithCustomSite(t *testing.T) {
	t.Parallel()
	us7, err := ddoauth.NewSite("US7", "us7.datadoghq.com", "us7.datadoghq.com")
	require.NoError(t, err)
	ts, c := setup(t, jsonAnswer(200, okBody), func(cfg *ddoauth.Config) { cfg.Sites = []ddoauth.Site{us7} })
	site, err := c.ResolveSite("https://us7.datadoghq.com")
	require.NoError(t, err)
	_, p, err := c.Start(site)
	require.NoError(t, err)
	raw, err := ddoauth.MarshalPending(p)
	require.NoError(t, err)
	restored, err := ddoauth.UnmarshalPending(raw)
	require.NoError(t, err)
	_, err = c.Complete(t.Context(), restored, callback(restored, "domain", "us7.datadoghq.com"))
	require.NoError(t, err)
	assert.Equal(t, "api.us7.datadoghq.com", ts.requests()[0].Host)
}

func TestTokenRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	ts, c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://collector.evil.example/steal", http.StatusTemporaryRedirect)
	})
	_, p, err := c.Start(ddoauth.Sites()[0])
	require.NoError(t, err)
	_, err = c.Complete(t.Context(), p, callback(p))
	require.ErrorIs(t, err, ddoauth.ErrServer)
	var e *ddoauth.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusTemporaryRedirect, e.StatusCode)
	reqs := ts.requests()
	require.Len(t, reqs, 1, "the 307 must not be followed")
	assert.Equal(t, "api.datadoghq.com", reqs[0].Host)
}

func TestTokenRedirectIsNotFollowedWithCallerCheckRedirect(t *testing.T) {
	t.Parallel()
	ts, c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://api.datadoghq.com/elsewhere", http.StatusPermanentRedirect)
	}, func(cfg *ddoauth.Config) {
		cfg.HTTPClient.CheckRedirect = func(*http.Request, []*http.Request) error { return nil }
	})
	_, p, err := c.Start(ddoauth.Sites()[0])
	require.NoError(t, err)
	_, err = c.Complete(t.Context(), p, callback(p))
	require.ErrorIs(t, err, ddoauth.ErrServer)
	assert.Len(t, ts.requests(), 1)
}

type fixture struct {
	Response struct {
		Status      int    `json:"status"`
		ContentType string `json:"content_type"`
		Body        string `json:"body"`
	} `json:"response"`
	Want           string   `json:"want"`
	WantScopes     []string `json:"want_scopes"`
	WantTTLSeconds int      `json:"want_ttl_seconds"`
}

var sentinels = map[string]error{
	"ErrInvalidClient": ddoauth.ErrInvalidClient,
	"ErrInvalidGrant":  ddoauth.ErrInvalidGrant,
	"ErrForbidden":     ddoauth.ErrForbidden,
	"ErrServer":        ddoauth.ErrServer,
}

// TestExchangeFixtures replays the documented token endpoint answers in
// testdata/exchange against the exchange at EU1.
func TestExchangeFixtures(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/exchange/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			var fx fixture
			require.NoError(t, json.Unmarshal(raw, &fx))
			now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
			ts, c := setup(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", fx.Response.ContentType)
				w.Header().Set("X-Request-Id", "req-123")
				w.WriteHeader(fx.Response.Status)
				io.WriteString(w, fx.Response.Body)
			}, func(cfg *ddoauth.Config) { cfg.Now = func() time.Time { return now } })
			_, p, err := c.Start(mustSite(t, "datadoghq.eu"))
			require.NoError(t, err)
			conn, err := c.Complete(t.Context(), p, callback(p))
			assert.Len(t, ts.requests(), 1, "exactly one token POST")
			if fx.Want == "ok" {
				require.NoError(t, err)
				assert.Equal(t, fx.WantScopes, conn.Scopes)
				assert.Equal(t, now.Add(time.Duration(fx.WantTTLSeconds)*time.Second), conn.Token.Expiry)
				return
			}
			want, ok := sentinels[fx.Want]
			require.True(t, ok, "unknown sentinel %q", fx.Want)
			require.ErrorIs(t, err, want)
			var e *ddoauth.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "exchange", e.Op)
			assert.Equal(t, "datadoghq.eu", e.Site)
			// x/oauth2 reports a 2xx body it cannot use without the status.
			if fx.Response.Status >= 300 || strings.Contains(fx.Response.Body, `"error"`) {
				assert.Equal(t, fx.Response.Status, e.StatusCode)
			}
			if fx.Response.Status >= 300 {
				assert.Equal(t, "req-123", e.RequestID)
			}
			assertNoSecrets(t, err.Error(), p.Verifier, "code-0123456789abcdef")
		})
	}
}

func TestExchangeHints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body     string
		want     error
		hintHas  string
		status   int
		hintHas2 string
	}{
		{`{"error":"invalid_request","error_description":"Invalid client_id parameter value"}`, ddoauth.ErrInvalidClient, testClientID, 400, "sandbox"},
		{`{"error":"invalid_request","error_description":"Mismatching redirect URI"}`, ddoauth.ErrInvalidClient, testRedirect, 400, "exactly"},
		{`{"error":"invalid_request","error_description":"Invalid code or code verifier"}`, ddoauth.ErrInvalidGrant, "form-encoded", 400, "verifier"},
	}
	for _, tt := range tests {
		t.Run(tt.hintHas, func(t *testing.T) {
			t.Parallel()
			_, c := setup(t, jsonAnswer(tt.status, tt.body))
			_, p, err := c.Start(ddoauth.Sites()[0])
			require.NoError(t, err)
			_, err = c.Complete(t.Context(), p, callback(p))
			require.ErrorIs(t, err, tt.want)
			var e *ddoauth.Error
			require.ErrorAs(t, err, &e)
			assert.Contains(t, e.Hint, tt.hintHas)
			assert.Contains(t, e.Hint, tt.hintHas2)
			if tt.want != ddoauth.ErrInvalidGrant {
				assert.NotErrorIs(t, err, ddoauth.ErrInvalidGrant)
			}
		})
	}
}

func TestExchangeOversizedBody(t *testing.T) {
	t.Parallel()
	_, c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"`+strings.Repeat("a", 2<<20)+`","token_type":"bearer"}`)
	})
	_, p, err := c.Start(ddoauth.Sites()[0])
	require.NoError(t, err)
	_, err = c.Complete(t.Context(), p, callback(p))
	assert.ErrorIs(t, err, ddoauth.ErrServer)
}

func TestExchangeNetworkErrors(t *testing.T) {
	t.Parallel()
	t.Run("connection dropped", func(t *testing.T) {
		t.Parallel()
		_, c := setup(t, func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			conn.Close()
		})
		_, p, err := c.Start(ddoauth.Sites()[0])
		require.NoError(t, err)
		_, err = c.Complete(t.Context(), p, callback(p))
		var e *ddoauth.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "exchange", e.Op)
		var ue *url.Error
		assert.ErrorAs(t, err, &ue)
	})
	t.Run("context canceled", func(t *testing.T) {
		t.Parallel()
		block := make(chan struct{})
		_, c := setup(t, func(w http.ResponseWriter, r *http.Request) { <-block })
		t.Cleanup(func() { close(block) })
		_, p, err := c.Start(ddoauth.Sites()[0])
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		go func() { time.Sleep(10 * time.Millisecond); cancel() }()
		_, err = c.Complete(ctx, p, callback(p))
		assert.ErrorIs(t, err, context.Canceled)
	})
}

func TestClientSecretFuncIsReadAtUse(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	secret := "secret-one-1234"
	ts, c := setup(t, jsonAnswer(200, okBody), func(cfg *ddoauth.Config) {
		cfg.ClientSecret = ""
		cfg.ClientSecretFunc = func(context.Context, ddoauth.Site) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			return secret, nil
		}
	})
	for _, want := range []string{"secret-one-1234", "secret-two-5678"} {
		mu.Lock()
		secret = want
		mu.Unlock()
		_, p, err := c.Start(ddoauth.Sites()[0])
		require.NoError(t, err)
		_, err = c.Complete(t.Context(), p, callback(p))
		require.NoError(t, err)
		reqs := ts.requests()
		assert.Equal(t, want, reqs[len(reqs)-1].Form.Get("client_secret"))
	}
}

func TestClientSecretFuncError(t *testing.T) {
	t.Parallel()
	vaultDown := errors.New("vault unavailable")
	ts, c := setup(t, jsonAnswer(200, okBody), func(cfg *ddoauth.Config) {
		cfg.ClientSecret = ""
		cfg.ClientSecretFunc = func(context.Context, ddoauth.Site) (string, error) { return "", vaultDown }
	})
	_, p, err := c.Start(ddoauth.Sites()[0])
	require.NoError(t, err)
	_, err = c.Complete(t.Context(), p, callback(p))
	assert.ErrorIs(t, err, vaultDown)
	assert.Empty(t, ts.requests())
}

func assertNoSecrets(t *testing.T, s string, extra ...string) {
	t.Helper()
	for _, secret := range append([]string{testSecret, "AT-abcdef123456", "RT-abcdef123456", "code-0123456789abcdef"}, extra...) {
		assert.NotContains(t, s, secret)
	}
}

// TestSecretsNeverFormatted prints every exported type that holds a secret,
// and every error and log line of a failed and a successful flow, with
// every verb.
func TestSecretsNeverFormatted(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&logMu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, c := setup(t, jsonAnswer(200, okBody), func(cfg *ddoauth.Config) { cfg.Logger = logger })
	_, p, err := c.Start(mustSite(t, "datadoghq.eu"))
	require.NoError(t, err)
	conn, err := c.Complete(t.Context(), p, callback(p))
	require.NoError(t, err)

	// An echoing server: its error description repeats what it was sent.
	_, failing := setup(t, func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		jsonAnswer(400, fmt.Sprintf(`{"error":"invalid_grant","error_description":"bad code %s verifier %s secret %s"}`,
			r.PostForm.Get("code"), r.PostForm.Get("code_verifier"), r.PostForm.Get("client_secret")))(w, r)
	}, func(cfg *ddoauth.Config) { cfg.Logger = logger })
	_, p2, err := failing.Start(mustSite(t, "datadoghq.eu"))
	require.NoError(t, err)
	_, exchangeErr := failing.Complete(t.Context(), p2, callback(p2))
	require.ErrorIs(t, exchangeErr, ddoauth.ErrInvalidGrant)

	cfg := ddoauth.Config{ClientID: testClientID, ClientSecret: testSecret, RedirectURL: testRedirect,
		SiteClients: map[string]ddoauth.ClientCredentials{"EU1": {ClientID: "eu1", ClientSecret: "eu1-secret-0123456789"}}}
	values := []any{p, *p, conn, *conn, c, cfg, &cfg, exchangeErr, conn.Site, cfg.SiteClients["EU1"]}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			assertNoSecrets(t, fmt.Sprintf(verb, v), p.Verifier, p2.Verifier, "eu1-secret-0123456789")
		}
	}
	assert.Contains(t, fmt.Sprintf("%+v", conn), "[redacted]")
	logMu.Lock()
	defer logMu.Unlock()
	require.NotEmpty(t, logs.String())
	assertNoSecrets(t, logs.String(), p.Verifier, p2.Verifier)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func TestCompleteNeverPanicsOnOddQueries(t *testing.T) {
	t.Parallel()
	ts, c := setup(t, jsonAnswer(200, okBody))
	_, p, err := c.Start(ddoauth.Sites()[0])
	require.NoError(t, err)
	for _, q := range []url.Values{
		nil,
		{},
		{"state": {}},
		{"state": {p.State}, "error": {}},
		{"state": {p.State}, "iss": {}, "code": {"c"}},
		{"state": {p.State}, "code": {}},
		{"state": {p.State}, "site": {}, "code": {"c"}},
		{"state": {p.State}, "domain": {"", ""}, "code": {"c"}},
	} {
		assert.NotPanics(t, func() {
			_, err := c.Complete(t.Context(), p, q)
			assert.Error(t, err)
		}, "%v", q)
	}
	assert.Empty(t, ts.requests())
}

func TestConnectionWithoutSiteSendsNothing(t *testing.T) {
	t.Parallel()
	ts, c := setup(t, jsonAnswer(200, okBody))
	conn := &ddoauth.Connection{Token: &oauth2.Token{AccessToken: "AT-abcdef123456", RefreshToken: "RT-abcdef123456"}}
	_, err := c.Refresh(t.Context(), conn)
	assert.ErrorIs(t, err, ddoauth.ErrUnknownSite)
	assert.ErrorIs(t, c.Revoke(t.Context(), conn), ddoauth.ErrUnknownSite)
	_, err = c.CreateAPIKey(t.Context(), conn)
	assert.ErrorIs(t, err, ddoauth.ErrUnknownSite)
	assert.Empty(t, ts.requests())
}

// TestSecretsNeverLoggedOrEchoed covers what fmt verbs do not: slog
// handlers, a dereferenced Client, and a server echoing the form encoded.
func TestSecretsNeverLoggedOrEchoed(t *testing.T) {
	t.Parallel()
	const slashy = "s3cr/t+val=ue"
	echo := func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		jsonAnswer(400, fmt.Sprintf(`{"error":"invalid_request","error_description":"got body %s and %q"}`,
			url.QueryEscape(string(body)), string(body)))(w, r)
	}
	ts, c := setup(t, echo, func(cfg *ddoauth.Config) { cfg.ClientSecret = slashy })
	_, p, err := c.Start(mustSite(t, "datadoghq.eu"))
	require.NoError(t, err)
	q := callback(p, "code", "co/de+abc=")
	_, exchangeErr := c.Complete(t.Context(), p, q)
	require.Error(t, exchangeErr)
	require.Len(t, ts.requests(), 1)

	conn := &ddoauth.Connection{Site: mustSite(t, "datadoghq.eu"),
		Token: &oauth2.Token{AccessToken: "AT-abcdef123456", RefreshToken: "RT-abcdef123456"}}
	key := ddoauth.APIKey{ID: "k1", Key: "0123456789abcdef0123456789abcdef", Last4: "cdef"}
	cfg := ddoauth.Config{ClientID: testClientID, ClientSecret: slashy, RedirectURL: testRedirect}
	secrets := []string{slashy, url.QueryEscape(slashy), "co/de+abc=", url.QueryEscape("co/de+abc="), p.Verifier, p.State,
		"AT-abcdef123456", "RT-abcdef123456", key.Key}

	var out bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&out, nil), slog.NewTextHandler(&out, nil)} {
		slog.New(h).Info("values", "pending", p, "conn", conn, "connValue", *conn, "key", key, "cfg", cfg, "err", exchangeErr)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		fmt.Fprintf(&out, verb, *c)
		fmt.Fprintf(&out, verb, exchangeErr)
	}
	assert.Contains(t, out.String(), "cdef", "last4 may be shown")
	for _, s := range secrets {
		assert.NotContains(t, out.String(), s)
	}
}

func TestErrorTextIsCleaned(t *testing.T) {
	t.Parallel()
	_, c := setup(t, jsonAnswer(200, okBody))
	_, p, err := c.Start(mustSite(t, "datadoghq.eu"))
	require.NoError(t, err)
	_, err = c.Complete(t.Context(), p, url.Values{"state": {p.State}, "error": {"access_denied"},
		"error_description": {"line1\nline2\x1b[31m\u2028 mentions redirect_uri"}})
	require.ErrorIs(t, err, ddoauth.ErrAccessDenied, "the code decides, not words in the description")
	assert.NotContains(t, err.Error(), "\n")
	assert.NotContains(t, err.Error(), "\x1b")
	assert.NotContains(t, err.Error(), "\u2028")
}

func TestCreateAPIKeyStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		want   error
	}{
		{http.StatusTemporaryRedirect, ddoauth.ErrServer},
		{http.StatusTooManyRequests, ddoauth.ErrServer},
		{http.StatusRequestTimeout, ddoauth.ErrServer},
		{http.StatusNotFound, ddoauth.ErrServer},
		{http.StatusBadGateway, ddoauth.ErrServer},
		{http.StatusUnauthorized, ddoauth.ErrForbidden},
		{http.StatusForbidden, ddoauth.ErrForbidden},
		{http.StatusBadRequest, ddoauth.ErrAPIKeyExists},
		{http.StatusConflict, ddoauth.ErrAPIKeyExists},
		{http.StatusUnprocessableEntity, ddoauth.ErrAPIKeyExists},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			ts, c := setup(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.status == http.StatusTemporaryRedirect {
					http.Redirect(w, r, "https://collector.evil.example/", tt.status)
					return
				}
				w.Header().Set("Retry-After", "3")
				jsonAnswer(tt.status, `{"errors":["nope"]}`)(w, r)
			})
			conn := &ddoauth.Connection{Site: mustSite(t, "us3.datadoghq.com"), Token: &oauth2.Token{AccessToken: "AT-abcdef123456"}}
			_, err := c.CreateAPIKey(t.Context(), conn)
			require.ErrorIs(t, err, tt.want)
			if tt.want != ddoauth.ErrAPIKeyExists {
				assert.NotErrorIs(t, err, ddoauth.ErrAPIKeyExists)
			}
			reqs := ts.requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, "api.us3.datadoghq.com", reqs[0].Host)
			assert.Equal(t, "Bearer AT-abcdef123456", reqs[0].Authorization)
		})
	}
}

func TestNetworkFailuresMatchErrNetwork(t *testing.T) {
	t.Parallel()
	_, c := setup(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		require.NoError(t, err)
		conn.Close()
	})
	_, p, err := c.Start(ddoauth.Sites()[0])
	require.NoError(t, err)
	_, err = c.Complete(t.Context(), p, callback(p))
	assert.ErrorIs(t, err, ddoauth.ErrNetwork)
	conn := &ddoauth.Connection{Site: ddoauth.Sites()[0], Token: &oauth2.Token{AccessToken: "AT-abcdef123456", RefreshToken: "RT-abcdef123456"}}
	_, err = c.Refresh(t.Context(), conn)
	assert.ErrorIs(t, err, ddoauth.ErrNetwork)
	_, err = c.CreateAPIKey(t.Context(), conn)
	assert.ErrorIs(t, err, ddoauth.ErrNetwork)
	err = c.Revoke(t.Context(), conn)
	assert.ErrorIs(t, err, ddoauth.ErrNetwork)
	assert.ErrorIs(t, err, ddoauth.ErrNotRevoked)

	_, c2 := setup(t, jsonAnswer(503, `{"error":"temporarily_unavailable"}`))
	_, err = c2.Refresh(t.Context(), conn)
	assert.ErrorIs(t, err, ddoauth.ErrServer)
	assert.NotErrorIs(t, err, ddoauth.ErrNetwork, "Datadog answered")
}
