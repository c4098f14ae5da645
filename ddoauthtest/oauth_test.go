package ddoauthtest_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// clock is a settable clock for Server.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestEverySiteEveryCallbackStyle(t *testing.T) {
	t.Parallel()
	require.Len(t, ddoauth.Sites(), 9)
	for _, s := range ddoauth.Sites() {
		t.Run(s.Name(), func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			for _, tc := range []struct {
				style      ddoauthtest.CallbackStyle
				domain     string
				siteOrigin string
			}{
				{ddoauthtest.CallbackDomain, s.Domain(), ""},
				{ddoauthtest.CallbackSite, "", "https://" + s.BrowserHost()},
				{ddoauthtest.CallbackBoth, s.Domain(), "https://" + s.BrowserHost()},
				{ddoauthtest.CallbackNone, "", ""},
			} {
				t.Run(tc.style.String(), func(t *testing.T) {
					srv.CallbackStyle = tc.style
					q := authorize(t, srv, s.BrowserHost(), c)
					assert.Equal(t, "st", q.Get("state"))
					assert.Equal(t, tc.domain, q.Get("domain"))
					assert.Equal(t, tc.siteOrigin, q.Get("site"))
					require.NotEmpty(t, q.Get("code"))

					r := postForm(t, srv.Client(), s.TokenURL(), codeForm(c, q.Get("code")))
					require.Equal(t, http.StatusOK, r.status, string(r.body))
					assert.Equal(t, "bearer", r.str("token_type"))
					assert.Equal(t, float64(3600), r.json["expires_in"])
					assert.Equal(t, "api_keys_write events_read", r.str("scope"))
					assert.NotEmpty(t, r.str("access_token"))
					assert.NotEmpty(t, r.str("refresh_token"))
					assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
				})
			}
			var sites []ddoauth.Site
			for _, req := range srv.Requests() {
				sites = append(sites, req.Site)
				assert.Equal(t, s.Domain(), req.Site.Domain(), req.Host)
			}
			assert.Len(t, sites, 8)
			assert.Equal(t, 4, srv.Count(ddoauthtest.EndpointToken))
		})
	}
}

func TestOrgSubdomains(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		siteName, host string
	}{
		{"US1", "acme.datadoghq.com"},
		{"US5", "acme.us5.datadoghq.com"},
		{"EU1", "acme.datadoghq.eu"},
		{"US1-FED", "acme.ddog-gov.com"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			srv.CallbackStyle = ddoauthtest.CallbackBoth
			s := site(t, tc.siteName)
			sub, err := ddoauth.ResolveSite(tc.host)
			require.NoError(t, err)
			acme := srv.AddOrg(ddoauthtest.Org{Name: "Acme", Site: sub})
			assert.Equal(t, "acme", acme.Subdomain)
			assert.Equal(t, tc.host, acme.BrowserHost())
			got, ok := srv.Org(acme.ID)
			require.True(t, ok)
			assert.Equal(t, acme, got)
			assert.Equal(t, s.BrowserHost(), srv.DefaultOrg(s).BrowserHost())
			_, ok = srv.Org("nope")
			assert.False(t, ok)

			q := authorize(t, srv, tc.host, c)
			assert.Equal(t, s.Domain(), q.Get("domain"))
			assert.Equal(t, "https://"+tc.host, q.Get("site"))
			r := postForm(t, srv.Client(), s.TokenURL(), codeForm(c, q.Get("code")))
			require.Equal(t, http.StatusOK, r.status)
			createKey(t, srv, s, r.str("access_token"))
			_, ok = srv.APIKey(acme.ID)
			assert.True(t, ok, "the key belongs to the subdomain's org")
			_, ok = srv.APIKey(srv.DefaultOrg(s).ID)
			assert.False(t, ok)
		})
	}

	t.Run("unknown subdomain", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		_, err := srv.Approve(context.Background(), authURL("nobody.datadoghq.com", c.ID, redirectURI, rfcChallenge, ""))
		var ae *ddoauthtest.AuthorizeError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, http.StatusNotFound, ae.StatusCode)
	})
	t.Run("no subdomain on API hosts", func(t *testing.T) {
		t.Parallel()
		srv, _ := setup(t)
		_, err := srv.Client().Get("https://api.acme.datadoghq.com/api/v1/validate")
		require.Error(t, err, "api.acme.datadoghq.com must fail TLS as it does at Datadog")
		assert.Contains(t, err.Error(), "certificate")
	})
}

