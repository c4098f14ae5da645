package ddoauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemoryStoreUsedStatesExpire(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u := &MemoryStore{Now: func() time.Time { return now }}
	ctx := context.Background()
	for _, tc := range []struct {
		advance time.Duration
		key     string
		want    bool
	}{
		{0, "a", true},
		{0, "a", false},
		{0, "b", true},
		{10*time.Minute - time.Second, "a", false},
		{time.Second, "a", true}, // a's record ends at 10 minutes
		{0, "a", false},
	} {
		now = now.Add(tc.advance)
		first, err := u.Use(ctx, tc.key, now.Add(10*time.Minute))
		require.NoError(t, err)
		assert.Equal(t, tc.want, first, "%s at +%s", tc.key, tc.advance)
	}
	now = now.Add(time.Hour)
	_, err := u.Use(ctx, "c", now.Add(time.Minute))
	require.NoError(t, err)
	assert.Len(t, u.used, 1, "expired records are swept")
}

func TestZeroHandlersFormat(t *testing.T) {
	t.Parallel()
	assert.Equal(t, `ddoauth.Handlers{RedirectURL:"" SitePicker:false}`, fmt.Sprint(Handlers{}))
}

// TestCookieNames: __Host- on https, unprefixed on loopback http (local
// development), shared by the replicas of one integration and distinct
// for two integrations on one host.
func TestCookieNames(t *testing.T) {
	t.Parallel()
	handlers := func(id, redirect string) *Handlers {
		c, err := New(Config{ClientID: id, ClientSecret: "secret", RedirectURL: redirect})
		require.NoError(t, err)
		h, err := c.Handlers(HandlerConfig{CookieKeys: [][]byte{bytes.Repeat([]byte{9}, 32)}, InsecureNoSession: true,
			OnConnect: func(*http.Request, *Connection) error { return nil }})
		require.NoError(t, err)
		return h
	}
	a := handlers("one", "https://partner.example/cb")
	assert.Regexp(t, `^__Host-ddoauth-[A-Za-z0-9_-]{8}-0$`, a.slotName(0))
	assert.Equal(t, a.slotName(3), handlers("one", "https://partner.example/cb").slotName(3), "replicas")
	assert.NotEqual(t, a.slotName(0), handlers("two", "https://partner.example/cb").slotName(0))
	assert.NotEqual(t, a.slotName(0), handlers("one", "https://partner.example/other").slotName(0))
	assert.Regexp(t, `^ddoauth-[A-Za-z0-9_-]{8}-0$`, handlers("one", "http://127.0.0.1:8080/cb").slotName(0))
	assert.NotEqual(t, usedKey("state-one"), usedKey("state-two"))
}

type echoTransport struct{}

// RoundTrip answers every token request with an error that repeats the
// request's form, secrets included, as a careless server might.
func (echoTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	desc := "bad verifier " + form.Get("code_verifier") + " code " + form.Get("code") + " secret " + form.Get("client_secret")
	b, _ := json.Marshal(map[string]string{"error": "invalid_grant", "error_description": desc})
	return &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(b)), Request: r}, nil
}

// TestHandlersKeepVerifierSecret reads the verifier out of the sealed
// cookie and checks that no page, error or log line repeats it, even when
// Datadog's answer does.
func TestHandlersKeepVerifierSecret(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	c, err := New(Config{ClientID: "client", ClientSecret: "s3cret-client-value", RedirectURL: "https://partner.example/cb",
		HTTPClient: &http.Client{Transport: echoTransport{}}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	key := bytes.Repeat([]byte{9}, 32)
	var errs []string
	h, err := c.Handlers(HandlerConfig{CookieKeys: [][]byte{key}, InsecureNoSession: true,
		OnConnect: func(*http.Request, *Connection) error { return nil },
		OnError:   func(_ *http.Request, err error) { errs = append(errs, err.Error(), fmt.Sprintf("%+v", err)) }})
	require.NoError(t, err)

	rec := httptest.NewRecorder()
	h.Onboarding().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/onboarding?domain=datadoghq.eu", nil))
	ck := rec.Result().Cookies()[0]
	p, ok := h.open([]*http.Cookie{ck})
	require.True(t, ok)
	assert.NotContains(t, ck.Value, p.Verifier)

	rec = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/cb?code=the-one-time-code&domain=datadoghq.eu&state="+url.QueryEscape(p.State), nil)
	req.AddCookie(ck)
	h.Callback().ServeHTTP(rec, req)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	require.NotEmpty(t, errs)
	for _, out := range append(errs, rec.Body.String(), logs.String(), fmt.Sprintf("%v %+v", h, *h)) {
		for _, secret := range []string{p.Verifier, p.State, "the-one-time-code", "s3cret-client-value", string(key)} {
			assert.NotContains(t, out, secret)
		}
	}
}

// TestPendingCookieHoldsSessionHash: the sealed cookie binds the session
// by a hash; the session's ID, a secret, is not in it even once opened.
func TestPendingCookieHoldsSessionHash(t *testing.T) {
	t.Parallel()
	const id = "partner-session-id-0123456789abcdef"
	c, err := New(Config{ClientID: "client", ClientSecret: "secret", RedirectURL: "https://partner.example/cb"})
	require.NoError(t, err)
	h, err := c.Handlers(HandlerConfig{CookieKeys: [][]byte{bytes.Repeat([]byte{9}, 32)},
		Session:   func(*http.Request) (string, error) { return id, nil },
		OnConnect: func(*http.Request, *Connection) error { return nil }})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.Onboarding().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/onboarding?domain=datadoghq.eu", nil))
	require.Equal(t, http.StatusFound, rec.Code)
	ck := rec.Result().Cookies()[0]
	raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
	require.NoError(t, err)
	plain, err := h.box.Open(raw, h.pendingAAD())
	require.NoError(t, err)
	for _, form := range []string{id, base64.StdEncoding.EncodeToString([]byte(id)), base64.RawURLEncoding.EncodeToString([]byte(id))} {
		assert.NotContains(t, string(plain), form)
		assert.NotContains(t, ck.Value, form)
	}
	sp, ok := h.open([]*http.Cookie{ck})
	require.True(t, ok)
	want, err := h.session(httptest.NewRequest(http.MethodGet, "/cb", nil))
	require.NoError(t, err)
	assert.Equal(t, want, sp.Session)
	assert.Len(t, sp.Session, 22, "128 bits")
}
