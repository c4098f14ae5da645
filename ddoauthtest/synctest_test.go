package ddoauthtest_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// TestSynctest runs the flow on the in-memory transport inside a
// testing/synctest bubble, where lifetimes pass without waiting.
func TestSynctest(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := ddoauthtest.NewUnstartedServer()
		defer srv.Close()
		c := srv.NewClient(redirectURI)
		hc := &http.Client{Transport: srv.Transport()}
		ap2 := site(t, "AP2")
		ctx := context.Background()
		post := func(rawURL string, form url.Values) result {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, strings.NewReader(form.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return do(t, hc, req)
		}
		approve := func() string {
			cb, err := srv.Approve(ctx, authURL(ap2.BrowserHost(), c.ID, redirectURI, rfcChallenge, "s"))
			require.NoError(t, err)
			return cb.Query().Get("code")
		}

		// A code lives five minutes.
		code := approve()
		time.Sleep(5*time.Minute + time.Second)
		assert.Equal(t, "invalid_grant", post(ap2.TokenURL(), codeForm(c, code)).str("error"))

		tok := post(ap2.TokenURL(), codeForm(c, approve()))
		require.Equal(t, http.StatusOK, tok.status)

		// An access token lives an hour.
		time.Sleep(time.Hour)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ap2.APIKeyURL(), nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok.str("access_token"))
		assert.Equal(t, http.StatusForbidden, do(t, hc, req).status)

		// A delay fault ends with the caller's context.
		srv.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Delay: time.Minute})
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err = http.NewRequestWithContext(tctx, http.MethodPost, ap2.TokenURL(),
			strings.NewReader(refreshForm(c, tok.str("refresh_token")).Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		start := time.Now()
		_, err = hc.Do(req)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 10*time.Second, time.Since(start))

		// Refresh tokens do not expire.
		time.Sleep(365 * 24 * time.Hour)
		assert.Equal(t, http.StatusOK, post(ap2.TokenURL(), refreshForm(c, tok.str("refresh_token"))).status)
	})
}
