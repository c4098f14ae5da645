package ddoauth_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"gopkg.in/dnaeon/go-vcr.v4/pkg/cassette"
	"gopkg.in/dnaeon/go-vcr.v4/pkg/recorder"

	"github.com/ddoauth/ddoauth"
)

// Cassettes under testdata/cassettes follow Datadog's documented shapes
// (testdata/README.md says which source each follows); cassettes under
// testdata/cassettes/live are recorded against real Datadog by
// TestCassetteRecordLive. Secrets in them are placeholders: requests carry
// cassetteRedacted, responses "fake-..." values or cassetteRedacted.
const (
	cassetteDir      = "testdata/cassettes"
	cassetteClientID = "fake-client-id-0000-partner-sandbox"
	cassetteSecret   = "fake-client-secret-0000-not-real"
	cassetteRedirect = "https://partner.example/oauth/datadog/callback"
	// cassetteVerifier is RFC 7636 Appendix B's: Complete would otherwise
	// send a random one.
	cassetteVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	cassetteState    = "fake-state-0123456789abcdefghijklmnopqrstuv"
	cassetteCode     = "fake-authorization-code-0001"
	cassetteRedacted = "REDACTED"
)

var cassetteNow = time.Date(2026, 2, 11, 9, 14, 27, 0, time.UTC)

// secretFormKeys are the form fields that carry a secret in token, refresh
// and revoke requests (token is RFC 7009's token being revoked).
var secretFormKeys = []string{"client_secret", "refresh_token", "access_token", "code", "code_verifier", "token"}

// secretHeaders are request headers that carry a credential.
var secretHeaders = []string{"Authorization", "Dd-Api-Key", "Dd-Application-Key", "Cookie"}

// secretJSONKeys are response body fields that carry a secret: the tokens
// of a token response and the API key's value (its last4 may stay).
var secretJSONKeys = []string{"access_token", "refresh_token", "id_token", "key"}

// cassetteMatcher matches on what identifies a call and not on its random
// or secret values: method, URL, the set of form keys, grant_type and
// token_type_hint, and whether an Authorization header was sent.
func cassetteMatcher(r *http.Request, i cassette.Request) bool {
	if r.Method != i.Method || r.URL.String() != i.URL {
		return false
	}
	if (r.Header.Get("Authorization") != "") != (i.Headers.Get("Authorization") != "") {
		return false
	}
	got, err := requestForm(r)
	if err != nil {
		return false
	}
	want := i.Form
	if len(want) == 0 && i.Body != "" {
		if want, err = url.ParseQuery(i.Body); err != nil {
			return false
		}
	}
	return slices.Equal(formKeys(got), formKeys(want)) &&
		got.Get("grant_type") == want.Get("grant_type") &&
		got.Get("token_type_hint") == want.Get("token_type_hint")
}

// requestForm parses r's form body and puts the body back, since the
// matcher may read it once per recorded interaction.
func requestForm(r *http.Request) (url.Values, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return url.Values{}, nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return url.ParseQuery(string(b))
}

func formKeys(v url.Values) []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// offline is the recorder's real transport in replay mode, so that a
// replay can never reach the network whatever the mode.
type offline struct{}

func (offline) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("cassette replay: no network: %s %s", r.Method, r.URL)
}

// replay returns a Client whose requests are answered from the cassette
// name (ModeReplayOnly: a request the cassette lacks fails). When the test
// ends it checks that every interaction was played, once, in order.
func replay(t *testing.T, name string) *ddoauth.Client {
	t.Helper()
	path := filepath.Join(cassetteDir, name)
	var (
		mu     sync.Mutex
		played []int
	)
	rec, err := recorder.New(path,
		recorder.WithMode(recorder.ModeReplayOnly),
		recorder.WithMatcher(cassetteMatcher),
		recorder.WithSkipRequestLatency(true),
		recorder.WithRealTransport(offline{}),
		recorder.WithHook(func(i *cassette.Interaction) error {
			mu.Lock()
			defer mu.Unlock()
			played = append(played, i.ID)
			return nil
		}, recorder.BeforeResponseReplayHook),
	)
	require.NoError(t, err)
	recorded, err := cassette.Load(path)
	require.NoError(t, err)
	require.NotEmpty(t, recorded.Interactions, "cassette %s is empty", name)
	t.Cleanup(func() {
		assert.NoError(t, rec.Stop())
		want := make([]int, len(recorded.Interactions))
		for i := range want {
			want[i] = i
		}
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, want, played, "interactions of %s played", name)
	})
	c, err := ddoauth.New(ddoauth.Config{
		ClientID:     cassetteClientID,
		ClientSecret: cassetteSecret,
		RedirectURL:  cassetteRedirect,
		HTTPClient:   &http.Client{Transport: rec},
		Now:          func() time.Time { return cassetteNow },
	})
	require.NoError(t, err)
	return c
}

