package ddoauthtest_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth/ddoauthtest"
)

func TestAPIKey(t *testing.T) {
	t.Parallel()
	us3 := site(t, "US3")
	srv, c := setup(t)
	clk := newClock()
	srv.Now = clk.Now
	tok := connect(t, srv, us3, c)
	org := srv.DefaultOrg(us3)

	r := bearerPost(t, srv, us3.APIKeyURL(), tok.str("access_token"))
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	var body struct {
		Data struct {
			Type       string `json:"type"`
			ID         string `json:"id"`
			Attributes struct {
				CreatedAt  string `json:"created_at"`
				Key        string `json:"key"`
				Last4      string `json:"last4"`
				ModifiedAt string `json:"modified_at"`
				Name       string `json:"name"`
			} `json:"attributes"`
			Relationships map[string]any `json:"relationships"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.body, &body))
	d := body.Data
	assert.Equal(t, "api_keys", d.Type)
	assert.NotEmpty(t, d.ID)
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{32}$`), d.Attributes.Key)
	assert.Equal(t, d.Attributes.Key[28:], d.Attributes.Last4)
	assert.Equal(t, "OAuth Client API Key", d.Attributes.Name)
	assert.Equal(t, "2025-06-01T12:00:00Z", d.Attributes.CreatedAt)
	assert.Equal(t, d.Attributes.CreatedAt, d.Attributes.ModifiedAt)
	assert.NotNil(t, d.Relationships)

	k, ok := srv.APIKey(org.ID)
	require.True(t, ok)
	assert.Equal(t, ddoauthtest.APIKey{ID: d.ID, OrgID: org.ID, ClientID: c.ID, Site: us3, Name: ddoauthtest.APIKeyName,
		Last4: d.Attributes.Last4, CreatedAt: clk.Now()}, k)

	r = bearerPost(t, srv, us3.APIKeyURL(), tok.str("access_token"))
	assert.Equal(t, http.StatusConflict, r.status, "one key per organization")
	assert.Contains(t, string(r.body), `{"errors":["`)
	assert.NotContains(t, string(r.body), d.Attributes.Key, "the value is shown once")

	validate := func(key string) int {
		req := mustGet(t, us3.APIURL()+"/api/v1/validate")
		req.Header.Set("DD-API-KEY", key)
		return do(t, srv.Client(), req).status
	}
	assert.Equal(t, http.StatusOK, validate(d.Attributes.Key))

	require.True(t, srv.RevokeAPIKey(org.ID))
	assert.False(t, srv.RevokeAPIKey(org.ID))
	_, ok = srv.APIKey(org.ID)
	assert.False(t, ok)
	assert.Equal(t, http.StatusForbidden, validate(d.Attributes.Key))
	r = send(t, srv, us3.APIURL()+"/api/v2/series", d.Attributes.Key, `{"series":[]}`)
	assert.Equal(t, http.StatusForbidden, r.status)

	// After the customer revoked it, the flow may create a new one.
	newKey := createKey(t, srv, us3, tok.str("access_token"))
	assert.NotEqual(t, d.Attributes.Key, newKey)
	assert.Equal(t, http.StatusOK, validate(newKey))
}

func TestAPIKeyForbidden(t *testing.T) {
	t.Parallel()
	us1, eu1 := site(t, "US1"), site(t, "EU1")
	tests := []struct {
		name  string
		token func(t *testing.T, srv *ddoauthtest.Server, clk *clock, c ddoauthtest.OAuthClient) string
		url   string
	}{
		{"no token", func(*testing.T, *ddoauthtest.Server, *clock, ddoauthtest.OAuthClient) string { return "" }, us1.APIKeyURL()},
		{"unknown token", func(*testing.T, *ddoauthtest.Server, *clock, ddoauthtest.OAuthClient) string { return "nope" }, us1.APIKeyURL()},
		{"without api_keys_write", func(t *testing.T, srv *ddoauthtest.Server, _ *clock, _ ddoauthtest.OAuthClient) string {
			return connect(t, srv, us1, srv.NewClient(redirectURI, ddoauthtest.ScopeEventsRead)).str("access_token")
		}, us1.APIKeyURL()},
		{"expired token", func(t *testing.T, srv *ddoauthtest.Server, clk *clock, c ddoauthtest.OAuthClient) string {
			tok := connect(t, srv, us1, c).str("access_token")
			clk.Advance(time.Hour)
			return tok
		}, us1.APIKeyURL()},
		{"token of another site", func(t *testing.T, srv *ddoauthtest.Server, _ *clock, c ddoauthtest.OAuthClient) string {
			return connect(t, srv, eu1, c).str("access_token")
		}, us1.APIKeyURL()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, c := setup(t)
			clk := newClock()
			srv.Now = clk.Now
			r := bearerPost(t, srv, tc.url, tc.token(t, srv, clk, c))
			assert.Equal(t, http.StatusForbidden, r.status)
			assert.JSONEq(t, `{"errors":["Forbidden"]}`, string(r.body))
		})
	}
}

