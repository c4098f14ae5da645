package ddoauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// inMemory authorizes one organization on an emulator reached through its
// in-memory transport, so that a testing/synctest bubble owns every
// goroutine and timer, and saves the connection under "tenant-1".
func inMemory(t *testing.T, site ddoauth.Site) (*ddoauthtest.Server, *ddoauth.Client, *ddoauth.MemoryStore) {
	t.Helper()
	dd := ddoauthtest.NewUnstartedServer()
	c, store := authorizeAndStore(t, dd, site, &http.Client{Transport: dd.Transport()}, nil)
	return dd, c, store
}

func TestTokenSourceRetriesWhatIsSafe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     ddoauthtest.Fault
		wantPOSTs int
		wantErr   error
		minWait   time.Duration
	}{
		{"429 with Retry-After", ddoauthtest.Fault{Times: 2, Status: 429, RetryAfter: 3 * time.Second}, 3, nil, 6 * time.Second},
		{"503", ddoauthtest.Fault{Times: 1, Status: 503}, 2, nil, 0},
		{"HTML 502", ddoauthtest.Fault{Times: 1, Status: 502, Body: "<html>bad gateway</html>"}, 2, nil, 0},
		{"connection dropped", ddoauthtest.Fault{Times: 2, DropConnection: true}, 3, nil, 0},
		{"503 every time", ddoauthtest.Fault{Times: -1, Status: 503}, 4, ddoauth.ErrServer, 0},
		{"Retry-After beyond the policy", ddoauthtest.Fault{Times: 1, Status: 429, RetryAfter: time.Hour}, 1, ddoauth.ErrServer, 0},
		{"400 is not retried", ddoauthtest.Fault{Times: 1, Status: 400, Body: `{"error":"invalid_request"}`}, 1, ddoauth.ErrAuthorization, 0},
		{"401 is not retried", ddoauthtest.Fault{Times: 1, Status: 401, Body: `{"error":"invalid_client"}`}, 1, ddoauth.ErrInvalidClient, 0},
		{"malformed JSON is not retried", ddoauthtest.Fault{Times: 1, MalformedJSON: true}, 1, ddoauth.ErrServer, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				dd, c, store := inMemory(t, ddoauth.Sites()[3])
				time.Sleep(2 * time.Hour)
				dd.Fail(ddoauthtest.EndpointToken, tt.fault)
				start := time.Now()
				tok, err := c.TokenSource(store, "tenant-1").TokenContext(t.Context())
				assert.Equal(t, tt.wantPOSTs, dd.Count(ddoauthtest.EndpointToken))
				assert.GreaterOrEqual(t, time.Since(start), tt.minWait)
				if tt.wantErr != nil {
					require.ErrorIs(t, err, tt.wantErr)
					assert.NotErrorIs(t, err, ddoauth.ErrRevoked)
					return
				}
				require.NoError(t, err)
				saved, err := store.Load(t.Context(), "tenant-1")
				require.NoError(t, err)
				assert.Equal(t, tok.AccessToken, saved.Token.AccessToken)
			})
		})
	}
}

func TestTokenSourceRotationOldRefreshTokenDead(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dd, c, store := inMemory(t, ddoauth.Sites()[7])
		dd.RotateRefreshTokens = true
		old, err := store.Load(t.Context(), "tenant-1")
		require.NoError(t, err)
		time.Sleep(2 * time.Hour)
		_, err = c.TokenSource(store, "tenant-1").TokenContext(t.Context())
		require.NoError(t, err)
		// Someone holding the old copy finds it dead; the store has the live one.
		_, err = c.Refresh(t.Context(), old)
		require.ErrorIs(t, err, ddoauth.ErrInvalidGrant)
		time.Sleep(2 * time.Hour)
		_, err = c.TokenSource(store, "tenant-1").TokenContext(t.Context())
		require.NoError(t, err)
	})
}

