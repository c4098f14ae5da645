package ddoauth

import (
	"bytes"
	"context"
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

func TestCookieNamesAreDistinctAndOpaque(t *testing.T) {
	t.Parallel()
	a, b := cookieName("state-one"), cookieName("state-two")
	assert.NotEqual(t, a, b)
	assert.NotContains(t, a, "state")
	assert.Len(t, a, len("ddoauth_")+16)
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
	h, err := c.Handlers(HandlerConfig{CookieKeys: [][]byte{key},
		OnConnect: func(*http.Request, *Connection) error { return nil },
		OnError:   func(_ *http.Request, err error) { errs = append(errs, err.Error(), fmt.Sprintf("%+v", err)) }})
	require.NoError(t, err)

	rec := httptest.NewRecorder()
	h.Onboarding().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/onboarding?domain=datadoghq.eu", nil))
	ck := rec.Result().Cookies()[0]
	p, ok := h.open(ck.Name, []*http.Cookie{ck})
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