func TestIntake(t *testing.T) {
	t.Parallel()
	us1, eu1, us5 := site(t, "US1"), site(t, "EU1"), site(t, "US5")
	srv, c := setup(t)
	usKey := createKey(t, srv, us1, connect(t, srv, us1, c).str("access_token"))
	euKey := createKey(t, srv, eu1, connect(t, srv, eu1, c).str("access_token"))
	usTok := connect(t, srv, us5, c).str("access_token")

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`[{"message":"zipped"}]`))
	zw.Close()

	tests := []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"series", func() *http.Request { return intakeReq(t, us1.APIURL()+"/api/v2/series", usKey, `{"series":[]}`) }, 202},
		{"events", func() *http.Request {
			return intakeReq(t, us1.APIURL()+"/api/v1/events", usKey, `{"title":"t","text":"x"}`)
		}, 202},
		{"logs", func() *http.Request {
			return intakeReq(t, us1.LogsIntakeURL()+"/api/v2/logs", usKey, `[{"message":"hi"}]`)
		}, 202},
		{"gzip logs", func() *http.Request {
			req := intakeReq(t, eu1.LogsIntakeURL()+"/api/v2/logs", euKey, "")
			req.Body, req.ContentLength = nopBody(gz.Bytes()), int64(gz.Len())
			req.Header.Set("Content-Encoding", "gzip")
			return req
		}, 202},
		{"key of another site", func() *http.Request { return intakeReq(t, eu1.APIURL()+"/api/v2/series", usKey, `{"series":[]}`) }, 403},
		{"key of another site at logs", func() *http.Request {
			return intakeReq(t, us1.LogsIntakeURL()+"/api/v2/logs", euKey, `[]`)
		}, 403},
		{"no key", func() *http.Request { return intakeReq(t, us1.APIURL()+"/api/v2/series", "", `{"series":[]}`) }, 403},
		{"bearer token instead of key", func() *http.Request {
			req := intakeReq(t, us5.APIURL()+"/api/v2/series", "", `{"series":[]}`)
			req.Header.Set("Authorization", "Bearer "+usTok)
			return req
		}, 403},
		{"malformed JSON", func() *http.Request { return intakeReq(t, us1.APIURL()+"/api/v2/series", usKey, `{"series":`) }, 400},
		{"logs on the API host", func() *http.Request { return intakeReq(t, us1.APIURL()+"/api/v2/logs", usKey, `[]`) }, 404},
		{"v1 series", func() *http.Request { return intakeReq(t, us1.APIURL()+"/api/v1/series", usKey, `{"series":[]}`) }, 202},
		{"v1 logs", func() *http.Request {
			return intakeReq(t, us1.LogsIntakeURL()+"/v1/input", usKey, `[{"message":"hi"}]`)
		}, 200},
		{"v1 logs on the API host", func() *http.Request { return intakeReq(t, us1.APIURL()+"/v1/input", usKey, `[]`) }, 404},
		{"v1 series on the logs host", func() *http.Request {
			return intakeReq(t, us1.LogsIntakeURL()+"/api/v1/series", usKey, `{"series":[]}`)
		}, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, srv.Client(), tc.req())
			assert.Equal(t, tc.status, r.status, string(r.body))
		})
	}

	got := srv.Received(us1)
	require.Len(t, got, 5)
	for i, want := range []ddoauthtest.Endpoint{ddoauthtest.EndpointSeries, ddoauthtest.EndpointEvents, ddoauthtest.EndpointLogs,
		ddoauthtest.EndpointSeries, ddoauthtest.EndpointLogs} {
		assert.Equal(t, want, got[i].Endpoint)
		assert.Equal(t, "us1-org", got[i].OrgID)
		assert.Equal(t, us1, got[i].Site)
	}
	assert.JSONEq(t, `{"title":"t","text":"x"}`, string(got[1].Body))
	eu := srv.Received(eu1)
	require.Len(t, eu, 1)
	assert.Equal(t, `[{"message":"zipped"}]`, string(eu[0].Body))
	assert.Len(t, srv.Received(us5), 0)
	assert.Len(t, srv.Received(us1.Region()), 5)
}

