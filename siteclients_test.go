package ddoauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// TestSiteClients connects an organization in US1 and one in EU1 with a
// client registered at each, and checks in the emulator's log that every
// request to a site's hosts carried that site's client ID and secret, and
// never the other's.
func TestSiteClients(t *testing.T) {
	t.Parallel()
	us1, eu1 := ddoauth.Sites()[0], ddoauth.Sites()[3]
	scopes := []string{ddoauthtest.ScopeAPIKeysWrite, ddoauthtest.ScopeEventsRead}
	us := ddoauthtest.OAuthClient{ID: "us1-client", Secret: "ddtest_us1-secret-0123456789", RedirectURIs: []string{testRedirect},
		Scopes: scopes, Published: true, Sites: []ddoauth.Site{us1}}
	eu := ddoauthtest.OAuthClient{ID: "eu1-client", Secret: "ddtest_eu1-secret-9876543210", RedirectURIs: []string{testRedirect},
		Scopes: scopes, Published: true, Sites: []ddoauth.Site{eu1}}
	clients := map[string]ddoauthtest.OAuthClient{us1.Domain(): us, eu1.Domain(): eu}

	var mu sync.Mutex
	var asked []string
	tests := []struct {
		name string
		mod  func(*ddoauth.Config)
	}{
		{"secrets in the config", func(cfg *ddoauth.Config) {
			cfg.ClientSecret = us.Secret
			cfg.SiteClients = map[string]ddoauth.ClientCredentials{"EU1": {ClientID: eu.ID, ClientSecret: eu.Secret}}
		}},
		{"secret function", func(cfg *ddoauth.Config) {
			cfg.ClientSecretFunc = func(_ context.Context, site ddoauth.Site) (string, error) {
				mu.Lock()
				asked = append(asked, site.Name())
				mu.Unlock()
				return clients[site.Domain()].Secret, nil
			}
			cfg.SiteClients = map[string]ddoauth.ClientCredentials{"datadoghq.eu": {ClientID: eu.ID}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dd := ddoauthtest.NewUnstartedServer()
			dd.AddClient(us)
			dd.AddClient(eu)
			cfg := ddoauth.Config{ClientID: us.ID, RedirectURL: testRedirect, HTTPClient: &http.Client{Transport: dd.Transport()}}
			tt.mod(&cfg)
			c, err := ddoauth.New(cfg)
			require.NoError(t, err)
			for _, site := range []ddoauth.Site{us1, eu1} {
				authURL, p, err := c.Start(site)
				require.NoError(t, err)
				u, err := url.Parse(authURL)
				require.NoError(t, err)
				assert.Equal(t, clients[site.Domain()].ID, u.Query().Get("client_id"))
				cb, err := dd.Approve(t.Context(), authURL)
				require.NoError(t, err)
				conn, err := c.Complete(t.Context(), p, cb.Query())
				require.NoError(t, err)
				conn, err = c.Refresh(t.Context(), conn)
				require.NoError(t, err)
				_, err = c.CreateAPIKey(t.Context(), conn)
				require.NoError(t, err)
				require.NoError(t, c.Revoke(t.Context(), conn))
			}
			sent := map[string]int{}
			for _, r := range dd.Requests() {
				want := clients[r.Site.Domain()]
				if id := r.Form["client_id"]; id != nil {
					assert.Equal(t, []string{want.ID}, id, "%s %s", r.Host, r.Path)
				}
				if secret := r.Form["client_secret"]; secret != nil {
					assert.Equal(t, []string{ddoauthtest.Fingerprint(want.Secret)}, secret, "%s %s", r.Host, r.Path)
					sent[fmt.Sprint(r.Site.Name(), " ", r.Endpoint)]++
				}
			}
			// The exchange, the refresh, and the refresh and access tokens' revocations.
			assert.Equal(t, map[string]int{"US1 token": 2, "US1 revoke": 2, "EU1 token": 2, "EU1 revoke": 2}, sent)
		})
	}
	assert.ElementsMatch(t, []string{"US1", "US1", "US1", "EU1", "EU1", "EU1"}, asked, "ClientSecretFunc learns the site")

	t.Run("one client for every site fails at the other", func(t *testing.T) {
		dd := ddoauthtest.NewUnstartedServer()
		dd.AddClient(us)
		dd.AddClient(eu)
		c, err := ddoauth.New(ddoauth.Config{ClientID: us.ID, ClientSecret: us.Secret, RedirectURL: testRedirect,
			HTTPClient: &http.Client{Transport: dd.Transport()}})
		require.NoError(t, err)
		authURL, _, err := c.Start(eu1)
		require.NoError(t, err)
		_, err = dd.Approve(t.Context(), authURL)
		assert.Error(t, err, "the EU1 Developer Platform does not know the US1 client")
	})
}
