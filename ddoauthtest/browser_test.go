package ddoauthtest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth/ddoauthtest"
)

func TestBrowser(t *testing.T) {
	t.Parallel()
	for _, started := range []bool{true, false} {
		t.Run(map[bool]string{true: "started", false: "in memory"}[started], func(t *testing.T) {
			t.Parallel()
			srv := ddoauthtest.NewUnstartedServer()
			if started {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			srv.AutoConsent = true

			// The partner: its callback sets a cookie, which the jar keeps.
			var callback url.Values
			partner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				callback = r.URL.Query()
				http.SetCookie(w, &http.Cookie{Name: "seen", Value: "1"})
			}))
			t.Cleanup(partner.Close)
			oc := srv.NewClient(partner.URL + "/cb")

			b := srv.Browser(nil)
			resp, err := b.Get(authURL("app.datadoghq.eu", oc.ID, partner.URL+"/cb", rfcChallenge, "st"))
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body) //nolint:errcheck
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "st", callback.Get("state"), "followed Datadog's redirect to the partner")
			assert.NotEmpty(t, callback.Get("code"))
			u, _ := url.Parse(partner.URL)
			assert.Len(t, b.Jar.Cookies(u), 1)
			assert.Equal(t, 1, srv.Count(ddoauthtest.EndpointAuthorize))
		})
	}
}