func TestEventsRead(t *testing.T) {
	t.Parallel()
	us1 := site(t, "US1")
	srv, c := setup(t)
	tok := connect(t, srv, us1, c).str("access_token")
	key := createKey(t, srv, us1, tok)
	require.Equal(t, http.StatusAccepted, send(t, srv, us1.APIURL()+"/api/v1/events", key, `{"title":"deploy"}`).status)

	req := mustGet(t, us1.APIURL()+"/api/v1/events")
	req.Header.Set("Authorization", "Bearer "+tok)
	r := do(t, srv.Client(), req)
	require.Equal(t, http.StatusOK, r.status)
	assert.JSONEq(t, `{"events":[{"title":"deploy"}]}`, string(r.body))

	noScope := connect(t, srv, us1, srv.NewClient(redirectURI, ddoauthtest.ScopeAPIKeysWrite)).str("access_token")
	req = mustGet(t, us1.APIURL()+"/api/v1/events")
	req.Header.Set("Authorization", "Bearer "+noScope)
	assert.Equal(t, http.StatusForbidden, do(t, srv.Client(), req).status)
}

func TestRouting(t *testing.T) {
	t.Parallel()
	srv, _ := setup(t)
	mem := &http.Client{Transport: srv.Transport()}
	tests := []struct {
		method, url string
		status      int
	}{
		{"GET", "https://evil.example/oauth2/v1/token", http.StatusMisdirectedRequest},
		{"GET", "https://datadoghq.com.evil.example/", http.StatusMisdirectedRequest},
		{"GET", "https://trace.agent.datadoghq.eu/v1/traces", http.StatusNotFound},
		{"GET", "https://browser-intake-us3-datadoghq.com/", http.StatusNotFound},
		{"GET", "https://api.datadoghq.com/api/v1/dashboards", http.StatusNotFound},
		{"GET", "https://api.datadoghq.com/oauth2/v1/token", http.StatusMethodNotAllowed},
		{"POST", "https://app.datadoghq.com/oauth2/v1/token", http.StatusNotFound},
		{"GET", "https://a.b.datadoghq.com/oauth2/v1/authorize", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.url, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, tc.url, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.status, do(t, mem, req).status)
		})
	}
}

func intakeReq(t *testing.T, rawURL, key, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("DD-API-KEY", key)
	}
	return req
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func nopBody(b []byte) readCloser { return readCloser{bytes.NewReader(b)} }

func TestIntakeEncodings(t *testing.T) {
	t.Parallel()
	us1 := site(t, "US1")
	srv, c := setup(t)
	key := createKey(t, srv, us1, connect(t, srv, us1, c).str("access_token"))
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write([]byte(`{"series":[1]}`))
	zw.Close()
	for _, tc := range []struct {
		encoding string
		body     []byte
		status   int
	}{
		{"deflate", z.Bytes(), http.StatusAccepted},
		{"deflate", z.Bytes()[:z.Len()/2], http.StatusBadRequest},
		{"gzip", []byte("not gzip"), http.StatusBadRequest},
		{"zstd", []byte("x"), http.StatusUnsupportedMediaType},
	} {
		req := intakeReq(t, us1.APIURL()+"/api/v2/series", key, "")
		req.Body, req.ContentLength = nopBody(tc.body), int64(len(tc.body))
		req.Header.Set("Content-Encoding", tc.encoding)
		assert.Equal(t, tc.status, do(t, srv.Client(), req).status, tc.encoding)
	}
	got := srv.Received(us1)
	require.Len(t, got, 1)
	assert.Equal(t, `{"series":[1]}`, string(got[0].Body))
}