func TestAuthorizeErrors(t *testing.T) {
	t.Parallel()
	const host = "app.datadoghq.com"
	tests := []struct {
		name string
		// edit changes the authorize query; client is the unpublished one
		// when unpublished is set.
		edit        func(q url.Values)
		unpublished bool
		sandbox     bool
		status      int // error page status; 302 for a redirect
		code, desc  string
	}{
		{name: "unknown client_id", edit: func(q url.Values) { q.Set("client_id", "nope") },
			status: 400, code: "invalid_request", desc: "Invalid client_id parameter value"},
		{name: "unpublished client, other org", unpublished: true,
			status: 400, code: "invalid_request", desc: "Invalid client_id parameter value"},
		{name: "unpublished client, sandbox org", unpublished: true, sandbox: true, status: 302},
		{name: "redirect URI with trailing slash", edit: func(q url.Values) { q.Set("redirect_uri", redirectURI+"/") },
			status: 400, code: "invalid_request", desc: "Mismatching redirect URI"},
		{name: "redirect URI missing", edit: func(q url.Values) { q.Del("redirect_uri") },
			status: 400, code: "invalid_request", desc: "Mismatching redirect URI"},
		{name: "no PKCE", edit: func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") },
			status: 302, code: "invalid_request", desc: "code_challenge is required"},
		{name: "plain PKCE", edit: func(q url.Values) { q.Set("code_challenge_method", "plain") },
			status: 302, code: "invalid_request", desc: "code_challenge_method must be S256"},
		{name: "malformed challenge", edit: func(q url.Values) { q.Set("code_challenge", "short") },
			status: 302, code: "invalid_request"},
		{name: "implicit flow", edit: func(q url.Values) { q.Set("response_type", "token") },
			status: 302, code: "unsupported_response_type"},
		{name: "scope not on client", edit: func(q url.Values) { q.Set("scope", "dashboards_write") },
			status: 302, code: "invalid_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			if tc.unpublished {
				sandbox := srv.AddOrg(ddoauthtest.Org{Name: "Partner sandbox", Site: site(t, "US1")})
				c = ddoauthtest.OAuthClient{ID: "test-client", Secret: "test-secret", RedirectURIs: []string{redirectURI},
					Scopes: []string{ddoauthtest.ScopeAPIKeysWrite}, SandboxOrg: sandbox.ID}
				srv.AddClient(c)
				if tc.sandbox {
					srv.SignIn(sandbox.ID)
				}
			}
			u, err := url.Parse(authURL(host, c.ID, redirectURI, rfcChallenge, "st"))
			require.NoError(t, err)
			q := u.Query()
			if tc.edit != nil {
				tc.edit(q)
			}
			u.RawQuery = q.Encode()

			r := do(t, browser(srv), mustGet(t, u.String()))
			require.Equal(t, tc.status, r.status, string(r.body))
			if tc.status == http.StatusFound {
				loc, err := url.Parse(r.header.Get("Location"))
				require.NoError(t, err)
				assert.True(t, strings.HasPrefix(loc.String(), redirectURI+"?"))
				assert.Equal(t, "st", loc.Query().Get("state"))
				assert.Equal(t, tc.code, loc.Query().Get("error"))
				if tc.desc != "" {
					assert.Equal(t, tc.desc, loc.Query().Get("error_description"))
				}
				return
			}
			assert.Empty(t, r.header.Get("Location"), "errors about the client or redirect URI never redirect")
			assert.Contains(t, string(r.body), tc.code+"</code> - <span id=\"error_description\">"+tc.desc)

			_, err = srv.Approve(context.Background(), u.String())
			var ae *ddoauthtest.AuthorizeError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tc.status, ae.StatusCode)
			assert.Equal(t, tc.code, ae.Code)
			assert.Equal(t, tc.desc, ae.Description)
		})
	}
}

