package ddoauth_test

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
)

// maxErrorLen bounds Error(): one line for a log, the hint and Datadog's
// full description stay on the value.
const maxErrorLen = 160

// longDescription is longer than any description Error() shows.
var longDescription = "The request could not be completed: " + strings.Repeat("the server gave a long reason; ", 10)

// TestErrorIsOneShortLine drives every kind of failure through real HTTP
// and checks that Error() is one short line that leaves the hint out,
// while the hint stays on the value.
func TestErrorIsOneShortLine(t *testing.T) {
	t.Parallel()
	site := mustSite(t, "acme-corporation-europe.datadoghq.eu")
	conn := &ddoauth.Connection{Site: mustSite(t, "us2.ddog-gov.com"),
		Token: &oauth2.Token{AccessToken: "AT-abcdef123456", RefreshToken: "RT-abcdef123456"}}
	body := func(code string) string {
		return `{"error":"` + code + `","error_description":"` + longDescription + `"}`
	}
	exchange := func(t *testing.T, c *ddoauth.Client, kv ...string) error {
		_, p, err := c.Start(site)
		require.NoError(t, err)
		_, err = c.Complete(t.Context(), p, callback(p, kv...))
		return err
	}
	tests := []struct {
		name    string
		respond http.HandlerFunc
		run     func(t *testing.T, c *ddoauth.Client) error
		want    error
		hint    bool
	}{
		{"config", nil, func(t *testing.T, _ *ddoauth.Client) error {
			_, err := ddoauth.New(ddoauth.Config{ClientID: "id", ClientSecret: "s", RedirectURL: "http://partner.example/" + strings.Repeat("x", 300)})
			return err
		}, ddoauth.ErrInvalidConfig, false},
		{"unknown site", nil, func(t *testing.T, c *ddoauth.Client) error {
			_, err := c.ResolveSite("https://" + strings.Repeat("a", 60) + ".datadoghq.evil.example/" + strings.Repeat("p", 200))
			return err
		}, ddoauth.ErrUnknownSite, false},
		{"state mismatch", nil, func(t *testing.T, c *ddoauth.Client) error {
			return exchange(t, c, "state", "other")
		}, ddoauth.ErrStateMismatch, true},
		{"site mismatch", nil, func(t *testing.T, c *ddoauth.Client) error {
			return exchange(t, c, "site", "us2.ddog-gov.com")
		}, ddoauth.ErrSiteMismatch, true},
		{"callback error", nil, func(t *testing.T, c *ddoauth.Client) error {
			return exchange(t, c, "error", "invalid_scope", "error_description", longDescription)
		}, ddoauth.ErrAuthorization, false},
		{"invalid client", jsonAnswer(400, `{"error":"invalid_request","error_description":"Invalid client_id parameter value `+strings.Repeat("x", 250)+`"}`), func(t *testing.T, c *ddoauth.Client) error {
			return exchange(t, c)
		}, ddoauth.ErrInvalidClient, true},
		{"redirect URI", jsonAnswer(400, `{"error":"invalid_request","error_description":"Mismatching redirect URI `+strings.Repeat("x", 250)+`"}`),
			func(t *testing.T, c *ddoauth.Client) error { return exchange(t, c) }, ddoauth.ErrInvalidClient, true},
		{"code verifier", jsonAnswer(400, `{"error":"invalid_request","error_description":"Invalid code or code verifier `+strings.Repeat("x", 250)+`"}`),
			func(t *testing.T, c *ddoauth.Client) error { return exchange(t, c) }, ddoauth.ErrInvalidGrant, true},
		{"forbidden", jsonAnswer(403, `{"errors":["`+longDescription+`"]}`), func(t *testing.T, c *ddoauth.Client) error {
			return exchange(t, c)
		}, ddoauth.ErrForbidden, true},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://collector.evil.example/"+strings.Repeat("x", 300), http.StatusTemporaryRedirect)
		}, func(t *testing.T, c *ddoauth.Client) error { return exchange(t, c) }, ddoauth.ErrServer, true},
		{"HTML", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			w.Write([]byte("<html>" + strings.Repeat("bad gateway ", 100) + "</html>"))
		}, func(t *testing.T, c *ddoauth.Client) error { return exchange(t, c) }, ddoauth.ErrServer, false},
		{"network", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			conn.Close()
		}, func(t *testing.T, c *ddoauth.Client) error { return exchange(t, c) }, ddoauth.ErrNetwork, false},
		{"refresh revoked", jsonAnswer(400, body("invalid_grant")), func(t *testing.T, c *ddoauth.Client) error {
			_, err := c.Refresh(t.Context(), conn)
			return err
		}, ddoauth.ErrInvalidGrant, true},
		{"refresh rate limited", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.Header().Set("X-Request-Id", strings.Repeat("r", 64))
			jsonAnswer(429, body("temporarily_unavailable"))(w, r)
		}, func(t *testing.T, c *ddoauth.Client) error {
			_, err := c.Refresh(t.Context(), conn)
			return err
		}, ddoauth.ErrServer, false},
		{"revoke", jsonAnswer(503, body("temporarily_unavailable")), func(t *testing.T, c *ddoauth.Client) error {
			return c.Revoke(t.Context(), conn)
		}, ddoauth.ErrNotRevoked, true},
		{"revoke network", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			conn.Close()
		}, func(t *testing.T, c *ddoauth.Client) error { return c.Revoke(t.Context(), conn) }, ddoauth.ErrNotRevoked, true},
		{"API key forbidden", jsonAnswer(403, `{"errors":["`+longDescription+`"]}`), func(t *testing.T, c *ddoauth.Client) error {
			_, err := c.CreateAPIKey(t.Context(), conn)
			return err
		}, ddoauth.ErrForbidden, true},
		{"API key exists", jsonAnswer(409, `{"errors":["`+longDescription+`"]}`), func(t *testing.T, c *ddoauth.Client) error {
			_, err := c.CreateAPIKey(t.Context(), conn)
			return err
		}, ddoauth.ErrAPIKeyExists, true},
		{"timeout", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, func(t *testing.T, c *ddoauth.Client) error {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			_, err := c.Refresh(ctx, conn)
			return err
		}, context.DeadlineExceeded, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			respond := tt.respond
			if respond == nil {
				respond = jsonAnswer(200, okBody)
			}
			_, c := setup(t, respond, func(cfg *ddoauth.Config) {
				cfg.RedirectURL = testRedirect + "/" + strings.Repeat("r", 100)
			})
			err := tt.run(t, c)
			require.Error(t, err)
			msg := err.Error()
			t.Logf("%d bytes: %s", len(msg), msg)
			require.ErrorIs(t, err, tt.want)
			assert.LessOrEqual(t, len(msg), maxErrorLen)
			assert.NotContains(t, msg, "\n")
			e, ok := errors.AsType[*ddoauth.Error](err)
			require.True(t, ok)
			assert.True(t, strings.HasPrefix(msg, "ddoauth: "+e.Op))
			if tt.hint {
				assert.NotEmpty(t, e.Hint, "the hint stays on the value")
			}
			if e.Hint != "" {
				assert.NotContains(t, msg, e.Hint)
			}
		})
	}
}