func cassetteSite(t *testing.T, raw string) ddoauth.Site {
	t.Helper()
	s, err := ddoauth.ResolveSite(raw)
	require.NoError(t, err)
	return s
}

// pendingAt is the Pending Start would have made at site, with a fixed
// state and verifier, and the callback Datadog sends for it.
func pendingAt(site ddoauth.Site) (*ddoauth.Pending, url.Values) {
	p := &ddoauth.Pending{
		State:       cassetteState,
		Verifier:    cassetteVerifier,
		Site:        site,
		RedirectURL: cassetteRedirect,
		Created:     cassetteNow.Add(-30 * time.Second),
	}
	q := url.Values{"state": {cassetteState}, "code": {cassetteCode}, "domain": {site.Domain()}}
	return p, q
}

// connectionAt is a stored Connection at site whose access token expired.
func connectionAt(site ddoauth.Site, access, refresh string) *ddoauth.Connection {
	return &ddoauth.Connection{
		Site: site,
		Token: &oauth2.Token{
			AccessToken:  access,
			RefreshToken: refresh,
			TokenType:    "bearer",
			Expiry:       cassetteNow.Add(-time.Minute),
		},
		Scopes:  []string{"api_keys_write", "metrics_read", "events_read"},
		Created: cassetteNow.Add(-24 * time.Hour),
	}
}

// assertNoCassetteSecrets checks that err says nothing it must not.
func assertNoCassetteSecrets(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range append(secrets, cassetteSecret, cassetteVerifier, cassetteCode) {
		assert.NotContains(t, err.Error(), s)
		assert.NotContains(t, fmt.Sprintf("%+v", err), s)
	}
}

func TestCassetteExchange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cassette, site string
		wantErr        error
		wantStatus     int
		wantCode       string
		hintHas        string
	}{
		{"exchange_invalid_client_id", "datadoghq.com", ddoauth.ErrInvalidClient, 400, "invalid_request", cassetteClientID},
		{"exchange_redirect_mismatch", "us3.datadoghq.com", ddoauth.ErrInvalidClient, 400, "invalid_request", cassetteRedirect},
		{"exchange_invalid_code_verifier", "us5.datadoghq.com", ddoauth.ErrInvalidGrant, 400, "invalid_request", "verifier"},
		{"exchange_invalid_client", "ap1.datadoghq.com", ddoauth.ErrInvalidClient, 401, "invalid_client", cassetteClientID},
	}
	for _, tt := range tests {
		t.Run(tt.cassette, func(t *testing.T) {
			t.Parallel()
			c := replay(t, tt.cassette)
			p, q := pendingAt(cassetteSite(t, tt.site))
			conn, err := c.Complete(t.Context(), p, q)
			assert.Nil(t, conn)
			require.ErrorIs(t, err, tt.wantErr)
			e, ok := errors.AsType[*ddoauth.Error](err)
			require.True(t, ok, "want a *ddoauth.Error, got %T", err)
			assert.Equal(t, tt.wantStatus, e.StatusCode)
			assert.Equal(t, tt.wantCode, e.Code)
			assert.Equal(t, p.Site.String(), e.Site)
			assert.Contains(t, e.Hint, tt.hintHas)
			assertNoCassetteSecrets(t, err)
		})
	}
}

func TestCassetteExchangeSuccess(t *testing.T) {
	t.Parallel()
	c := replay(t, "exchange_success")
	eu1 := cassetteSite(t, "datadoghq.eu")
	p, q := pendingAt(eu1)
	conn, err := c.Complete(t.Context(), p, q)
	require.NoError(t, err)
	assert.Equal(t, eu1, conn.Site)
	assert.Equal(t, "fake-access-token-eu1-exchange", conn.Token.AccessToken)
	assert.Equal(t, "fake-refresh-token-eu1-exchange", conn.Token.RefreshToken)
	assert.Equal(t, "bearer", conn.Token.TokenType)
	assert.Equal(t, cassetteNow.Add(time.Hour), conn.Token.Expiry)
	assert.Equal(t, cassetteNow, conn.Created)
	assert.Equal(t, []string{"api_keys_write", "metrics_read", "events_read"}, conn.Scopes)
	assert.True(t, conn.HasScope("api_keys_write"))
}

