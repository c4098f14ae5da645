package ddoauth_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
)

// stopped is b without following redirects: a test sees where the
// partner sends the browser.
func stopped(b *http.Client) *http.Client {
	s := *b
	s.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &s
}

var euLink = url.Values{"domain": {"datadoghq.eu"}}

// newPartnerWith is a partner whose handlers redirect to the URLs
// successURL and failureURL return, which may name the partner's own
// origin.
func newPartnerWith(t *testing.T, successURL, failureURL func(*partner) string) *partner {
	t.Helper()
	return newPartner(t, partnerOpts{consent: true, config: func(p *partner, cfg *ddoauth.HandlerConfig) {
		cfg.SuccessURL, cfg.FailureURL = successURL(p), failureURL(p)
	}})
}

func path(s string) func(*partner) string { return func(*partner) string { return s } }

func TestHandlersSuccessURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		url  func(*partner) string
	}{
		{"path", path("/settings/datadog?connected=1")},
		{"redirect URL's origin", func(p *partner) string { return p.srv.URL + "/settings/datadog" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPartnerWith(t, tc.url, path(""))
			b := p.browser()
			cb, err := p.dd.Approve(context.Background(), p.authorizeURL(t, b, euLink))
			require.NoError(t, err)
			a := get(t, stopped(b), cb.String())
			require.Equal(t, http.StatusSeeOther, a.status, a.body)
			assert.Equal(t, tc.url(p), a.header.Get("Location"))
			assert.Equal(t, "no-referrer", a.header.Get("Referrer-Policy"), "the callback URL holds the code")
			assert.Equal(t, "no-store", a.header.Get("Cache-Control"))
			require.Len(t, p.connections(), 1)
			assert.Empty(t, p.pending(b), "the callback clears its cookie")
			assert.NoError(t, p.lastErr())
		})
	}
}

func TestHandlersFailureURL(t *testing.T) {
	t.Parallel()
	const failure = "/settings/datadog?failed=1"
	p := newPartnerWith(t, path("/ok"), path(failure))

	// Declined in Datadog.
	b := p.browser()
	cb, err := p.dd.Deny(context.Background(), p.authorizeURL(t, b, euLink))
	require.NoError(t, err)
	a := get(t, stopped(b), cb.String())
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	assert.Equal(t, failure, a.header.Get("Location"))
	assert.Equal(t, "no-referrer", a.header.Get("Referrer-Policy"))
	require.ErrorIs(t, p.lastErr(), ddoauth.ErrAccessDenied, "OnError still hears of it")
	assert.Empty(t, p.pending(b), "the callback clears its cookie")

	// Onboarding without a session: back to the partner's app.
	a = get(t, stopped(p.anonymous()), p.srv.URL+onboardingPath+"?"+euLink.Encode())
	require.Equal(t, http.StatusSeeOther, a.status, a.body)
	assert.Equal(t, failure, a.header.Get("Location"))
	require.ErrorIs(t, p.lastErr(), ddoauth.ErrNoSession)
	assert.Empty(t, p.connections())
}