func TestTokenSourceGrantRevokedMidStream(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dd, c, store := inMemory(t, ddoauth.Sites()[1])
		ts := c.TokenSource(store, "tenant-1")
		_, err := ts.TokenContext(t.Context())
		require.NoError(t, err)
		dd.RevokeTokens(dd.DefaultOrg(ddoauth.Sites()[1]).ID) // the customer uninstalls
		time.Sleep(2 * time.Hour)
		_, err = ts.TokenContext(t.Context())
		require.ErrorIs(t, err, ddoauth.ErrRevoked)
		require.ErrorIs(t, err, ddoauth.ErrInvalidGrant)
		_, err = ts.TokenContext(t.Context())
		require.ErrorIs(t, err, ddoauth.ErrRevoked)
		assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointToken))
	})
}

// TestRefreshResponseShapes covers token answers the emulator does not
// produce.
func TestRefreshResponseShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body  string
		wantRefresh string
		wantTTL     time.Duration
	}{
		{"no refresh_token keeps the old one", `{"access_token":"AT-new","expires_in":600,"token_type":"bearer"}`, "RT-abcdef123456", 10 * time.Minute},
		{"a rotated refresh_token replaces it", `{"access_token":"AT-new","refresh_token":"RT-rotated","expires_in":600,"token_type":"bearer"}`, "RT-rotated", 10 * time.Minute},
		{"expires_in as a string", `{"access_token":"AT-new","expires_in":"1200","token_type":"bearer"}`, "RT-abcdef123456", 20 * time.Minute},
		{"no expires_in assumes Datadog's hour", `{"access_token":"AT-new","token_type":"bearer"}`, "RT-abcdef123456", time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
			ts, c := setup(t, jsonAnswer(200, tt.body), func(cfg *ddoauth.Config) { cfg.Now = func() time.Time { return now } })
			conn := &ddoauth.Connection{Site: mustSite(t, "us5.datadoghq.com"), Scopes: []string{"metrics_read"},
				Token: &oauth2.Token{AccessToken: "AT-abcdef123456", RefreshToken: "RT-abcdef123456"}}
			next, err := c.Refresh(t.Context(), conn)
			require.NoError(t, err)
			assert.Equal(t, "AT-new", next.Token.AccessToken)
			assert.Equal(t, tt.wantRefresh, next.Token.RefreshToken)
			assert.Equal(t, now.Add(tt.wantTTL), next.Token.Expiry)
			assert.Equal(t, []string{"metrics_read"}, next.Scopes, "scopes kept when the answer has none")
			r := ts.requests()[0]
			assert.Equal(t, "api.us5.datadoghq.com", r.Host)
			assert.Equal(t, "refresh_token", r.Form.Get("grant_type"))
			assert.Equal(t, "RT-abcdef123456", r.Form.Get("refresh_token"))
			assert.Equal(t, testSecret, r.Form.Get("client_secret"))
		})
	}
}

func TestRevokeUnavailableMeansStillValid(t *testing.T) {
	t.Parallel()
	dd, c, store, _ := connected(t, ddoauth.Sites()[8])
	conn, err := store.Load(t.Context(), "tenant-1")
	require.NoError(t, err)
	dd.Fail(ddoauthtest.EndpointRevoke, ddoauthtest.Fault{Status: 503})
	err = c.Revoke(t.Context(), conn)
	require.ErrorIs(t, err, ddoauth.ErrNotRevoked)
	require.ErrorIs(t, err, ddoauth.ErrServer)
	_, err = c.Refresh(t.Context(), conn)
	require.NoError(t, err, "the grant is still valid")

	require.NoError(t, c.Revoke(t.Context(), conn))
	_, err = c.Refresh(t.Context(), conn)
	require.ErrorIs(t, err, ddoauth.ErrInvalidGrant)
}

