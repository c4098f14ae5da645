package ddoauth_test

import (
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// TestRefreshHonoursRateLimitReset checks that a refresh Datadog rate
// limits waits until X-RateLimit-Reset, or Retry-After if that is longer,
// and fails at once when the reset comes after RefreshTimeout (one
// minute), with the figures on the error.
func TestRefreshHonoursRateLimitReset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     ddoauthtest.Fault
		wantPOSTs int
		wantWait  time.Duration
	}{
		{"reset", ddoauthtest.Fault{RateLimitReset: 7 * time.Second}, 2, 7 * time.Second},
		{"reset longer than a backoff", ddoauthtest.Fault{RateLimitReset: 45 * time.Second}, 2, 45 * time.Second},
		{"reset twice", ddoauthtest.Fault{Times: 2, RateLimitReset: 5 * time.Second}, 3, 10 * time.Second},
		{"Retry-After shorter than the reset", ddoauthtest.Fault{RetryAfter: 3 * time.Second, RateLimitReset: 8 * time.Second}, 2, 8 * time.Second},
		{"Retry-After longer than the reset", ddoauthtest.Fault{RetryAfter: 9 * time.Second, RateLimitReset: 4 * time.Second}, 2, 9 * time.Second},
		{"reset after the deadline", ddoauthtest.Fault{RateLimitReset: 2 * time.Minute}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				dd, c, store := inMemory(t, ddoauth.Sites()[3])
				time.Sleep(2 * time.Hour)
				dd.Fail(ddoauthtest.EndpointToken, tt.fault)
				start := time.Now()
				_, err := c.TokenSource(store, "tenant-1").TokenContext(t.Context())
				assert.Equal(t, tt.wantWait, time.Since(start))
				assert.Equal(t, tt.wantPOSTs, dd.Count(ddoauthtest.EndpointToken))
				if tt.wantWait > 0 {
					require.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, ddoauth.ErrServer)
				e, ok := errors.AsType[*ddoauth.Error](err)
				require.True(t, ok)
				assert.Equal(t, http.StatusTooManyRequests, e.StatusCode)
				assert.Equal(t, &ddoauth.RateLimit{Name: "token", Limit: 100, Period: 2 * time.Minute, Remaining: 0,
					Reset: 2 * time.Minute}, e.RateLimit)
			})
		})
	}
}

// TestRateLimitFigures reads the X-RateLimit-* headers of answers into
// Error.RateLimit, whatever the status, and leaves it nil without them.
func TestRateLimitFigures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		header http.Header
		want   *ddoauth.RateLimit
	}{
		{"none", 503, nil, nil},
		{"all", 429, http.Header{"X-Ratelimit-Limit": {"12"}, "X-Ratelimit-Period": {"10"}, "X-Ratelimit-Remaining": {"0"},
			"X-Ratelimit-Reset": {"4"}, "X-Ratelimit-Name": {"oauth_token"}},
			&ddoauth.RateLimit{Name: "oauth_token", Limit: 12, Period: 10 * time.Second, Reset: 4 * time.Second}},
		{"on another error", 400, http.Header{"X-Ratelimit-Limit": {"12"}, "X-Ratelimit-Remaining": {"7"}},
			&ddoauth.RateLimit{Limit: 12, Remaining: 7}},
		{"not numbers", 429, http.Header{"X-Ratelimit-Reset": {"soon"}, "X-Ratelimit-Limit": {"-1"}}, nil},
		{"huge", 429, http.Header{"X-Ratelimit-Reset": {"99999999999"}}, &ddoauth.RateLimit{Reset: 24 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, c := setup(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header()[k] = v
				}
				jsonAnswer(tt.status, `{"error":"invalid_request"}`)(w, r)
			})
			conn := &ddoauth.Connection{Site: ddoauth.Sites()[0], Token: &oauth2.Token{AccessToken: "AT-abcdef123456", RefreshToken: "RT-abcdef123456"}}
			_, err := c.Refresh(t.Context(), conn)
			e, ok := errors.AsType[*ddoauth.Error](err)
			require.True(t, ok)
			assert.Equal(t, tt.want, e.RateLimit)
		})
	}
}