func mustGet(t *testing.T, rawURL string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, rawURL, nil)
	require.NoError(t, err)
	return req
}

func TestConsentPage(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	srv.AutoConsent = false
	us5 := site(t, "US5")
	b := browser(srv)

	r := do(t, b, mustGet(t, authURL(us5.BrowserHost(), c.ID, redirectURI, rfcChallenge, "st")))
	require.Equal(t, http.StatusOK, r.status)
	page := string(r.body)
	assert.Contains(t, page, `<form method="post" action="authorize">`)
	assert.Contains(t, page, "Default US5")
	assert.Equal(t, "no-referrer", r.header.Get("Referrer-Policy"))
	// Browsers hold the form's redirect to form-action: the client's origin must be allowed.
	assert.Equal(t, "default-src 'none'; form-action 'self' https://partner.example", r.header.Get("Content-Security-Policy"))
	_, rest, ok := strings.Cut(page, `name="consent" value="`)
	require.True(t, ok)
	id, _, _ := strings.Cut(rest, `"`)

	consentURL := "https://" + us5.BrowserHost() + "/oauth2/v1/authorize"
	r = postForm(t, b, consentURL, url.Values{"consent": {id}, "decision": {"approve"}})
	require.Equal(t, http.StatusFound, r.status)
	loc, err := url.Parse(r.header.Get("Location"))
	require.NoError(t, err)
	assert.NotEmpty(t, loc.Query().Get("code"))
	assert.Equal(t, "st", loc.Query().Get("state"))
	assert.Equal(t, "us5.datadoghq.com", loc.Query().Get("domain"))

	r = postForm(t, b, consentURL, url.Values{"consent": {id}, "decision": {"approve"}})
	assert.Equal(t, http.StatusBadRequest, r.status, "a consent is answered once")

	t.Run("Deny", func(t *testing.T) {
		cb, err := srv.Deny(context.Background(), authURL(us5.BrowserHost(), c.ID, redirectURI, rfcChallenge, "st2"))
		require.NoError(t, err)
		assert.Equal(t, "access_denied", cb.Query().Get("error"))
		assert.Equal(t, "st2", cb.Query().Get("state"))
		assert.Empty(t, cb.Query().Get("code"))
	})
	t.Run("Approve", func(t *testing.T) {
		cb, err := srv.Approve(context.Background(), authURL(us5.BrowserHost(), c.ID, redirectURI, rfcChallenge, "st3"))
		require.NoError(t, err)
		assert.NotEmpty(t, cb.Query().Get("code"))
		r := postForm(t, srv.Client(), us5.TokenURL(), codeForm(c, cb.Query().Get("code")))
		assert.Equal(t, http.StatusOK, r.status)
	})
}

