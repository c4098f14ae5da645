package ddoauthtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth/ddoauthtest"
)

func TestFaults(t *testing.T) {
	t.Parallel()
	us1, eu1 := site(t, "US1"), site(t, "EU1")

	// token sends one refresh request through client; it returns the
	// answer or the transport error.
	token := func(t *testing.T, ctx context.Context, client *http.Client, rawURL string, c ddoauthtest.OAuthClient, refresh string) (*http.Response, []byte, error) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, strings.NewReader(refreshForm(c, refresh).Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}

	tests := []struct {
		name  string
		fault ddoauthtest.Fault
		check func(t *testing.T, resp *http.Response, body []byte, err error)
	}{
		{"status", ddoauthtest.Fault{Status: http.StatusServiceUnavailable},
			func(t *testing.T, resp *http.Response, body []byte, err error) {
				require.NoError(t, err)
				assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
				assert.JSONEq(t, `{"error":"temporarily_unavailable","error_description":"Service Unavailable"}`, string(body))
			}},
		{"status and body", ddoauthtest.Fault{Status: http.StatusBadGateway, Body: "<html>bad gateway</html>",
			Header: http.Header{"Content-Type": {"text/html"}}},
			func(t *testing.T, resp *http.Response, body []byte, err error) {
				require.NoError(t, err)
				assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
				assert.Equal(t, "text/html", resp.Header.Get("Content-Type"))
				assert.Equal(t, "<html>bad gateway</html>", string(body))
			}},
		{"429 with Retry-After", ddoauthtest.Fault{RetryAfter: 1500 * time.Millisecond},
			func(t *testing.T, resp *http.Response, _ []byte, err error) {
				require.NoError(t, err)
				assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
				assert.Equal(t, "2", resp.Header.Get("Retry-After"))
				assert.Equal(t, "2", resp.Header.Get("X-RateLimit-Reset"))
			}},
		{"429 with X-RateLimit-Reset", ddoauthtest.Fault{RateLimitReset: 90 * time.Second},
			func(t *testing.T, resp *http.Response, _ []byte, err error) {
				require.NoError(t, err)
				assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
				assert.Empty(t, resp.Header.Values("Retry-After"), "Datadog documents X-RateLimit-*, not Retry-After")
				assert.Equal(t, "100", resp.Header.Get("X-RateLimit-Limit"))
				assert.Equal(t, "90", resp.Header.Get("X-RateLimit-Period"))
				assert.Equal(t, "0", resp.Header.Get("X-RateLimit-Remaining"))
				assert.Equal(t, "90", resp.Header.Get("X-RateLimit-Reset"))
				assert.Equal(t, "token", resp.Header.Get("X-RateLimit-Name"))
			}},
		{"307 to another host", ddoauthtest.Fault{RedirectTo: "https://api.datadoghq.eu/oauth2/v1/token"},
			func(t *testing.T, resp *http.Response, _ []byte, err error) {
				require.NoError(t, err)
				assert.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)
				assert.Equal(t, "https://api.datadoghq.eu/oauth2/v1/token", resp.Header.Get("Location"))
			}},
		{"drop connection", ddoauthtest.Fault{DropConnection: true},
			func(t *testing.T, _ *http.Response, _ []byte, err error) {
				require.Error(t, err)
			}},
		{"malformed JSON", ddoauthtest.Fault{MalformedJSON: true},
			func(t *testing.T, resp *http.Response, body []byte, err error) {
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.False(t, json.Valid(body))
			}},
		{"oversized body", ddoauthtest.Fault{OversizedBody: true},
			func(t *testing.T, resp *http.Response, body []byte, err error) {
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Greater(t, len(body), 1<<20)
			}},
		{"delay, then normal", ddoauthtest.Fault{Delay: 20 * time.Millisecond, Header: http.Header{"X-Slow": {"1"}}},
			func(t *testing.T, resp *http.Response, _ []byte, err error) {
				require.NoError(t, err)
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, "1", resp.Header.Get("X-Slow"))
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, transport := range []string{"tls", "memory"} {
				t.Run(transport, func(t *testing.T) {
					srv, c := setup(t)
					refresh := connect(t, srv, us1, c).str("refresh_token")
					client := browser(srv)
					if transport == "memory" {
						client = &http.Client{Transport: srv.Transport(),
							CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
					}
					f := tc.fault
					f.Times = 2
					srv.Fail(ddoauthtest.EndpointToken, f)
					for range 2 {
						resp, body, err := token(t, context.Background(), client, us1.TokenURL(), c, refresh)
						tc.check(t, resp, body, err)
					}
					resp, _, err := token(t, context.Background(), client, us1.TokenURL(), c, refresh)
					require.NoError(t, err)
					assert.Equal(t, http.StatusOK, resp.StatusCode, "the fault is used up")

					var faulted int
					for _, r := range srv.Requests() {
						if r.Fault {
							faulted++
							assert.Equal(t, ddoauthtest.EndpointToken, r.Endpoint)
						}
					}
					assert.Equal(t, 2, faulted)
				})
			}
		})
	}

	t.Run("drop in memory", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		refresh := connect(t, srv, us1, c).str("refresh_token")
		srv.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{DropConnection: true})
		_, _, err := token(t, context.Background(), &http.Client{Transport: srv.Transport()}, us1.TokenURL(), c, refresh)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.Equal(t, 0, srv.Requests()[len(srv.Requests())-1].Status)
	})
	t.Run("delay respects the request context", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		refresh := connect(t, srv, us1, c).str("refresh_token")
		srv.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Delay: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, _, err := token(t, ctx, srv.Client(), us1.TokenURL(), c, refresh)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 30*time.Second)
	})
	t.Run("redirect followed by a careless client", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		refresh := connect(t, srv, us1, c).str("refresh_token")
		srv.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{RedirectTo: eu1.TokenURL()})
		_, _, err := token(t, context.Background(), srv.Client(), us1.TokenURL(), c, refresh)
		require.NoError(t, err)
		reqs := srv.Requests()
		last := reqs[len(reqs)-1]
		assert.Equal(t, "api.datadoghq.eu", last.Host, "net/http re-sent the secret to the redirect target")
		assert.Equal(t, ddoauthtest.Fingerprint(c.Secret), last.Form.Get("client_secret"))
	})
	t.Run("only at one site", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		srv.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Site: eu1, Status: 500})
		connect(t, srv, us1, c)
		q := authorize(t, srv, eu1.BrowserHost(), c)
		r := postForm(t, srv.Client(), eu1.TokenURL(), codeForm(c, q.Get("code")))
		assert.Equal(t, http.StatusInternalServerError, r.status)
		assert.Equal(t, "server_error", r.str("error"))
	})
	t.Run("response lost after the code was used", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		code := authorize(t, srv, us1.BrowserHost(), c).Get("code")
		srv.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{AfterProcessing: true, Status: 502})
		r := postForm(t, srv.Client(), us1.TokenURL(), codeForm(c, code))
		assert.Equal(t, http.StatusBadGateway, r.status)
		r = postForm(t, srv.Client(), us1.TokenURL(), codeForm(c, code))
		assert.Equal(t, "invalid_grant", r.str("error"), "the lost response consumed the code")
	})
	t.Run("forever until cleared", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		key := createKey(t, srv, us1, connect(t, srv, us1, c).str("access_token"))
		srv.Fail(ddoauthtest.EndpointSeries, ddoauthtest.Fault{Times: -1, Status: 500})
		for range 3 {
			r := send(t, srv, us1.APIURL()+"/api/v2/series", key, `{}`)
			assert.Equal(t, http.StatusInternalServerError, r.status)
			assert.JSONEq(t, `{"errors":["Internal Server Error"]}`, string(r.body))
		}
		srv.ClearFaults()
		assert.Equal(t, http.StatusAccepted, send(t, srv, us1.APIURL()+"/api/v2/series", key, `{}`).status)
	})
	t.Run("authorize error page", func(t *testing.T) {
		t.Parallel()
		srv, c := setup(t)
		srv.Fail(ddoauthtest.EndpointAuthorize, ddoauthtest.Fault{Status: 500})
		_, err := srv.Approve(context.Background(), authURL(us1.BrowserHost(), c.ID, redirectURI, rfcChallenge, ""))
		var ae *ddoauthtest.AuthorizeError
		require.True(t, errors.As(err, &ae))
		assert.Equal(t, 500, ae.StatusCode)
	})
}