// TestCassetteExchangeCodeReused redeems one code twice, which a caller
// that does not delete its Pending before Complete could do.
func TestCassetteExchangeCodeReused(t *testing.T) {
	t.Parallel()
	c := replay(t, "exchange_code_reused")
	p, q := pendingAt(cassetteSite(t, "ap2.datadoghq.com"))
	conn, err := c.Complete(t.Context(), p, q)
	require.NoError(t, err)
	assert.Equal(t, "fake-access-token-ap2-exchange", conn.Token.AccessToken)

	again, err := c.Complete(t.Context(), p, q)
	assert.Nil(t, again)
	require.ErrorIs(t, err, ddoauth.ErrInvalidGrant)
	e, ok := errors.AsType[*ddoauth.Error](err)
	require.True(t, ok)
	assert.Equal(t, http.StatusBadRequest, e.StatusCode)
	assert.Equal(t, "invalid_grant", e.Code)
	assertNoCassetteSecrets(t, err)
}

func TestCassetteRefresh(t *testing.T) {
	t.Parallel()
	t.Run("same refresh token", func(t *testing.T) {
		t.Parallel()
		c := replay(t, "refresh_success")
		uk1 := cassetteSite(t, "uk1.datadoghq.com")
		old := connectionAt(uk1, "fake-access-token-uk1-old", "fake-refresh-token-uk1-0001")
		next, err := c.Refresh(t.Context(), old)
		require.NoError(t, err)
		assert.Equal(t, uk1, next.Site)
		assert.Equal(t, "fake-access-token-uk1-refreshed", next.Token.AccessToken)
		assert.Equal(t, "fake-refresh-token-uk1-0001", next.Token.RefreshToken)
		assert.Equal(t, cassetteNow.Add(time.Hour), next.Token.Expiry)
		assert.Equal(t, old.Created, next.Created)
		assert.Equal(t, []string{"api_keys_write", "metrics_read", "events_read"}, next.Scopes)
		assert.Equal(t, "fake-access-token-uk1-old", old.Token.AccessToken, "Refresh must not modify its argument")
	})
	t.Run("rotated refresh token", func(t *testing.T) {
		t.Parallel()
		c := replay(t, "refresh_rotated")
		fed := cassetteSite(t, "ddog-gov.com")
		old := connectionAt(fed, "fake-access-token-us1fed-old", "fake-refresh-token-us1fed-0001")
		next, err := c.Refresh(t.Context(), old)
		require.NoError(t, err)
		assert.Equal(t, fed, next.Site)
		assert.Equal(t, "fake-access-token-us1fed-refreshed", next.Token.AccessToken)
		assert.Equal(t, "fake-refresh-token-us1fed-0002-rotated", next.Token.RefreshToken)
		assert.Equal(t, "fake-refresh-token-us1fed-0001", old.Token.RefreshToken, "Refresh must not modify its argument")
	})
	t.Run("revoked grant", func(t *testing.T) {
		t.Parallel()
		c := replay(t, "refresh_revoked")
		old := connectionAt(cassetteSite(t, "us2.ddog-gov.com"), "fake-access-token-us2fed-old", "fake-refresh-token-us2fed-0001")
		next, err := c.Refresh(t.Context(), old)
		assert.Nil(t, next)
		require.ErrorIs(t, err, ddoauth.ErrInvalidGrant)
		e, ok := errors.AsType[*ddoauth.Error](err)
		require.True(t, ok)
		assert.Equal(t, http.StatusBadRequest, e.StatusCode)
		assert.Equal(t, "invalid_grant", e.Code)
		assertNoCassetteSecrets(t, err, old.Token.RefreshToken)
	})
}

func TestCassetteRevoke(t *testing.T) {
	t.Parallel()
	// Both cassettes hold two calls, refresh token first (token_type_hint
	// is matched); replay checks that both were made, in that order.
	for _, tt := range []struct{ cassette, site string }{
		{"revoke_success", "datadoghq.eu"},
		{"revoke_unknown_token", "us5.datadoghq.com"},
	} {
		t.Run(tt.cassette, func(t *testing.T) {
			t.Parallel()
			c := replay(t, tt.cassette)
			conn := connectionAt(cassetteSite(t, tt.site), "fake-access-token-0001", "fake-refresh-token-0001")
			assert.NoError(t, c.Revoke(t.Context(), conn))
		})
	}
	t.Run("revoke_unavailable", func(t *testing.T) {
		t.Parallel()
		c := replay(t, "revoke_unavailable")
		conn := connectionAt(cassetteSite(t, "us3.datadoghq.com"), "fake-access-token-us3-0001", "fake-refresh-token-us3-0001")
		err := c.Revoke(t.Context(), conn)
		require.ErrorIs(t, err, ddoauth.ErrServer, "a 503 means the token must be presumed valid")
		e, ok := errors.AsType[*ddoauth.Error](err)
		require.True(t, ok)
		assert.Equal(t, http.StatusServiceUnavailable, e.StatusCode)
		assert.Equal(t, "temporarily_unavailable", e.Code)
		assert.NotEmpty(t, e.Hint)
		assertNoCassetteSecrets(t, err, conn.Token.AccessToken, conn.Token.RefreshToken)
	})
}