// TestHandlersOnSuccessOnFailure lets the partner answer with its own
// pages, given the connection or the typed error.
func TestHandlersOnSuccessOnFailure(t *testing.T) {
	t.Parallel()
	var failed []error
	p := newPartner(t, partnerOpts{consent: true, config: func(p *partner, cfg *ddoauth.HandlerConfig) {
		cfg.OnSuccess = func(w http.ResponseWriter, _ *http.Request, conn *ddoauth.Connection) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, "<p>partner page: %s %s</p>", html.EscapeString(conn.OrgName), conn.Site.Name())
		}
		cfg.OnFailure = func(w http.ResponseWriter, _ *http.Request, err error) {
			p.mu.Lock()
			failed = append(failed, err)
			p.mu.Unlock()
			status := http.StatusBadRequest
			if errors.Is(err, ddoauth.ErrAccessDenied) {
				status = http.StatusForbidden
			}
			w.WriteHeader(status)
			fmt.Fprint(w, "partner failure page")
		}
	}})
	b := p.browser()
	cb, err := p.dd.Approve(context.Background(), p.authorizeURL(t, b, euLink))
	require.NoError(t, err)
	a := get(t, b, cb.String())
	require.Equal(t, http.StatusOK, a.status, a.body)
	assert.Equal(t, "<p>partner page: Default EU1 EU1</p>", a.body)
	assert.Empty(t, a.header.Get("Content-Security-Policy"), "the partner's page sets its own")
	assert.Equal(t, "no-store", a.header.Get("Cache-Control"))
	assert.Equal(t, "no-referrer", a.header.Get("Referrer-Policy"))
	require.Len(t, p.connections(), 1)

	cb, err = p.dd.Deny(context.Background(), p.authorizeURL(t, b, euLink))
	require.NoError(t, err)
	a = get(t, b, cb.String())
	assert.Equal(t, http.StatusForbidden, a.status)
	assert.Equal(t, "partner failure page", a.body)
	assert.Empty(t, a.header.Get("Content-Security-Policy"))
	assert.Equal(t, "no-referrer", a.header.Get("Referrer-Policy"))

	a = get(t, b, p.srv.URL+onboardingPath+"?domain=datadoghq.eu&site=datadoghq.com")
	assert.Equal(t, http.StatusBadRequest, a.status)
	assert.Equal(t, "partner failure page", a.body)

	p.mu.Lock()
	defer p.mu.Unlock()
	require.Len(t, failed, 2)
	require.ErrorIs(t, failed[0], ddoauth.ErrAccessDenied)
	require.ErrorIs(t, failed[1], ddoauth.ErrSiteMismatch)
	var e *ddoauth.Error
	require.ErrorAs(t, failed[1], &e)
	assert.Equal(t, "onboarding", e.Op)
	assert.Equal(t, failed[1], p.errs[len(p.errs)-1], "OnError got the same error")
}

// TestHandlersReturnURLs checks that SuccessURL and FailureURL can only
// send the user to a path or to the redirect URL's own origin.
func TestHandlersReturnURLs(t *testing.T) {
	t.Parallel()
	client, err := ddoauth.New(ddoauth.Config{ClientID: "id", ClientSecret: "secret", RedirectURL: "https://partner.example/oauth/datadog/callback"})
	require.NoError(t, err)
	with := func(field, u string) ddoauth.HandlerConfig {
		cfg := ddoauth.HandlerConfig{CookieKeys: [][]byte{randomKey()}, Session: session,
			OnConnect: func(*http.Request, *ddoauth.Connection) error { return nil }}
		if field == "SuccessURL" {
			cfg.SuccessURL = u
		} else {
			cfg.FailureURL = u
		}
		return cfg
	}
	for _, field := range []string{"SuccessURL", "FailureURL"} {
		for _, ok := range []string{
			"", "/", "/settings/datadog", "/settings/datadog?connected=1#top", "/%2F%2Fevil.example",
			"https://partner.example/settings", "HTTPS://Partner.Example/settings", "https://partner.example",
		} {
			_, err := client.Handlers(with(field, ok))
			assert.NoError(t, err, "%s %q", field, ok)
		}
		for _, bad := range []string{
			"//evil.example/x",  // scheme-relative: another host
			"///evil.example/x", // browsers read it as //evil.example
			`/\evil.example`,    // browsers read \ as /
			`\\evil.example`,
			"https://evil.example/",
			"https://partner.example.evil.example/",
			"https://evil.example/?https://partner.example",
			"http://partner.example/settings", // another scheme
			"https://partner.example:8443/x",  // another port
			"https://user@partner.example/x",  // userinfo
			"https://partner.example@evil.example/",
			"https:partner.example", // opaque
			"javascript:alert(1)",
			"data:text/html,<script>alert(1)</script>",
			"settings/datadog", // relative to the callback's path
			"evil.example",
			"?x=1",
			" /settings",
			"/settings\n/x",
			"/settings\t",
		} {
			_, err := client.Handlers(with(field, bad))
			assert.ErrorIs(t, err, ddoauth.ErrInvalidConfig, "%s %q", field, bad)
		}
	}
	for name, edit := range map[string]func(*ddoauth.HandlerConfig){
		"SuccessURL and OnSuccess": func(c *ddoauth.HandlerConfig) {
			c.SuccessURL, c.OnSuccess = "/ok", func(http.ResponseWriter, *http.Request, *ddoauth.Connection) {}
		},
		"FailureURL and OnFailure": func(c *ddoauth.HandlerConfig) {
			c.FailureURL, c.OnFailure = "/failed", func(http.ResponseWriter, *http.Request, error) {}
		},
	} {
		cfg := with("", "")
		edit(&cfg)
		_, err := client.Handlers(cfg)
		assert.ErrorIs(t, err, ddoauth.ErrInvalidConfig, name)
	}
}
