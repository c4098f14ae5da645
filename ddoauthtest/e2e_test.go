package ddoauthtest_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// newClient returns a ddoauth.Client for c that talks to srv.
func newClient(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient) *ddoauth.Client {
	t.Helper()
	client, err := ddoauth.New(ddoauth.Config{
		ClientID:     c.ID,
		ClientSecret: c.Secret,
		RedirectURL:  c.RedirectURIs[0],
		HTTPClient:   srv.Client(),
	})
	require.NoError(t, err)
	return client
}

// complete runs Start, the browser's approval and Complete.
func complete(t *testing.T, srv *ddoauthtest.Server, client *ddoauth.Client, s ddoauth.Site) (*ddoauth.Connection, error) {
	t.Helper()
	authURL, pending, err := client.Start(s)
	require.NoError(t, err)
	cb, err := srv.Approve(context.Background(), authURL)
	require.NoError(t, err)
	return client.Complete(context.Background(), pending, cb.Query())
}

func TestClientEndToEnd(t *testing.T) {
	t.Parallel()
	styles := []ddoauthtest.CallbackStyle{ddoauthtest.CallbackDomain, ddoauthtest.CallbackSite, ddoauthtest.CallbackBoth, ddoauthtest.CallbackNone}
	for _, s := range ddoauth.Sites() {
		for _, style := range styles {
			t.Run(s.Name()+"/"+style.String(), func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				srv, c := setup(t)
				srv.CallbackStyle = style
				srv.RotateRefreshTokens = style == ddoauthtest.CallbackBoth
				client := newClient(t, srv, c)

				conn, err := complete(t, srv, client, s)
				require.NoError(t, err)
				assert.Equal(t, s.Domain(), conn.Site.Domain())
				assert.True(t, conn.HasScope(ddoauthtest.ScopeAPIKeysWrite))
				assert.Equal(t, 1, srv.Count(ddoauthtest.EndpointToken), "exactly one token POST per authorization")

				key, err := client.CreateAPIKey(ctx, conn)
				require.NoError(t, err)
				stored, ok := srv.APIKey(srv.DefaultOrg(s).ID)
				require.True(t, ok)
				assert.Equal(t, stored.Last4, key.Last4)

				r := send(t, srv, s.APIURL()+"/api/v2/series", key.Key, `{"series":[{"metric":"partner.up","points":[{"value":1}]}]}`)
				require.Equal(t, http.StatusAccepted, r.status)
				got := srv.Received(s)
				require.Len(t, got, 1)
				assert.Equal(t, srv.DefaultOrg(s).ID, got[0].OrgID)

				next, err := client.Refresh(ctx, conn)
				require.NoError(t, err)
				if srv.RotateRefreshTokens {
					_, err = client.Refresh(ctx, conn)
					require.ErrorIs(t, err, ddoauth.ErrInvalidGrant, "the rotated-away refresh token is dead")
				}
				require.NoError(t, client.Revoke(ctx, next))
				_, err = client.Refresh(ctx, next)
				assert.ErrorIs(t, err, ddoauth.ErrInvalidGrant)

				for _, req := range srv.Requests() {
					assert.Equal(t, s.Domain(), req.Site.Domain(), "every request stays in %s: %s", s.Name(), req.Host)
				}
			})
		}
	}
}

func TestClientOrgSubdomain(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	srv.CallbackStyle = ddoauthtest.CallbackSite
	sub, err := ddoauth.ResolveSite("acme.us5.datadoghq.com")
	require.NoError(t, err)
	acme := srv.AddOrg(ddoauthtest.Org{Name: "Acme", Site: sub})
	client := newClient(t, srv, c)
	conn, err := complete(t, srv, client, sub)
	require.NoError(t, err)
	assert.Equal(t, "us5.datadoghq.com", conn.Site.String())
	_, err = client.CreateAPIKey(context.Background(), conn)
	require.NoError(t, err)
	_, ok := srv.APIKey(acme.ID)
	assert.True(t, ok)
	assert.Equal(t, "acme.us5.datadoghq.com", srv.Requests()[0].Host)
	assert.Equal(t, "api.us5.datadoghq.com", srv.Requests()[1].Host)
}