func TestCassetteCreateAPIKey(t *testing.T) {
	t.Parallel()
	t.Run("created", func(t *testing.T) {
		t.Parallel()
		c := replay(t, "apikey_created")
		ap1 := cassetteSite(t, "ap1.datadoghq.com")
		k, err := c.CreateAPIKey(t.Context(), connectionAt(ap1, "fake-access-token-ap1-0001", "fake-refresh-token-ap1-0001"))
		require.NoError(t, err)
		assert.Equal(t, "fake-key-id-ap1-0001", k.ID)
		assert.Equal(t, "OAuth Client API Key", k.Name)
		assert.Equal(t, "fakeapikeyap10000000000000000a1b2", k.Key)
		assert.Equal(t, "a1b2", k.Last4)
		assert.Equal(t, ap1, k.Site)
		assert.WithinDuration(t, time.Date(2026, 2, 11, 9, 14, 27, 123456000, time.UTC), k.Created, 0)
		assert.NotContains(t, fmt.Sprintf("%+v", *k), k.Key)
	})
	t.Run("forbidden", func(t *testing.T) {
		t.Parallel()
		c := replay(t, "apikey_forbidden")
		conn := connectionAt(cassetteSite(t, "uk1.datadoghq.com"), "fake-access-token-uk1-0001", "fake-refresh-token-uk1-0001")
		k, err := c.CreateAPIKey(t.Context(), conn)
		assert.Nil(t, k)
		require.ErrorIs(t, err, ddoauth.ErrForbidden)
		assert.NotErrorIs(t, err, ddoauth.ErrAPIKeyExists)
		e, ok := errors.AsType[*ddoauth.Error](err)
		require.True(t, ok)
		assert.Equal(t, http.StatusForbidden, e.StatusCode)
		assert.Equal(t, "Forbidden", e.Description)
		assert.Contains(t, e.Hint, "api_keys_write")
		assertNoCassetteSecrets(t, err, conn.Token.AccessToken)
	})
	t.Run("second creation", func(t *testing.T) {
		t.Parallel()
		c := replay(t, "apikey_exists")
		conn := connectionAt(cassetteSite(t, "datadoghq.com"), "fake-access-token-us1-0001", "fake-refresh-token-us1-0001")
		first, err := c.CreateAPIKey(t.Context(), conn)
		require.NoError(t, err)
		assert.Equal(t, "c3d4", first.Last4)
		assert.WithinDuration(t, time.Date(2026, 2, 11, 9, 14, 27, 0, time.UTC), first.Created, 0)

		second, err := c.CreateAPIKey(t.Context(), conn)
		assert.Nil(t, second)
		require.ErrorIs(t, err, ddoauth.ErrAPIKeyExists)
		assert.NotErrorIs(t, err, ddoauth.ErrForbidden)
		e, ok := errors.AsType[*ddoauth.Error](err)
		require.True(t, ok)
		assert.Equal(t, http.StatusConflict, e.StatusCode)
		assert.Contains(t, e.Hint, "OAuth Client API Key")
		assertNoCassetteSecrets(t, err, conn.Token.AccessToken)
	})
}

// cassetteFiles lists every cassette under dir, recursively.
func cassetteFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".yaml") {
			names = append(names, strings.TrimSuffix(path, ".yaml"))
		}
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	return names
}