func TestUserOrgSelection(t *testing.T) {
	t.Parallel()
	us1, eu1, us5 := site(t, "US1"), site(t, "EU1"), site(t, "US5")

	t.Run("region picker on US1", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		req := mustGet(t, authURL(us1.BrowserHost(), c.ID, redirectURI, rfcChallenge, "st"))
		req.AddCookie(&http.Cookie{Name: ddoauthtest.OrgCookie, Value: srv.DefaultOrg(eu1).ID})
		r := do(t, browser(srv), req)
		require.Equal(t, http.StatusFound, r.status)
		loc, _ := url.Parse(r.header.Get("Location"))
		assert.Equal(t, "datadoghq.eu", loc.Query().Get("domain"))
		code := loc.Query().Get("code")

		r = postForm(t, srv.Client(), us1.TokenURL(), codeForm(c, code))
		assert.Equal(t, http.StatusBadRequest, r.status)
		r = postForm(t, srv.Client(), eu1.TokenURL(), codeForm(c, code))
		assert.Equal(t, http.StatusOK, r.status)
	})
	t.Run("another site's org does not count elsewhere", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		srv.SignIn(srv.DefaultOrg(eu1).ID)
		q := authorize(t, srv, us5.BrowserHost(), c)
		assert.Equal(t, "us5.datadoghq.com", q.Get("domain"))
	})
	t.Run("SignIn picks among a site's orgs", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		second := srv.AddOrg(ddoauthtest.Org{ID: "second", Site: us5})
		srv.SignIn(second.ID)
		q := authorize(t, srv, us5.BrowserHost(), c)
		r := postForm(t, srv.Client(), us5.TokenURL(), codeForm(c, q.Get("code")))
		createKey(t, srv, us5, r.str("access_token"))
		_, ok := srv.APIKey("second")
		assert.True(t, ok)
	})
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	us1, eu1 := site(t, "US1"), site(t, "EU1")
	tests := []struct {
		name string
		// send sends the token request to redeem code; it returns the answer.
		send       func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient, code string) result
		status     int
		err, desc  string
		codeIntact bool // the code still redeems at its site afterwards
	}{
		{name: "JSON body", status: 400, err: "invalid_request", desc: "Invalid code or code verifier", codeIntact: true,
			send: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient, code string) result {
				body := `{"grant_type":"authorization_code","client_id":"` + c.ID + `","client_secret":"` + c.Secret + `","code":"` + code + `"}`
				req, err := http.NewRequest(http.MethodPost, us1.TokenURL(), strings.NewReader(body))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/json")
				return do(t, srv.Client(), req)
			}},
		{name: "missing secret", status: 401, err: "invalid_client", codeIntact: true,
			send: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient, code string) result {
				f := codeForm(c, code)
				f.Del("client_secret")
				return postForm(t, srv.Client(), us1.TokenURL(), f)
			}},
		{name: "basic auth instead of body", status: 401, err: "invalid_client", codeIntact: true,
			send: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient, code string) result {
				f := codeForm(c, code)
				f.Del("client_secret")
				f.Del("client_id")
				req, err := http.NewRequest(http.MethodPost, us1.TokenURL(), strings.NewReader(f.Encode()))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(c.ID, c.Secret)
				return do(t, srv.Client(), req)
			}},
		{name: "wrong secret", status: 401, err: "invalid_client", codeIntact: true,
			send: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient, code string) result {
				f := codeForm(c, code)
				f.Set("client_secret", "wrong")
				return postForm(t, srv.Client(), us1.TokenURL(), f)
			}},
		{name: "code redeemed at another site", status: 400, err: "invalid_grant", desc: "Invalid code or code verifier", codeIntact: true,
			send: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient, code string) result {
				return postForm(t, srv.Client(), eu1.TokenURL(), codeForm(c, code))
			}},
		{name: "code of another client", status: 400, err: "invalid_grant", codeIntact: true,
			send: func(t *testing.T, srv *ddoauthtest.Server, _ ddoauthtest.OAuthClient, code string) result {
				other := srv.NewClient(redirectURI)
				return postForm(t, srv.Client(), us1.TokenURL(), codeForm(other, code))
			}},
		{name: "wrong verifier", status: 400, err: "invalid_grant", desc: "Invalid code or code verifier",
			send: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient, code string) result {
				f := codeForm(c, code)
				f.Set("code_verifier", strings.Repeat("a", 43))
				return postForm(t, srv.Client(), us1.TokenURL(), f)
			}},
		{name: "missing verifier", status: 400, err: "invalid_grant",
			send: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient, code string) result {
				f := codeForm(c, code)
				f.Del("code_verifier")
				return postForm(t, srv.Client(), us1.TokenURL(), f)
			}},
		{name: "redirect URI differs", status: 400, err: "invalid_grant", desc: "Mismatching redirect URI",
			send: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient, code string) result {
				f := codeForm(c, code)
				f.Set("redirect_uri", "https://partner.example/other")
				return postForm(t, srv.Client(), us1.TokenURL(), f)
			}},
		{name: "code reused", status: 400, err: "invalid_grant", desc: "Invalid code or code verifier",
			send: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient, code string) result {
				first := postForm(t, srv.Client(), us1.TokenURL(), codeForm(c, code))
				require.Equal(t, http.StatusOK, first.status)
				second := postForm(t, srv.Client(), us1.TokenURL(), codeForm(c, code))
				// RFC 6749 §4.1.2: the reuse revokes what the code issued.
				again := postForm(t, srv.Client(), us1.TokenURL(), refreshForm(c, first.str("refresh_token")))
				assert.Equal(t, http.StatusBadRequest, again.status)
				return second
			}},
		{name: "unknown grant type", status: 400, err: "unsupported_grant_type", codeIntact: true,
			send: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient, code string) result {
				f := codeForm(c, code)
				f.Set("grant_type", "password")
				return postForm(t, srv.Client(), us1.TokenURL(), f)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			code := authorize(t, srv, us1.BrowserHost(), c).Get("code")
			r := tc.send(t, srv, c, code)
			require.Equal(t, tc.status, r.status, string(r.body))
			assert.Equal(t, tc.err, r.str("error"))
			if tc.desc != "" {
				assert.Equal(t, tc.desc, r.str("error_description"))
			}
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
			after := postForm(t, srv.Client(), us1.TokenURL(), codeForm(c, code))
			if tc.codeIntact {
				assert.Equal(t, http.StatusOK, after.status, "the failed request must not consume the code")
			} else {
				assert.Equal(t, http.StatusBadRequest, after.status)
			}
		})
	}
}