// TestFailurePageShowsHint checks that the hint Error() leaves out still
// reaches the user on the handlers' failure page.
func TestFailurePageShowsHint(t *testing.T) {
	t.Parallel()
	p := newPartner(t, partnerOpts{})
	b := p.browser()
	cb := p.onboard(t, b, url.Values{"domain": {"datadoghq.eu"}})
	p.dd.RotateSecret(p.oc.ID)
	a := get(t, b, cb.String())
	assert.Equal(t, http.StatusInternalServerError, a.status)
	e, ok := errors.AsType[*ddoauth.Error](p.lastErr())
	require.True(t, ok)
	require.ErrorIs(t, e, ddoauth.ErrInvalidClient)
	require.NotEmpty(t, e.Hint)
	assert.NotContains(t, e.Error(), e.Hint)
	assert.Contains(t, a.body, html.EscapeString(e.Hint[1:]))
}

// TestCallbackErrorHints checks that an error= callback gets the hint of
// what its description names, and the client ID of its site.
func TestCallbackErrorHints(t *testing.T) {
	t.Parallel()
	_, c := setup(t, jsonAnswer(200, okBody), func(cfg *ddoauth.Config) {
		cfg.SiteClients = map[string]ddoauth.ClientCredentials{"EU1": {ClientID: "eu1-client", ClientSecret: "eu1-secret-0123456789"}}
	})
	tests := []struct {
		desc    string
		want    error
		hintHas string
	}{
		{"Mismatching redirect URI", ddoauth.ErrInvalidClient, testRedirect},
		{"Invalid client_id parameter value", ddoauth.ErrInvalidClient, `"eu1-client"`},
	}
	for _, tt := range tests {
		_, p, err := c.Start(mustSite(t, "datadoghq.eu"))
		require.NoError(t, err)
		_, err = c.Complete(t.Context(), p, url.Values{"state": {p.State}, "error": {"invalid_request"}, "error_description": {tt.desc}})
		require.ErrorIs(t, err, tt.want)
		e, ok := errors.AsType[*ddoauth.Error](err)
		require.True(t, ok)
		assert.Contains(t, e.Hint, tt.hintHas, tt.desc)
	}
}