// TestCassettesHoldNoSecrets checks every cassette, documented or live:
// requests carry only placeholders, response secrets are obviously fake or
// redacted, and every URL is an endpoint of a known site's API host.
func TestCassettesHoldNoSecrets(t *testing.T) {
	t.Parallel()
	names := cassetteFiles(t, cassetteDir)
	require.GreaterOrEqual(t, len(names), 15)
	fake := func(v string) bool { return v == cassetteRedacted || strings.HasPrefix(v, "fake") }
	for _, name := range names {
		c, err := cassette.Load(name)
		require.NoError(t, err, name)
		for _, i := range c.Interactions {
			where := fmt.Sprintf("%s #%d", name, i.ID)
			u, err := url.Parse(i.Request.URL)
			require.NoError(t, err, where)
			site, err := ddoauth.ResolveSite(u.Host)
			require.NoError(t, err, where)
			assert.Contains(t, []string{site.TokenURL(), site.RevokeURL(), site.APIKeyURL()}, i.Request.URL, where)
			assert.Equal(t, u.Host, i.Request.Host, where)

			body, err := url.ParseQuery(i.Request.Body)
			require.NoError(t, err, where)
			for _, k := range secretFormKeys {
				for _, v := range append(i.Request.Form[k], body[k]...) {
					assert.Equal(t, cassetteRedacted, v, "%s: form %s", where, k)
				}
			}
			for _, h := range secretHeaders {
				for _, v := range i.Request.Headers.Values(h) {
					assert.Contains(t, []string{cassetteRedacted, "Bearer " + cassetteRedacted}, v, "%s: header %s", where, h)
				}
			}
			if i.Response.Body == "" {
				continue
			}
			var doc any
			require.NoError(t, json.Unmarshal([]byte(i.Response.Body), &doc), where)
			walkJSON(doc, func(k string, v any) any {
				if s, ok := v.(string); ok && slices.Contains(secretJSONKeys, k) {
					assert.True(t, fake(s), "%s: response %s = %q is neither fake nor redacted", where, k, s)
				}
				return v
			})
		}
	}
}

// walkJSON calls f for every object member under v, depth first, and
// replaces the member's value with what f returns.
func walkJSON(v any, f func(key string, v any) any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			walkJSON(x, f)
			v[k] = f(k, x)
		}
	case []any:
		for _, x := range v {
			walkJSON(x, f)
		}
	}
}

// redactor strips secrets from recorded interactions in two steps. At
// capture (AfterCaptureHook) it notes the request's secrets and replaces
// them, so that the in-memory cassette never holds them and the
// response the client gets is untouched. Before saving (BeforeSaveHook) it
// replaces the secrets in the response body and any request secret a
// server echoed: doing that at capture would hand the client REDACTED
// instead of its new tokens, and the next recorded call would fail.
type redactor struct {
	mu      sync.Mutex
	secrets []string
}

func (r *redactor) note(vs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range vs {
		if len(v) >= 4 && v != cassetteRedacted && !slices.Contains(r.secrets, v) {
			r.secrets = append(r.secrets, v)
		}
	}
}

func (r *redactor) scrub(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range r.secrets {
		s = strings.ReplaceAll(s, v, cassetteRedacted)
	}
	return s
}

func redactForm(v url.Values) (secrets []string) {
	for _, k := range secretFormKeys {
		if vs, ok := v[k]; ok {
			secrets = append(secrets, vs...)
			v[k] = slices.Repeat([]string{cassetteRedacted}, len(vs))
		}
	}
	return secrets
}

// capture is the AfterCaptureHook.
func (r *redactor) capture(i *cassette.Interaction) error {
	req := &i.Request
	req.Headers = req.Headers.Clone() // the live request's own map
	for _, h := range secretHeaders {
		vs := req.Headers.Values(h)
		if len(vs) == 0 {
			continue
		}
		for _, v := range vs {
			scheme, cred, ok := strings.Cut(v, " ")
			if !ok {
				scheme, cred = "", v
			}
			r.note(cred, v)
			if ok && h == "Authorization" {
				req.Headers.Set(h, scheme+" "+cassetteRedacted)
				continue
			}
			req.Headers.Set(h, cassetteRedacted)
		}
	}
	form := url.Values{}
	for k, v := range req.Form {
		form[k] = slices.Clone(v)
	}
	r.note(redactForm(form)...)
	req.Form = form
	if req.Body != "" {
		if body, err := url.ParseQuery(req.Body); err == nil && strings.Contains(req.Headers.Get("Content-Type"), "x-www-form-urlencoded") {
			r.note(redactForm(body)...)
			req.Body = body.Encode()
			req.ContentLength = int64(len(req.Body))
		}
	}
	if u, err := url.Parse(req.URL); err == nil && u.RawQuery != "" {
		q := u.Query()
		r.note(redactForm(q)...)
		u.RawQuery = q.Encode()
		req.URL = u.String()
		req.RequestURI = ""
	}
	req.Body = r.scrub(req.Body)
	return nil
}