func TestExpiredCode(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	clk := newClock()
	srv.Now = clk.Now
	us1 := site(t, "US1")
	code := authorize(t, srv, us1.BrowserHost(), c).Get("code")
	clk.Advance(5*time.Minute + time.Second)
	r := postForm(t, srv.Client(), us1.TokenURL(), codeForm(c, code))
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "invalid_grant", r.str("error"))

	srv.CodeTTL = time.Hour
	code = authorize(t, srv, us1.BrowserHost(), c).Get("code")
	clk.Advance(59 * time.Minute)
	r = postForm(t, srv.Client(), us1.TokenURL(), codeForm(c, code))
	assert.Equal(t, http.StatusOK, r.status)
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	eu1 := site(t, "EU1")

	t.Run("same refresh token by default", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		clk := newClock()
		srv.Now = clk.Now
		srv.AccessTokenTTL = 10 * time.Minute
		first := connect(t, srv, eu1, c)
		assert.Equal(t, float64(600), first.json["expires_in"])
		clk.Advance(24 * 365 * time.Hour) // refresh tokens do not expire
		r := postForm(t, srv.Client(), eu1.TokenURL(), refreshForm(c, first.str("refresh_token")))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		assert.Equal(t, first.str("refresh_token"), r.str("refresh_token"))
		assert.NotEqual(t, first.str("access_token"), r.str("access_token"))
		assert.Equal(t, "api_keys_write events_read", r.str("scope"))

		r = postForm(t, srv.Client(), site(t, "US1").TokenURL(), refreshForm(c, first.str("refresh_token")))
		assert.Equal(t, "invalid_grant", r.str("error"), "a refresh token is only known to its site")
	})
	t.Run("rotation retires the old token", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		srv.RotateRefreshTokens = true
		first := connect(t, srv, eu1, c)
		r := postForm(t, srv.Client(), eu1.TokenURL(), refreshForm(c, first.str("refresh_token")))
		require.Equal(t, http.StatusOK, r.status)
		rotated := r.str("refresh_token")
		assert.NotEqual(t, first.str("refresh_token"), rotated)

		r = postForm(t, srv.Client(), eu1.TokenURL(), refreshForm(c, first.str("refresh_token")))
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Equal(t, "invalid_grant", r.str("error"))
		r = postForm(t, srv.Client(), eu1.TokenURL(), refreshForm(c, rotated))
		assert.Equal(t, http.StatusOK, r.status)
	})
	t.Run("reuse of a rotated token revokes the grant", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		srv.RotateRefreshTokens = true
		srv.RevokeOnRefreshReuse = true
		first := connect(t, srv, eu1, c)
		r := postForm(t, srv.Client(), eu1.TokenURL(), refreshForm(c, first.str("refresh_token")))
		require.Equal(t, http.StatusOK, r.status)
		rotated, access := r.str("refresh_token"), r.str("access_token")
		require.Equal(t, http.StatusCreated, bearerPost(t, srv, eu1.APIKeyURL(), access).status, "positive control")

		r = postForm(t, srv.Client(), site(t, "US1").TokenURL(), refreshForm(c, first.str("refresh_token")))
		assert.Equal(t, "invalid_grant", r.str("error"))
		r = postForm(t, srv.Client(), eu1.TokenURL(), refreshForm(c, rotated))
		require.Equal(t, http.StatusOK, r.status, "a reuse at another site is not this grant's")
		rotated, access = r.str("refresh_token"), r.str("access_token")

		r = postForm(t, srv.Client(), eu1.TokenURL(), refreshForm(c, first.str("refresh_token")))
		assert.Equal(t, http.StatusBadRequest, r.status)
		assert.Equal(t, "invalid_grant", r.str("error"))
		r = postForm(t, srv.Client(), eu1.TokenURL(), refreshForm(c, rotated))
		assert.Equal(t, "invalid_grant", r.str("error"), "the current refresh token dies with its grant")
		assert.Equal(t, http.StatusForbidden, bearerPost(t, srv, eu1.APIKeyURL(), access).status,
			"so do its access tokens")
	})
	t.Run("reuse of a rotated token without reuse detection", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		srv.RotateRefreshTokens = true
		first := connect(t, srv, eu1, c)
		r := postForm(t, srv.Client(), eu1.TokenURL(), refreshForm(c, first.str("refresh_token")))
		require.Equal(t, http.StatusOK, r.status)
		rotated := r.str("refresh_token")
		r = postForm(t, srv.Client(), eu1.TokenURL(), refreshForm(c, first.str("refresh_token")))
		assert.Equal(t, "invalid_grant", r.str("error"))
		r = postForm(t, srv.Client(), eu1.TokenURL(), refreshForm(c, rotated))
		assert.Equal(t, http.StatusOK, r.status, "strict rotation alone keeps the grant")
	})
	t.Run("customer uninstalls", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		first := connect(t, srv, eu1, c)
		srv.RevokeTokens(srv.DefaultOrg(eu1).ID)
		r := postForm(t, srv.Client(), eu1.TokenURL(), refreshForm(c, first.str("refresh_token")))
		assert.Equal(t, "invalid_grant", r.str("error"))
		r = bearerPost(t, srv, eu1.APIKeyURL(), first.str("access_token"))
		assert.Equal(t, http.StatusForbidden, r.status)
	})
	t.Run("rotated client secret", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		first := connect(t, srv, eu1, c)
		newSecret := srv.RotateSecret(c.ID)
		r := postForm(t, srv.Client(), eu1.TokenURL(), refreshForm(c, first.str("refresh_token")))
		assert.Equal(t, http.StatusUnauthorized, r.status)
		c.Secret = newSecret
		r = postForm(t, srv.Client(), eu1.TokenURL(), refreshForm(c, first.str("refresh_token")))
		assert.Equal(t, http.StatusOK, r.status)
	})
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	ap1 := site(t, "AP1")
	revokeForm := func(c ddoauthtest.OAuthClient, token, hint string) url.Values {
		f := url.Values{"client_id": {c.ID}, "client_secret": {c.Secret}, "token": {token}}
		if hint != "" {
			f.Set("token_type_hint", hint)
		}
		return f
	}

	t.Run("refresh token revokes the grant", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		tok := connect(t, srv, ap1, c)
		r := postForm(t, srv.Client(), ap1.RevokeURL(), revokeForm(c, tok.str("refresh_token"), "refresh_token"))
		require.Equal(t, http.StatusOK, r.status)
		r = postForm(t, srv.Client(), ap1.TokenURL(), refreshForm(c, tok.str("refresh_token")))
		assert.Equal(t, "invalid_grant", r.str("error"))
		r = bearerPost(t, srv, ap1.APIKeyURL(), tok.str("access_token"))
		assert.Equal(t, http.StatusForbidden, r.status, "access tokens of a revoked grant die with it")
	})
	t.Run("access token alone", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		tok := connect(t, srv, ap1, c)
		r := postForm(t, srv.Client(), ap1.RevokeURL(), revokeForm(c, tok.str("access_token"), ""))
		require.Equal(t, http.StatusOK, r.status)
		r = bearerPost(t, srv, ap1.APIKeyURL(), tok.str("access_token"))
		assert.Equal(t, http.StatusForbidden, r.status)
		r = postForm(t, srv.Client(), ap1.TokenURL(), refreshForm(c, tok.str("refresh_token")))
		assert.Equal(t, http.StatusOK, r.status)
	})
	t.Run("unknown token", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		r := postForm(t, srv.Client(), ap1.RevokeURL(), revokeForm(c, "unknown", ""))
		assert.Equal(t, http.StatusOK, r.status)
	})
	t.Run("at another site", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		tok := connect(t, srv, ap1, c)
		r := postForm(t, srv.Client(), site(t, "AP2").RevokeURL(), revokeForm(c, tok.str("refresh_token"), ""))
		assert.Equal(t, http.StatusOK, r.status)
		r = postForm(t, srv.Client(), ap1.TokenURL(), refreshForm(c, tok.str("refresh_token")))
		assert.Equal(t, http.StatusOK, r.status, "AP2 does not know AP1's tokens")
	})
	t.Run("needs client credentials", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		f := revokeForm(c, "x", "")
		f.Del("client_secret")
		r := postForm(t, srv.Client(), ap1.RevokeURL(), f)
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assert.Equal(t, "invalid_client", r.str("error"))
	})
}