func TestClientMisuse(t *testing.T) {
	t.Parallel()
	us1, eu1 := site(t, "US1"), site(t, "EU1")
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient) error
		want error
		// tokenPOSTs is how many token requests the client may make.
		tokenPOSTs int
	}{
		{name: "wrong client secret", want: ddoauth.ErrInvalidClient, tokenPOSTs: 1,
			run: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient) error {
				c.Secret = "stale"
				_, err := complete(t, srv, newClient(t, srv, c), us1)
				return err
			}},
		{name: "verifier lost", want: ddoauth.ErrInvalidGrant, tokenPOSTs: 1,
			run: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient) error {
				client := newClient(t, srv, c)
				authURL, pending, err := client.Start(us1)
				require.NoError(t, err)
				cb, err := srv.Approve(ctx, authURL)
				require.NoError(t, err)
				pending.Verifier = ddoauth.NewVerifier()
				_, err = client.Complete(ctx, pending, cb.Query())
				return err
			}},
		{name: "code reused", want: ddoauth.ErrInvalidGrant, tokenPOSTs: 2,
			run: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient) error {
				client := newClient(t, srv, c)
				authURL, pending, err := client.Start(us1)
				require.NoError(t, err)
				cb, err := srv.Approve(ctx, authURL)
				require.NoError(t, err)
				_, err = client.Complete(ctx, pending, cb.Query())
				require.NoError(t, err)
				_, err = client.Complete(ctx, pending, cb.Query())
				return err
			}},
		{name: "callback from another site", want: ddoauth.ErrSiteMismatch, tokenPOSTs: 0,
			run: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient) error {
				client := newClient(t, srv, c)
				_, pending, err := client.Start(us1)
				require.NoError(t, err)
				euURL, _, err := client.Start(eu1)
				require.NoError(t, err)
				cb, err := srv.Approve(ctx, euURL)
				require.NoError(t, err)
				q := cb.Query()
				q.Set("state", pending.State)
				_, err = client.Complete(ctx, pending, q)
				return err
			}},
		{name: "expired code", want: ddoauth.ErrInvalidGrant, tokenPOSTs: 1,
			run: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient) error {
				clk := newClock()
				srv.Now = clk.Now
				client := newClient(t, srv, c)
				authURL, pending, err := client.Start(us1)
				require.NoError(t, err)
				cb, err := srv.Approve(ctx, authURL)
				require.NoError(t, err)
				clk.Advance(6 * time.Minute)
				_, err = client.Complete(ctx, pending, cb.Query())
				return err
			}},
		{name: "user denies", want: ddoauth.ErrAccessDenied, tokenPOSTs: 0,
			run: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient) error {
				srv.AutoConsent = false
				client := newClient(t, srv, c)
				authURL, pending, err := client.Start(us1)
				require.NoError(t, err)
				cb, err := srv.Deny(ctx, authURL)
				require.NoError(t, err)
				_, err = client.Complete(ctx, pending, cb.Query())
				return err
			}},
		{name: "API key without scope", want: ddoauth.ErrForbidden, tokenPOSTs: 1,
			run: func(t *testing.T, srv *ddoauthtest.Server, _ ddoauthtest.OAuthClient) error {
				client := newClient(t, srv, srv.NewClient(redirectURI, ddoauthtest.ScopeEventsRead))
				conn, err := complete(t, srv, client, us1)
				require.NoError(t, err)
				_, err = client.CreateAPIKey(ctx, conn)
				return err
			}},
		{name: "second API key", want: ddoauth.ErrAPIKeyExists, tokenPOSTs: 1,
			run: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient) error {
				client := newClient(t, srv, c)
				conn, err := complete(t, srv, client, us1)
				require.NoError(t, err)
				_, err = client.CreateAPIKey(ctx, conn)
				require.NoError(t, err)
				_, err = client.CreateAPIKey(ctx, conn)
				return err
			}},
		{name: "token endpoint redirects", want: ddoauth.ErrServer, tokenPOSTs: 1,
			run: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient) error {
				srv.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{RedirectTo: eu1.TokenURL()})
				_, err := complete(t, srv, newClient(t, srv, c), us1)
				return err
			}},
		{name: "token endpoint down", want: ddoauth.ErrServer, tokenPOSTs: 1,
			run: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient) error {
				srv.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Status: http.StatusServiceUnavailable})
				_, err := complete(t, srv, newClient(t, srv, c), us1)
				return err
			}},
		{name: "customer uninstalled", want: ddoauth.ErrInvalidGrant, tokenPOSTs: 2,
			run: func(t *testing.T, srv *ddoauthtest.Server, c ddoauthtest.OAuthClient) error {
				client := newClient(t, srv, c)
				conn, err := complete(t, srv, client, us1)
				require.NoError(t, err)
				srv.RevokeTokens(srv.DefaultOrg(us1).ID)
				_, err = client.Refresh(ctx, conn)
				return err
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			err := tc.run(t, srv, c)
			require.ErrorIs(t, err, tc.want)
			var e *ddoauth.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.tokenPOSTs, srv.Count(ddoauthtest.EndpointToken))
			assert.NotContains(t, err.Error(), c.Secret)
		})
	}
}