// save is the BeforeSaveHook.
func (r *redactor) save(i *cassette.Interaction) error {
	resp := &i.Response
	resp.Headers = resp.Headers.Clone()
	if resp.Headers.Get("Set-Cookie") != "" {
		resp.Headers.Set("Set-Cookie", cassetteRedacted)
	}
	dec := json.NewDecoder(strings.NewReader(resp.Body))
	dec.UseNumber()
	var doc any
	if resp.Body != "" && dec.Decode(&doc) == nil {
		changed := false
		walkJSON(doc, func(k string, v any) any {
			if s, ok := v.(string); ok && s != "" && s != cassetteRedacted && slices.Contains(secretJSONKeys, k) {
				r.note(s)
				changed = true
				return cassetteRedacted
			}
			return v
		})
		if changed {
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(doc); err != nil {
				return err
			}
			resp.Body = strings.TrimSuffix(b.String(), "\n")
		}
	}
	resp.Body = r.scrub(resp.Body)
	if resp.ContentLength >= 0 {
		resp.ContentLength = int64(len(resp.Body))
	}
	i.Request.Body = r.scrub(i.Request.Body)
	return nil
}

func (r *redactor) options() []recorder.Option {
	return []recorder.Option{
		recorder.WithHook(r.capture, recorder.AfterCaptureHook),
		recorder.WithHook(r.save, recorder.BeforeSaveHook),
	}
}

// TestCassetteRedactorStripsSecrets feeds the hooks an interaction full of
// secrets and checks that none is left and that it still matches.
func TestCassetteRedactorStripsSecrets(t *testing.T) {
	t.Parallel()
	secrets := []string{
		"sk-live-client-secret-9f8e7d", "rt-live-refresh-token-1a2b3c", "at-live-access-token-4d5e6f",
		"code-live-77aa88bb", "verifier-live-dBjftJeZ4CVP-mB92K27uhbUJU1p1r", "apikey-live-0123456789abcdef",
		"rt-live-rotated-token-3c2b1a", "at-live-new-access-token-6f5e4d", "appkey-live-fedcba987654",
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {"real-client-id"},
		"client_secret": {secrets[0]},
		"refresh_token": {secrets[1]},
		"access_token":  {secrets[2]},
		"code":          {secrets[3]},
		"code_verifier": {secrets[4]},
		"token":         {secrets[1]},
		"redirect_uri":  {cassetteRedirect},
	}
	liveHeader := http.Header{
		"Content-Type":       {"application/x-www-form-urlencoded"},
		"Authorization":      {"Bearer " + secrets[2]},
		"Dd-Api-Key":         {secrets[5]},
		"Dd-Application-Key": {secrets[8]},
	}
	i := &cassette.Interaction{
		Request: cassette.Request{
			Method:  http.MethodPost,
			URL:     "https://api.datadoghq.eu/oauth2/v1/token?code=" + secrets[3],
			Host:    "api.datadoghq.eu",
			Body:    form.Encode(),
			Form:    form,
			Headers: liveHeader,
		},
		Response: cassette.Response{
			Code:          200,
			ContentLength: -1,
			Headers:       http.Header{"Content-Type": {"application/json"}},
			Body: `{"access_token":"` + secrets[7] + `","refresh_token":"` + secrets[6] + `","expires_in":3600,` +
				`"echo":"client_secret=` + secrets[0] + `",` +
				`"data":{"type":"api_keys","attributes":{"key":"` + secrets[5] + `","last4":"cdef"}}}`,
		},
	}
	var r redactor
	require.NoError(t, r.capture(i))
	assert.Contains(t, i.Response.Body, secrets[7], "the capture hook must leave the response the client gets alone")
	assert.Equal(t, "Bearer "+secrets[2], liveHeader.Get("Authorization"), "the live request's header map must not change")
	require.NoError(t, r.save(i))

	dump, err := json.Marshal(i)
	require.NoError(t, err)
	for _, s := range secrets {
		assert.NotContains(t, string(dump), s)
	}
	assert.Equal(t, "Bearer "+cassetteRedacted, i.Request.Headers.Get("Authorization"))
	assert.Equal(t, cassetteRedacted, i.Request.Headers.Get("Dd-Api-Key"))
	body, err := url.ParseQuery(i.Request.Body)
	require.NoError(t, err)
	for _, v := range []url.Values{body, i.Request.Form} {
		assert.Equal(t, formKeys(form), formKeys(v), "keys stay, so the matcher still matches")
		assert.Equal(t, "authorization_code", v.Get("grant_type"))
		assert.Equal(t, "real-client-id", v.Get("client_id"))
		assert.Equal(t, cassetteRedacted, v.Get("client_secret"))
	}
	assert.Equal(t, int64(len(i.Request.Body)), i.Request.ContentLength)
	var resp struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Data        struct {
			Attributes struct{ Key, Last4 string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(i.Response.Body), &resp))
	assert.Equal(t, cassetteRedacted, resp.AccessToken)
	assert.Equal(t, 3600, resp.ExpiresIn)
	assert.Equal(t, cassetteRedacted, resp.Data.Attributes.Key)
	assert.Equal(t, "cdef", resp.Data.Attributes.Last4, "last4 is not a secret")
	assert.Equal(t, int64(-1), i.Response.ContentLength)
}

