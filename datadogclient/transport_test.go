package datadogclient_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/datadogclient"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// TestTransportAPIKeyHosts sends a log with an API key through the
// Transport alone: the site's intake gets it, any other target fails with
// an error that does not hold the key, and nothing is sent.
func TestTransportAPIKeyHosts(t *testing.T) {
	t.Parallel()
	dd := ddoauthtest.NewServer()
	t.Cleanup(dd.Close)
	hc := &http.Client{Transport: &datadogclient.Transport{Base: dd.Client().Transport}}
	const secret = "0123456789abcdef-key-secret"
	for _, site := range ddoauth.Sites() {
		t.Run(site.Name(), func(t *testing.T) {
			t.Parallel()
			ctx := datadogclient.IntakeContext(t.Context(), &ddoauth.APIKey{Key: secret, Site: site})
			send := func(url, host string) (*http.Response, error) {
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`[{"message":"x"}]`))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/json")
				req.Host = host
				return hc.Do(req)
			}
			d := site.Domain()
			for _, tc := range []struct{ url, host string }{
				{"https://collector.attacker.example/api/v2/logs", ""},
				{"http://http-intake.logs." + d + "/api/v2/logs", ""},
				{"https://http-intake.logs." + d + ":8443/api/v2/logs", ""},
				{"https://http-intake.logs." + d + "/api/v2/logs", "collector.attacker.example"},
				{"https://user@http-intake.logs." + d + "/api/v2/logs", ""},
				{"https://http-intake.logs." + d + ".attacker.example/api/v2/logs", ""},
			} {
				_, err := send(tc.url, tc.host)
				require.ErrorIs(t, err, ddoauth.ErrForeignHost, tc.url)
				var de *ddoauth.Error
				require.ErrorAs(t, err, &de, tc.url)
				for _, verb := range []string{"%v", "%+v", "%#v"} {
					assert.NotContains(t, fmt.Sprintf(verb, err), secret)
				}
			}
			for _, r := range dd.Requests() {
				assert.NotEqual(t, site.Domain(), r.Site.Domain(), "nothing was sent: %s", r.Host)
			}

			// Positive control: the intake receives the key (and refuses it,
			// as no organization issued it).
			resp, err := send("https://http-intake.logs."+d+":443/api/v2/logs", "")
			require.NoError(t, err)
			resp.Body.Close()
			var got []ddoauthtest.Request
			for _, r := range dd.Requests() {
				if r.Site.Domain() == d {
					got = append(got, r)
				}
			}
			require.Len(t, got, 1)
			assert.Equal(t, "http-intake.logs."+d, got[0].Host)
			assert.Equal(t, []string{ddoauthtest.Fingerprint(secret)}, got[0].Header["Dd-Api-Key"])
		})
	}
}

// TestTransportWithoutConnection sends a request whose context names no
// connection as it is.
func TestTransportWithoutConnection(t *testing.T) {
	t.Parallel()
	dd := ddoauthtest.NewServer()
	t.Cleanup(dd.Close)
	hc := &http.Client{Transport: &datadogclient.Transport{Base: dd.Client().Transport}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://api.datadoghq.com/api/v1/validate", nil)
	require.NoError(t, err)
	req.Header.Set("DD-API-KEY", "partner-own-key")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	reqs := dd.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, []string{ddoauthtest.Fingerprint("partner-own-key")}, reqs[0].Header["Dd-Api-Key"])
}