// The authorize-page errors never reach the partner's callback: the user
// sees them. A test checks them on the URL the client built.
func TestClientAuthorizeURLErrors(t *testing.T) {
	t.Parallel()
	srv, c := setup(t)
	sandbox := srv.AddOrg(ddoauthtest.Org{Name: "Sandbox", Site: site(t, "US1")})
	unpublished := ddoauthtest.OAuthClient{ID: "private", Secret: "s", RedirectURIs: []string{redirectURI}, SandboxOrg: sandbox.ID}
	srv.AddClient(unpublished)
	for _, tc := range []struct {
		name     string
		clientID string
		redirect string
		desc     string
	}{
		{"unknown client", "nope", redirectURI, "Invalid client_id parameter value"},
		{"unpublished client", unpublished.ID, redirectURI, "Invalid client_id parameter value"},
		{"redirect mismatch", c.ID, "https://partner.example/other", "Mismatching redirect URI"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := newClient(t, srv, ddoauthtest.OAuthClient{ID: tc.clientID, Secret: "x", RedirectURIs: []string{tc.redirect}})
			authURL, _, err := client.Start(site(t, "US1"))
			require.NoError(t, err)
			_, err = srv.Approve(context.Background(), authURL)
			var ae *ddoauthtest.AuthorizeError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, "invalid_request", ae.Code)
			assert.Equal(t, tc.desc, ae.Description)
		})
	}
}

// x/oauth2's default AuthStyleAutoDetect tries HTTP Basic first: Datadog
// refuses it, and a strict server has used up the code by the retry.
func TestAutoDetectAuthStyle(t *testing.T) {
	t.Parallel()
	us1 := site(t, "US1")
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			srv.ConsumeCodeOnAuthFailure = strict
			cfg := &oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: redirectURI,
				Endpoint: oauth2.Endpoint{AuthURL: us1.AuthorizeURL(), TokenURL: us1.TokenURL()}}
			cb, err := srv.Approve(context.Background(), cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(rfcVerifier)))
			require.NoError(t, err)
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
			_, err = cfg.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(rfcVerifier))
			assert.Equal(t, 2, srv.Count(ddoauthtest.EndpointToken), "Basic first, then the body")
			if strict {
				var re *oauth2.RetrieveError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, "invalid_grant", re.ErrorCode)
			} else {
				require.NoError(t, err)
			}
		})
	}
}