// fakeDatadog answers refresh, API-key and revoke calls with fresh
// secrets, standing in for Datadog when the recording path runs offline.
type fakeDatadog struct {
	mu     sync.Mutex
	bearer []string
}

func (f *fakeDatadog) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		// Read like a real transport, which is how the recorder gets the body.
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return nil, err
		}
	}
	answer := func(status int, body string) (*http.Response, error) {
		return &http.Response{
			StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status),
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{"Content-Type": {"application/json"}},
			Body:          io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)), Request: r,
		}, nil
	}
	switch r.URL.Path {
	case "/oauth2/v1/token":
		return answer(200, `{"access_token":"live-at-2222","refresh_token":"live-rt-3333","expires_in":3600,"scope":"api_keys_write","token_type":"bearer"}`)
	case "/api/v2/api_keys/marketplace":
		f.mu.Lock()
		f.bearer = append(f.bearer, r.Header.Get("Authorization"))
		f.mu.Unlock()
		return answer(201, `{"data":{"type":"api_keys","id":"k1","attributes":{"created_at":"2026-02-11T09:14:27+00:00","key":"live-apikey-44445555","last4":"5555","modified_at":"2026-02-11T09:14:27+00:00","name":"OAuth Client API Key"},"relationships":{}}}`)
	case "/oauth2/v1/revoke":
		return answer(200, "")
	}
	return answer(404, `{"errors":["Not found"]}`)
}

// recordFlow records refresh, API key and revoke at site through transport
// into dir, one cassette per call, and returns the API key.
func recordFlow(t *testing.T, transport http.RoundTripper, dir string, site ddoauth.Site, clientID, secret, refreshToken string) *ddoauth.APIKey {
	t.Helper()
	var red redactor
	client := func(name string) *ddoauth.Client {
		opts := append(red.options(),
			recorder.WithMode(recorder.ModeRecordOnly),
			recorder.WithRealTransport(transport),
			recorder.WithMatcher(cassetteMatcher),
		)
		rec, err := recorder.New(filepath.Join(dir, name), opts...)
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, rec.Stop()) })
		c, err := ddoauth.New(ddoauth.Config{
			ClientID: clientID, ClientSecret: secret, RedirectURL: cassetteRedirect,
			HTTPClient: &http.Client{Transport: rec, Timeout: 30 * time.Second},
		})
		require.NoError(t, err)
		return c
	}
	ctx := t.Context()
	conn, err := client("refresh").Refresh(ctx, &ddoauth.Connection{Site: site, Token: &oauth2.Token{RefreshToken: refreshToken}})
	require.NoError(t, err)
	require.NotEqual(t, cassetteRedacted, conn.Token.AccessToken, "the client must get the real token back")
	key, err := client("apikey").CreateAPIKey(ctx, conn)
	if err != nil {
		// Recorded all the same: a sandbox org may have its key already.
		t.Logf("create API key: %v", err)
	}
	require.NoError(t, client("revoke").Revoke(ctx, conn))
	return key
}