func TestTransportSetsBearerAndRetriesOnceOn401(t *testing.T) {
	t.Parallel()
	dd, c, store, _ := connected(t, ddoauth.Sites()[3])
	ts := c.TokenSource(store, "tenant-1")
	stored, err := store.Load(t.Context(), "tenant-1")
	require.NoError(t, err)

	var seen []string
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		seen = append(seen, r.Header.Get("Authorization")+" "+string(body))
		status := http.StatusOK
		if len(seen) == 1 {
			status = http.StatusUnauthorized // Datadog revoked this access token early
		}
		return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}, Request: r}, nil
	})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "https://api.datadoghq.eu/api/v2/series", strings.NewReader(`{"series":[]}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := ts.Client(base).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, seen, 2)
	assert.Equal(t, "Bearer "+stored.Token.AccessToken+` {"series":[]}`, seen[0])
	assert.NotEqual(t, seen[0], seen[1])
	assert.True(t, strings.HasSuffix(seen[1], ` {"series":[]}`), "the body is sent again")
	assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointToken), "one forced refresh")
	assert.Empty(t, req.Header.Get("Authorization"), "the caller's request is not changed")
}

func TestTransportGivesUpAfterOneRetry(t *testing.T) {
	t.Parallel()
	dd, c, store, _ := connected(t, ddoauth.Sites()[0])
	calls := 0
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls++
		return &http.Response{StatusCode: http.StatusUnauthorized, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}, Request: r}, nil
	})
	resp, err := c.TokenSource(store, "tenant-1").Client(base).Get("https://api.datadoghq.com/api/v1/validate")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, 2, calls)
	assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointToken))
}

func TestTransportRevokedConnection(t *testing.T) {
	t.Parallel()
	_, c, store, clk := connected(t, ddoauth.Sites()[0])
	conn, err := store.Load(t.Context(), "tenant-1")
	require.NoError(t, err)
	require.NoError(t, c.Revoke(t.Context(), conn))
	clk.Advance(2 * time.Hour)
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		t.Error("no request may be sent without a token")
		return nil, context.Canceled
	})
	_, err = c.TokenSource(store, "tenant-1").Client(base).Get("https://api.datadoghq.com/api/v1/validate")
	assert.ErrorIs(t, err, ddoauth.ErrRevoked)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// rawStore answers Load with a fixed connection or error.
type rawStore struct {
	conn    *ddoauth.Connection
	loadErr error
}

func (s rawStore) Load(context.Context, string) (*ddoauth.Connection, error) {
	return s.conn, s.loadErr
}
func (s rawStore) Save(context.Context, string, *ddoauth.Connection) error { return nil }
func (s rawStore) Delete(context.Context, string, int64) error             { return nil }

func TestTokenSourceBadStoredConnections(t *testing.T) {
	t.Parallel()
	errDB := errors.New("database unreachable")
	expired := time.Now().Add(-time.Hour)
	tests := []struct {
		name  string
		store rawStore
		want  error
	}{
		{"load fails", rawStore{loadErr: errDB}, errDB},
		{"no token", rawStore{conn: &ddoauth.Connection{Site: ddoauth.Sites()[0]}}, ddoauth.ErrCorruptConnection},
		{"no refresh token", rawStore{conn: &ddoauth.Connection{Site: ddoauth.Sites()[0],
			Token: &oauth2.Token{AccessToken: "AT-old", Expiry: expired}}}, ddoauth.ErrCorruptConnection},
		{"no site", rawStore{conn: &ddoauth.Connection{
			Token: &oauth2.Token{AccessToken: "AT-old", RefreshToken: "RT-x", Expiry: expired}}}, ddoauth.ErrCorruptConnection},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, c := setup(t, jsonAnswer(200, okBody))
			_, err := c.TokenSource(tt.store, "tenant-1").TokenContext(t.Context())
			require.ErrorIs(t, err, tt.want)
			assert.NotErrorIs(t, err, ddoauth.ErrRevoked)
			assert.Empty(t, ts.requests())
		})
	}
	t.Run("corrupt JSON", func(t *testing.T) {
		t.Parallel()
		var conn ddoauth.Connection
		err := json.Unmarshal([]byte(`{"site":"datadoghq.com.evil.example","token":{"access_token":"x"}}`), &conn)
		require.NoError(t, err, "an unknown site decodes unresolved")
		ts, c := setup(t, jsonAnswer(200, okBody))
		conn.Token.RefreshToken = "RT-x"
		_, err = c.TokenSource(rawStore{conn: &conn}, "tenant-1").TokenContext(t.Context())
		require.ErrorIs(t, err, ddoauth.ErrUnknownSite)
		assert.Empty(t, ts.requests())
		assert.Error(t, json.Unmarshal([]byte(`{"site":"https://evil/..","token":{}}`), &conn))
	})
}

func TestTokenSourceTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dd, c, store := inMemory(t, ddoauth.Sites()[2])
		time.Sleep(2 * time.Hour)
		dd.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Times: -1, Delay: 10 * time.Minute})
		start := time.Now()
		_, err := c.TokenSource(store, "tenant-1").TokenContext(t.Context())
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 30*time.Second, time.Since(start), "a refresh is bounded, first by RequestTimeout")
		assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointToken), "a timeout is not retried")
	})
}

// TestTransportRefreshesOnDatadogsForbidden uses the emulator's real 403
// for an expired token: Datadog's clock is ahead of the partner's.
func TestTransportRefreshesOnDatadogsForbidden(t *testing.T) {
	t.Parallel()
	dd, c, store, clk := connected(t, ddoauth.Sites()[3])
	ddNow := newClock()
	dd.Now = ddNow.Now
	clk.Advance(57 * time.Minute)   // here: three minutes left
	ddNow.Advance(61 * time.Minute) // at Datadog: expired
	hc := c.TokenSource(store, "tenant-1").Client(dd.Client().Transport)
	from := time.Now().Add(-time.Hour).Unix()
	resp, err := hc.Get(fmt.Sprintf("https://api.datadoghq.eu/api/v1/events?start=%d&end=%d", from, from+7200))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 1, dd.Count(ddoauthtest.EndpointToken))
	var statuses []int
	for _, r := range dd.Requests() {
		if r.Endpoint == ddoauthtest.EndpointEvents && r.Method == http.MethodGet {
			statuses = append(statuses, r.Status)
		}
	}
	assert.Equal(t, []int{http.StatusForbidden, http.StatusOK}, statuses)
}

func TestTransportLeavesMissingScopeAlone(t *testing.T) {
	t.Parallel()
	dd, c, store, _ := connected(t, ddoauth.Sites()[0])
	calls := 0
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls++
		return &http.Response{StatusCode: http.StatusForbidden, Body: io.NopCloser(strings.NewReader(`{"errors":["Forbidden"]}`)),
			Header: http.Header{}, Request: r}, nil
	})
	resp, err := c.TokenSource(store, "tenant-1").Client(base).Get("https://api.datadoghq.com/api/v2/usage")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 1, calls, "a fresh token's 403 is a missing scope: no refresh, no retry")
	assert.Equal(t, 0, dd.Count(ddoauthtest.EndpointToken))
}

func TestTokenSourceTwoReplicasWithRotation(t *testing.T) {
	t.Parallel()
	dd, c, store, clk := connected(t, ddoauth.Sites()[6], func(dd *ddoauthtest.Server) { dd.RotateRefreshTokens = true })
	clk.Advance(2 * time.Hour)
	// Replica B read the connection before replica A refreshed it.
	stale, err := store.Load(t.Context(), "tenant-1")
	require.NoError(t, err)
	staleStore := &replayStore{Store: store, first: stale}
	_, err = c.TokenSource(store, "tenant-1").TokenContext(t.Context()) // replica A
	require.NoError(t, err)
	tok, err := c.TokenSource(staleStore, "tenant-1").TokenContext(t.Context()) // replica B
	require.NoError(t, err, "a lost race is not a revocation")
	saved, err := store.Load(t.Context(), "tenant-1")
	require.NoError(t, err)
	assert.False(t, saved.Revoked)
	assert.Equal(t, saved.Token.AccessToken, tok.AccessToken)
	assert.Equal(t, 2, dd.Count(ddoauthtest.EndpointToken), "A's refresh and B's refused one: B had no lease")
}

// replayStore answers its first two Loads with a stale copy, as a replica
// that read before another one saved would see. It is no Leaser, like a
// partner's store that predates leases.
type replayStore struct {
	ddoauth.Store
	first *ddoauth.Connection
	used  int
}

func (s *replayStore) Load(ctx context.Context, id string) (*ddoauth.Connection, error) {
	if s.used < 2 {
		s.used++
		c := *s.first
		return &c, nil
	}
	return s.Store.Load(ctx, id)
}

func TestTokenSourceEarlyRefreshFailureServesValidToken(t *testing.T) {
	t.Parallel()
	dd, c, store, clk := connected(t, ddoauth.Sites()[1])
	ts := c.TokenSource(store, "tenant-1")
	first, err := ts.TokenContext(t.Context())
	require.NoError(t, err)
	clk.Advance(time.Hour - 30*time.Second) // inside the margin, not expired
	dd.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Times: -1, Status: 400, Body: `{"error":"invalid_request"}`})
	tok, err := ts.TokenContext(t.Context())
	require.NoError(t, err)
	assert.Equal(t, first.AccessToken, tok.AccessToken)
	clk.Advance(time.Minute) // expired now
	_, err = ts.TokenContext(t.Context())
	assert.ErrorIs(t, err, ddoauth.ErrAuthorization)
}

func TestTokenSourceShortLivedTokens(t *testing.T) {
	t.Parallel()
	dd, c, store, clk := connected(t, ddoauth.Sites()[0], func(dd *ddoauthtest.Server) { dd.AccessTokenTTL = 40 * time.Second })
	ts := c.TokenSource(store, "tenant-1")
	for range 5 {
		_, err := ts.TokenContext(t.Context())
		require.NoError(t, err)
	}
	assert.Equal(t, 0, dd.Count(ddoauthtest.EndpointToken), "a 40 s token is not refreshed on every call under a 1 min margin")
	held, err := ts.TokenContext(t.Context())
	require.NoError(t, err)
	clk.Advance(25 * time.Second)
	tok, err := ts.TokenContext(t.Context())
	require.NoError(t, err)
	assert.Equal(t, held.AccessToken, tok.AccessToken, "a valid token is served while the early refresh runs")
	require.Eventually(t, func() bool { return dd.Count(ddoauthtest.EndpointToken) == 1 }, 5*time.Second, time.Millisecond)
}

func TestMemoryStoreCorruptAndFormatted(t *testing.T) {
	t.Parallel()
	_, c, store, _ := connected(t, ddoauth.Sites()[0])
	conn, err := store.Load(t.Context(), "tenant-1")
	require.NoError(t, err)
	require.NoError(t, store.SaveAPIKey(t.Context(), "tenant-1", &ddoauth.APIKey{Key: "0123456789abcdef0123456789abcdef", Last4: "cdef"}))
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, store)
		assert.NotContains(t, out, conn.Token.AccessToken)
		assert.NotContains(t, out, conn.Token.RefreshToken)
		assert.NotContains(t, out, "0123456789abcdef0123456789abcdef")
	}
	_, err = c.TokenSource(corruptStore{}, "x").TokenContext(t.Context())
	assert.ErrorIs(t, err, ddoauth.ErrCorruptConnection)
}

// corruptStore holds bytes that do not decode, as a damaged row would.
type corruptStore struct{}

func (corruptStore) Load(ctx context.Context, id string) (*ddoauth.Connection, error) {
	var conn ddoauth.Connection
	if err := json.Unmarshal([]byte(`{"site":"datadoghq.com","token":{"access_token":12}}`), &conn); err != nil {
		return nil, fmt.Errorf("%w: %v", ddoauth.ErrCorruptConnection, err)
	}
	return &conn, nil
}
func (corruptStore) Save(context.Context, string, *ddoauth.Connection) error { return nil }
func (corruptStore) Delete(context.Context, string, int64) error             { return nil }

func TestRefreshErrorInA200Body(t *testing.T) {
	t.Parallel()
	_, c := setup(t, jsonAnswer(200, `{"error":"invalid_grant","error_description":"revoked"}`))
	conn := &ddoauth.Connection{Site: mustSite(t, "ap2.datadoghq.com"), Token: &oauth2.Token{RefreshToken: "RT-abcdef123456"}}
	_, err := c.Refresh(t.Context(), conn)
	require.ErrorIs(t, err, ddoauth.ErrInvalidGrant)
	var e *ddoauth.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusOK, e.StatusCode)
}