func TestSetupMisusePanics(t *testing.T) {
	t.Parallel()
	srv := ddoauthtest.NewUnstartedServer()
	us1 := site(t, "US1")
	for name, f := range map[string]func(){
		"client without secret":   func() { srv.AddClient(ddoauthtest.OAuthClient{ID: "x", RedirectURIs: []string{redirectURI}}) },
		"client without redirect": func() { srv.AddClient(ddoauthtest.OAuthClient{ID: "x", Secret: "y"}) },
		"org without site":        func() { srv.AddOrg(ddoauthtest.Org{ID: "x"}) },
		"duplicate org":           func() { srv.AddOrg(ddoauthtest.Org{ID: "us1-org", Site: us1}) },
		"region-like subdomain":   func() { srv.AddOrg(ddoauthtest.Org{Site: us1, Subdomain: "us3"}) },
		"reserved subdomain":      func() { srv.AddOrg(ddoauthtest.Org{Site: us1, Subdomain: "api"}) },
		"duplicate site":          func() { srv.AddSite(us1) },
		"unknown endpoint fault":  func() { srv.Fail("nope", ddoauthtest.Fault{}) },
		"Client before Start":     func() { srv.Client() },
		"SignIn unknown org":      func() { srv.SignIn("nope") },
		"DefaultOrg zero site":    func() { srv.DefaultOrg(ddoauth.Site{}) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				r := recover()
				require.NotNil(t, r)
				assert.True(t, strings.HasPrefix(r.(string), "ddoauthtest: "), r)
			}()
			f()
		})
	}
}

func TestCustomSite(t *testing.T) {
	t.Parallel()
	us7, err := ddoauth.NewSite("US7", "us7.datadoghq.com", "us7.datadoghq.com")
	require.NoError(t, err)
	srv, c := setup(t)
	srv.AddSite(us7)
	assert.Len(t, srv.Sites(), 10)
	tok := connect(t, srv, us7, c)
	key := createKey(t, srv, us7, tok.str("access_token"))
	r := send(t, srv, us7.APIURL()+"/api/v2/series", key, `{"series":[]}`)
	assert.Equal(t, http.StatusAccepted, r.status)
	assert.Len(t, srv.Received(us7), 1)
	assert.Empty(t, srv.Received(site(t, "US1")))
}