// TestCassetteRecordRedacted runs the recording path against an
// in-process fake: the client sees real values, the saved cassettes hold
// none, and they replay.
func TestCassetteRecordRedacted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	site := cassetteSite(t, "us5.datadoghq.com")
	fake := &fakeDatadog{}
	t.Run("record", func(t *testing.T) {
		key := recordFlow(t, fake, dir, site, "live-client-id", "live-secret-1111", "live-rt-0000")
		require.NotNil(t, key)
		assert.Equal(t, "live-apikey-44445555", key.Key)
	})
	assert.Equal(t, []string{"Bearer live-at-2222"}, fake.bearer, "the API-key call must carry the refreshed token")
	for _, name := range []string{"refresh", "apikey", "revoke"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".yaml"))
		require.NoError(t, err)
		for _, s := range []string{"live-secret-1111", "live-rt-0000", "live-at-2222", "live-rt-3333", "live-apikey-44445555"} {
			assert.NotContains(t, string(b), s, name)
		}
		assert.Contains(t, string(b), cassetteRedacted, name)
	}
	refresh, err := cassette.Load(filepath.Join(dir, "refresh"))
	require.NoError(t, err)
	require.Len(t, refresh.Interactions, 1)
	body, err := url.ParseQuery(refresh.Interactions[0].Request.Body)
	require.NoError(t, err)
	assert.Equal(t, url.Values{
		"client_id": {"live-client-id"}, "client_secret": {cassetteRedacted},
		"grant_type": {"refresh_token"}, "refresh_token": {cassetteRedacted},
	}, body)
	rec, err := recorder.New(filepath.Join(dir, "revoke"), recorder.WithMode(recorder.ModeReplayOnly),
		recorder.WithMatcher(cassetteMatcher), recorder.WithRealTransport(offline{}))
	require.NoError(t, err)
	c, err := ddoauth.New(ddoauth.Config{ClientID: "id", ClientSecret: "s3cret", RedirectURL: cassetteRedirect,
		HTTPClient: &http.Client{Transport: rec}})
	require.NoError(t, err)
	assert.NoError(t, c.Revoke(t.Context(), connectionAt(site, "a-token", "r-token")))
}

// TestCassetteRecordLive records refresh, API-key and revoke calls against
// real Datadog into testdata/cassettes/live/<domain>/. It revokes the
// grant it is given and creates the sandbox org's partner API key (whose
// value is logged nowhere; its last4 is).
func TestCassetteRecordLive(t *testing.T) {
	t.Parallel()
	env := map[string]string{}
	var missing []string
	for _, k := range []string{"DDOAUTH_RECORD", "DD_CLIENT_ID", "DD_CLIENT_SECRET", "DD_SITE", "DD_REFRESH_TOKEN"} {
		if env[k] = os.Getenv(k); env[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 || env["DDOAUTH_RECORD"] != "1" {
		t.Skipf("live recording needs DDOAUTH_RECORD=1, DD_CLIENT_ID, DD_CLIENT_SECRET, DD_SITE and DD_REFRESH_TOKEN "+
			"(from an authorization of a sandbox org); unset: %s; see testdata/README.md", strings.Join(missing, ", "))
	}
	site, err := ddoauth.ResolveSite(env["DD_SITE"])
	require.NoError(t, err)
	site = site.Region()
	dir := filepath.Join(cassetteDir, "live", site.Domain())
	require.NoError(t, os.MkdirAll(dir, 0o755))
	key := recordFlow(t, http.DefaultTransport, dir, site, env["DD_CLIENT_ID"], env["DD_CLIENT_SECRET"], env["DD_REFRESH_TOKEN"])
	if key != nil {
		t.Logf("created API key %s (last4 %s) at %s: its value is stored nowhere; revoke it in API Keys settings", key.ID, key.Last4, site.Name())
	}
	t.Logf("recording into %s; the grant is revoked", dir)
}

// TestCassetteLiveReplay replays whatever TestCassetteRecordLive saved.
func TestCassetteLiveReplay(t *testing.T) {
	t.Parallel()
	dirs, err := os.ReadDir(filepath.Join(cassetteDir, "live"))
	if errors.Is(err, fs.ErrNotExist) || len(dirs) == 0 {
		t.Skip("no live cassettes recorded yet (nothing can reach Datadog from this network); see testdata/README.md")
	}
	require.NoError(t, err)
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		t.Run(d.Name(), func(t *testing.T) {
			t.Parallel()
			site := cassetteSite(t, d.Name())
			live := filepath.Join("live", d.Name())
			conn, err := replay(t, filepath.Join(live, "refresh")).Refresh(t.Context(), connectionAt(site, "", "fake-rt"))
			require.NoError(t, err)
			assert.Equal(t, cassetteRedacted, conn.Token.AccessToken)
			k, err := replay(t, filepath.Join(live, "apikey")).CreateAPIKey(t.Context(), conn)
			if err == nil {
				assert.Equal(t, cassetteRedacted, k.Key)
				assert.Len(t, k.Last4, 4)
			} else {
				assert.True(t, errors.Is(err, ddoauth.ErrAPIKeyExists) || errors.Is(err, ddoauth.ErrForbidden), "%v", err)
			}
			assert.NoError(t, replay(t, filepath.Join(live, "revoke")).Revoke(t.Context(), conn))
		})
	}
}
