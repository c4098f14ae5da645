package ddoauthotel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthotel"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

const callbackPath = "/oauth/datadog/callback"

// rig is a partner backend instrumented with an SDK that keeps its spans
// and metrics in memory, in front of an emulated Datadog, and the list of
// every secret the test saw.
type rig struct {
	spans   *tracetest.SpanRecorder
	reader  *sdkmetric.ManualReader
	tel     *ddoauthotel.Telemetry
	dd      *ddoauthtest.Server
	oc      ddoauthtest.OAuthClient
	client  *ddoauth.Client
	store   *ddoauth.MemoryStore
	partner *httptest.Server // nil unless withHandlers

	mu      sync.Mutex
	secrets []string
}

func newTelemetry(t *testing.T) (*ddoauthotel.Telemetry, *tracetest.SpanRecorder, *sdkmetric.ManualReader) {
	t.Helper()
	spans := tracetest.NewSpanRecorder()
	reader := sdkmetric.NewManualReader()
	tel, err := ddoauthotel.New(
		ddoauthotel.WithTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))),
		ddoauthotel.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	require.NoError(t, err)
	return tel, spans, reader
}

// newRig starts the emulator (TLS unless dd is given) and a Client
// instrumented with a fresh SDK. With handlers it also serves the
// callback on a loopback partner server, whose OnConnect saves the
// connection under "tenant-1" and ensures its API key.
func newRig(t *testing.T, dd *ddoauthtest.Server, handlers bool) *rig {
	t.Helper()
	return newRigWith(t, dd, handlers, nil)
}

// newRigWith is newRig with its HandlerConfig changed by edit.
func newRigWith(t *testing.T, dd *ddoauthtest.Server, handlers bool, edit func(*ddoauth.HandlerConfig)) *rig {
	t.Helper()
	tel, spans, reader := newTelemetry(t)
	hc := &http.Client{Transport: nil}
	if dd == nil {
		dd = ddoauthtest.NewServer()
		t.Cleanup(dd.Close)
		hc = dd.Client()
	} else {
		hc = &http.Client{Transport: dd.Transport()}
	}
	r := &rig{spans: spans, reader: reader, tel: tel, dd: dd, store: &ddoauth.MemoryStore{}}
	redirect := "https://partner.example" + callbackPath
	mux := http.NewServeMux()
	if handlers {
		r.partner = httptest.NewServer(mux)
		t.Cleanup(r.partner.Close)
		redirect = r.partner.URL + callbackPath
	}
	r.oc = dd.NewClient(redirect)
	r.addSecret(r.oc.Secret)
	var err error
	r.client, err = ddoauth.New(ddoauth.Config{ClientID: r.oc.ID, ClientSecret: r.oc.Secret, RedirectURL: redirect,
		HTTPClient: hc, Telemetry: tel})
	require.NoError(t, err)
	if handlers {
		keys := &ddoauth.MemoryStore{}
		hcfg := ddoauth.HandlerConfig{
			CookieKeys:        [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
			InsecureNoSession: true,
			OnConnect: func(req *http.Request, conn *ddoauth.Connection) error {
				r.addSecret(conn.Token.AccessToken, conn.Token.RefreshToken)
				if err := r.store.Save(req.Context(), "tenant-1", conn); err != nil {
					return err
				}
				key, err := r.client.EnsureAPIKey(req.Context(), conn, keys, "tenant-1")
				if err == nil {
					r.addSecret(key.Key)
				}
				return err
			},
		}
		if edit != nil {
			edit(&hcfg)
		}
		h, err := r.client.Handlers(hcfg)
		require.NoError(t, err)
		mux.Handle("GET /onboarding", h.Onboarding())
		mux.Handle("GET "+callbackPath, h.Callback())
	}
	return r
}

func (r *rig) addSecret(s ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = append(r.secrets, s...)
}

// connect authorizes one organization at site with Complete and saves
// the connection under "tenant-1".
func (r *rig) connect(t *testing.T, site ddoauth.Site) *ddoauth.Connection {
	t.Helper()
	authURL, p, err := r.client.Start(site)
	require.NoError(t, err)
	r.addSecret(p.Verifier, p.State)
	cb, err := r.dd.Approve(t.Context(), authURL)
	require.NoError(t, err)
	r.addSecret(cb.Query().Get("code"))
	conn, err := r.client.Complete(t.Context(), p, cb.Query())
	require.NoError(t, err)
	r.addSecret(conn.Token.AccessToken, conn.Token.RefreshToken)
	require.NoError(t, r.store.Save(t.Context(), "tenant-1", conn))
	return conn
}

// ended returns the ended spans named name.
func (r *rig) ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attrMap(kvs []attribute.KeyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}

// metrics collects the meter provider's data: for each instrument, its
// data points' attributes and values (the count for a histogram).
func (r *rig) metrics(t *testing.T) map[string][]point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(t.Context(), &rm))
	out := map[string][]point{}
	for _, sm := range rm.ScopeMetrics {
		assert.Equal(t, ddoauthotel.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{attrMap(dp.Attributes.ToSlice()), dp.Value})
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{attrMap(dp.Attributes.ToSlice()), int64(dp.Count)})
				}
			default:
				t.Fatalf("metric %s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return out
}

type point struct {
	attrs map[string]any
	value int64
}

// leaked scans every span (name, attributes, status, events, links) and
// every metric data point's attributes for the secrets the test saw and
// extra (the organization's name, say), and returns those it finds.
func (r *rig) leaked(t *testing.T, extra ...string) []string {
	t.Helper()
	r.mu.Lock()
	secrets := append(append([]string(nil), r.secrets...), extra...)
	r.mu.Unlock()
	var texts []string
	for _, s := range r.spans.Ended() {
		texts = append(texts, s.Name(), s.Status().Description, fmt.Sprint(s.Attributes()))
		for _, e := range s.Events() {
			texts = append(texts, e.Name, fmt.Sprint(e.Attributes))
		}
		for _, l := range s.Links() {
			texts = append(texts, fmt.Sprint(l.Attributes))
		}
	}
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(t.Context(), &rm))
	texts = append(texts, fmt.Sprintf("%+v", rm.ScopeMetrics))
	all := strings.Join(texts, "\n")
	require.NotEmpty(t, r.spans.Ended())
	var found []string
	for _, s := range secrets {
		require.GreaterOrEqual(t, len(s), 6, "a secret too short to scan for")
		if strings.Contains(all, s) {
			found = append(found, s)
		}
	}
	return found
}

func (r *rig) assertNoSecret(t *testing.T, extra ...string) {
	t.Helper()
	assert.Empty(t, r.leaked(t, extra...))
}

func TestExchangeAndRefresh(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil, false)
	conn := r.connect(t, ddoauth.Sites()[3])

	ex := r.ended("ddoauth.exchange")
	require.Len(t, ex, 1)
	assert.Equal(t, map[string]any{"ddoauth.operation": "exchange", "ddoauth.site": "EU1", "ddoauth.outcome": "ok"},
		attrMap(ex[0].Attributes()))
	assert.Equal(t, codes.Unset, ex[0].Status().Code)

	// A refresh: the connection's token is rejected once, as a 401 would.
	ts := r.client.TokenSource(r.store, "tenant-1")
	_, err := ts.TokenContext(t.Context())
	require.NoError(t, err)
	refreshed := refreshNow(t, r, ts, conn)
	r.addSecret(refreshed.Token.AccessToken, refreshed.Token.RefreshToken)

	rf := r.ended("ddoauth.refresh")
	require.Len(t, rf, 1)
	assert.Equal(t, map[string]any{"ddoauth.operation": "refresh", "ddoauth.site": "EU1", "ddoauth.outcome": "ok"},
		attrMap(rf[0].Attributes()))

	m := r.metrics(t)
	assert.Equal(t, []point{{map[string]any{"ddoauth.site": "EU1", "ddoauth.outcome": "ok"}, 1}}, m["ddoauth.exchanges"])
	assert.Equal(t, []point{{map[string]any{"ddoauth.site": "EU1", "ddoauth.outcome": "ok"}, 1}}, m["ddoauth.refreshes"])
	assert.Equal(t, []point{{map[string]any{"ddoauth.site": "EU1", "ddoauth.outcome": "ok"}, 1}}, m["ddoauth.refresh.duration"])
	assert.Equal(t, []point{{map[string]any{"ddoauth.site": "EU1", "ddoauth.outcome": "ok", "http.response.status_code": int64(200)}, 2}},
		m["ddoauth.token.requests"])
	r.assertNoSecret(t)
}

// refreshNow makes ts refresh by sending a request through its Transport
// that the API host refuses once with 401, and returns the stored result.
func refreshNow(t *testing.T, r *rig, ts *ddoauth.TokenSource, conn *ddoauth.Connection) *ddoauth.Connection {
	t.Helper()
	refused := false
	base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if !refused {
			refused = true
			return &http.Response{StatusCode: http.StatusUnauthorized, Body: http.NoBody, Header: http.Header{}, Request: req}, nil
		}
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}, Request: req}, nil
	})
	resp, err := ts.Client(base).Get(conn.Site.APIURL() + "/api/v1/validate")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	next, err := r.store.Load(t.Context(), "tenant-1")
	require.NoError(t, err)
	require.NotEqual(t, conn.Token.AccessToken, next.Token.AccessToken)
	return next
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The callback span is the parent of the code exchange and of the API key
// creation OnConnect runs; the organization's custom subdomain and name
// appear nowhere.
func TestCallback(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil, true)
	us5 := ddoauth.Sites()[2]
	org := r.dd.AddOrg(ddoauthtest.Org{Name: "Initech Secret Holdings", Site: us5, Subdomain: "initech-hidden"})
	r.dd.SignIn(org.ID)
	r.dd.AutoConsent = true
	browser := r.dd.Browser(r.partner.Client().Transport)
	var code string
	browser.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == callbackPath {
			code = req.URL.Query().Get("code")
		}
		return nil
	}
	resp, err := browser.Get(r.partner.URL + "/onboarding?" + url.Values{"site": {"https://initech-hidden.us5.datadoghq.com"}}.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, code)
	r.addSecret(code)

	cbs := r.ended("ddoauth.callback")
	require.Len(t, cbs, 1)
	assert.Equal(t, map[string]any{"ddoauth.operation": "callback", "ddoauth.site": "US5", "ddoauth.outcome": "ok",
		"http.response.status_code": int64(200)}, attrMap(cbs[0].Attributes()))
	for _, name := range []string{"ddoauth.exchange", "ddoauth.create_api_key"} {
		s := r.ended(name)
		require.Len(t, s, 1, name)
		assert.Equal(t, cbs[0].SpanContext().SpanID(), s[0].Parent().SpanID(), name)
		assert.Equal(t, "US5", attrMap(s[0].Attributes())["ddoauth.site"], name)
		assert.Equal(t, "ok", attrMap(s[0].Attributes())["ddoauth.outcome"], name)
	}
	m := r.metrics(t)
	assert.Equal(t, []point{{map[string]any{"ddoauth.site": "US5", "ddoauth.outcome": "ok", "http.response.status_code": int64(200)}, 1}},
		m["ddoauth.callbacks"])
	assert.Equal(t, []point{{map[string]any{"ddoauth.site": "US5", "ddoauth.outcome": "ok"}, 1}}, m["ddoauth.api_key.creations"])

	// The same callback again: a replay, refused before any exchange.
	u, err := url.Parse(r.partner.URL + callbackPath + "?" + url.Values{"code": {code}, "state": {"replayed-state-value"}}.Encode())
	require.NoError(t, err)
	resp, err = browser.Get(u.String())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	cbs = r.ended("ddoauth.callback")
	require.Len(t, cbs, 2)
	assert.Equal(t, map[string]any{"ddoauth.operation": "callback", "ddoauth.outcome": "invalid_request",
		"http.response.status_code": int64(400)}, attrMap(cbs[1].Attributes()))
	assert.Equal(t, codes.Error, cbs[1].Status().Code)
	assert.Len(t, r.ended("ddoauth.exchange"), 1)

	// The user declines: the page is 403 and the outcome says why.
	r.dd.AutoConsent = false
	stop := *browser
	stop.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err = stop.Get(r.partner.URL + "/onboarding?site=datadoghq.eu")
	require.NoError(t, err)
	resp.Body.Close()
	denied, err := r.dd.Deny(t.Context(), resp.Header.Get("Location"))
	require.NoError(t, err)
	resp, err = browser.Get(denied.String())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	cbs = r.ended("ddoauth.callback")
	require.Len(t, cbs, 3)
	assert.Equal(t, map[string]any{"ddoauth.operation": "callback", "ddoauth.site": "EU1", "ddoauth.outcome": "access_denied",
		"http.response.status_code": int64(403), "ddoauth.oauth.error": "access_denied"}, attrMap(cbs[2].Attributes()))
	assert.Len(t, r.ended("ddoauth.exchange"), 1)
	r.assertNoSecret(t, org.Name, org.Subdomain, "replayed-state-value")
}

// TestCallbackSuccessURL: a callback that redirects to the partner's
// page is a success, not a refused request.
func TestCallbackSuccessURL(t *testing.T) {
	t.Parallel()
	r := newRigWith(t, nil, true, func(c *ddoauth.HandlerConfig) { c.SuccessURL = "/connected" })
	org := r.dd.AddOrg(ddoauthtest.Org{Name: "Acme", Site: ddoauth.Sites()[3]})
	r.dd.SignIn(org.ID)
	r.dd.AutoConsent = true
	browser := r.dd.Browser(r.partner.Client().Transport)
	browser.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == "/connected" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := browser.Get(r.partner.URL + "/onboarding?site=datadoghq.eu")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/connected", resp.Header.Get("Location"))

	cbs := r.ended("ddoauth.callback")
	require.Len(t, cbs, 1)
	assert.Equal(t, map[string]any{"ddoauth.operation": "callback", "ddoauth.site": "EU1", "ddoauth.outcome": "ok",
		"http.response.status_code": int64(303)}, attrMap(cbs[0].Attributes()))
	assert.Equal(t, codes.Unset, cbs[0].Status().Code)
}

func TestRevokeAndAPIKey(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil, false)
	conn := r.connect(t, ddoauth.Sites()[0])
	key, err := r.client.CreateAPIKey(t.Context(), conn)
	require.NoError(t, err)
	r.addSecret(key.Key)
	_, err = r.client.CreateAPIKey(t.Context(), conn)
	require.ErrorIs(t, err, ddoauth.ErrAPIKeyExists)

	r.dd.Fail(ddoauthtest.EndpointRevoke, ddoauthtest.Fault{Times: 1, Status: 503})
	require.ErrorIs(t, r.client.Revoke(t.Context(), conn), ddoauth.ErrNotRevoked)
	require.NoError(t, r.client.Revoke(t.Context(), conn))

	keys := r.ended("ddoauth.create_api_key")
	require.Len(t, keys, 2)
	assert.Equal(t, "ok", attrMap(keys[0].Attributes())["ddoauth.outcome"])
	assert.Equal(t, "api_key_exists", attrMap(keys[1].Attributes())["ddoauth.outcome"])
	revokes := r.ended("ddoauth.revoke")
	require.Len(t, revokes, 2)
	assert.Equal(t, map[string]any{"ddoauth.operation": "revoke", "ddoauth.site": "US1", "ddoauth.outcome": "5xx",
		"http.response.status_code": int64(503), "ddoauth.oauth.error": "temporarily_unavailable"}, attrMap(revokes[0].Attributes()))
	assert.Equal(t, codes.Error, revokes[0].Status().Code)
	assert.Equal(t, "5xx", revokes[0].Status().Description)
	assert.Equal(t, map[string]any{"ddoauth.operation": "revoke", "ddoauth.site": "US1", "ddoauth.outcome": "ok"},
		attrMap(revokes[1].Attributes()))

	m := r.metrics(t)
	assert.ElementsMatch(t, []point{
		{map[string]any{"ddoauth.site": "US1", "ddoauth.outcome": "5xx", "http.response.status_code": int64(503),
			"ddoauth.oauth.error": "temporarily_unavailable"}, 1},
		{map[string]any{"ddoauth.site": "US1", "ddoauth.outcome": "ok"}, 1},
	}, m["ddoauth.revocations"])
	assert.ElementsMatch(t, []point{
		{map[string]any{"ddoauth.site": "US1", "ddoauth.outcome": "ok"}, 1},
		{map[string]any{"ddoauth.site": "US1", "ddoauth.outcome": "api_key_exists", "http.response.status_code": int64(409)}, 1},
	}, m["ddoauth.api_key.creations"])
	r.assertNoSecret(t)
}

// A code Datadog refuses: the exchange span says invalid_grant with the
// status and OAuth code, and carries neither the code nor the verifier.
func TestExchangeRefused(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil, false)
	authURL, p, err := r.client.Start(ddoauth.Sites()[4])
	require.NoError(t, err)
	r.addSecret(p.Verifier)
	cb, err := r.dd.Approve(t.Context(), authURL)
	require.NoError(t, err)
	q := cb.Query()
	r.addSecret(q.Get("code"))
	q.Set("code", "forged-code-0123456789")
	_, err = r.client.Complete(t.Context(), p, q)
	require.ErrorIs(t, err, ddoauth.ErrInvalidGrant)
	ex := r.ended("ddoauth.exchange")
	require.Len(t, ex, 1)
	a := attrMap(ex[0].Attributes())
	assert.Equal(t, "AP1", a["ddoauth.site"])
	assert.Equal(t, "invalid_grant", a["ddoauth.outcome"])
	assert.Equal(t, "invalid_grant", a["ddoauth.oauth.error"])
	assert.Equal(t, int64(400), a["http.response.status_code"])
	r.assertNoSecret(t, "forged-code-0123456789")
}

// Refresh outcomes by what Datadog answered, each retry a token request.
func TestRefreshOutcomes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		fault    *ddoauthtest.Fault
		revoke   bool
		conflict bool
		outcome  string
		status   int64
		posts    int64
	}{
		{name: "503", fault: &ddoauthtest.Fault{Times: -1, Status: 503}, outcome: "5xx", status: 503, posts: 4},
		{name: "429", fault: &ddoauthtest.Fault{Times: 1, Status: 429, RetryAfter: time.Hour}, outcome: "429", status: 429, posts: 1},
		{name: "network", fault: &ddoauthtest.Fault{Times: -1, DropConnection: true}, outcome: "network", posts: 4},
		{name: "revoked", revoke: true, outcome: "revoked", status: 400, posts: 1},
		{name: "conflict", conflict: true, outcome: "conflict", status: 200, posts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, ddoauthtest.NewUnstartedServer(), false)
				r.connect(t, ddoauth.Sites()[6])
				var store ddoauth.Store = r.store
				if tt.conflict {
					store = conflicting{r.store}
				}
				time.Sleep(2 * time.Hour)
				switch {
				case tt.fault != nil:
					r.dd.Fail(ddoauthtest.EndpointToken, *tt.fault)
				case tt.revoke:
					r.dd.RevokeTokens(r.dd.DefaultOrg(ddoauth.Sites()[6]).ID)
				}
				r.spans.Reset()
				before := r.metrics(t)["ddoauth.token.requests"]
				_, err := r.client.TokenSource(store, "tenant-1").TokenContext(t.Context())
				require.Error(t, err)
				synctest.Wait()
				rf := r.ended("ddoauth.refresh")
				require.Len(t, rf, 1)
				a := attrMap(rf[0].Attributes())
				assert.Equal(t, tt.outcome, a["ddoauth.outcome"])
				assert.Equal(t, "UK1", a["ddoauth.site"])
				if tt.status != 0 && !tt.conflict {
					assert.Equal(t, tt.status, a["http.response.status_code"])
				}
				assert.Equal(t, codes.Error, rf[0].Status().Code)
				m := r.metrics(t)
				require.Len(t, m["ddoauth.refreshes"], 1)
				assert.Equal(t, tt.outcome, m["ddoauth.refreshes"][0].attrs["ddoauth.outcome"])
				assert.Equal(t, tt.posts, sum(m["ddoauth.token.requests"])-sum(before))
				r.assertNoSecret(t)
			})
		})
	}
}

func sum(ps []point) int64 {
	var n int64
	for _, p := range ps {
		n += p.value
	}
	return n
}

// conflicting is a store whose writes always find the record changed.
type conflicting struct{ *ddoauth.MemoryStore }

func (conflicting) Save(context.Context, string, *ddoauth.Connection) error {
	return fmt.Errorf("test store: %w", ddoauth.ErrConflict)
}

// Two replicas on one store: the one that finds the lease held waits,
// in a lease-wait span inside its refresh span, and serves the holder's
// token; one token request in all.
func TestFleetLeaseWait(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, ddoauthtest.NewUnstartedServer(), false)
		r.connect(t, ddoauth.Sites()[3])
		other, err := ddoauth.New(ddoauth.Config{ClientID: r.oc.ID, ClientSecret: r.oc.Secret,
			RedirectURL: "https://partner.example" + callbackPath,
			HTTPClient:  &http.Client{Transport: r.dd.Transport()}, Telemetry: r.tel})
		require.NoError(t, err)
		holder, waiter := r.client.TokenSource(r.store, "tenant-1"), other.TokenSource(r.store, "tenant-1")
		time.Sleep(2 * time.Hour)
		r.dd.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Times: 1, Delay: 3 * time.Second})
		r.spans.Reset()
		var wg sync.WaitGroup
		wg.Go(func() {
			_, err := holder.TokenContext(context.Background())
			assert.NoError(t, err)
		})
		synctest.Wait() // the holder's token request is in flight, under the lease
		tok, err := waiter.TokenContext(t.Context())
		require.NoError(t, err)
		r.addSecret(tok.AccessToken, tok.RefreshToken)
		wg.Wait()
		synctest.Wait()

		waits := r.ended("ddoauth.lease_wait")
		require.Len(t, waits, 1)
		assert.Equal(t, map[string]any{"ddoauth.operation": "lease_wait", "ddoauth.site": "EU1", "ddoauth.outcome": "peer_refreshed"},
			attrMap(waits[0].Attributes()))
		assert.Equal(t, codes.Unset, waits[0].Status().Code)
		refreshes := r.ended("ddoauth.refresh")
		require.Len(t, refreshes, 2)
		var parents []bool
		for _, rf := range refreshes {
			parents = append(parents, rf.SpanContext().SpanID() == waits[0].Parent().SpanID())
			assert.Equal(t, "ok", attrMap(rf.Attributes())["ddoauth.outcome"])
		}
		assert.ElementsMatch(t, []bool{true, false}, parents)
		assert.GreaterOrEqual(t, waits[0].EndTime().Sub(waits[0].StartTime()), time.Duration(0))

		m := r.metrics(t)
		assert.Equal(t, []point{{map[string]any{"ddoauth.site": "EU1", "ddoauth.outcome": "peer_refreshed"}, 1}}, m["ddoauth.lease.waits"])
		assert.Equal(t, []point{{map[string]any{"ddoauth.site": "EU1", "ddoauth.outcome": "peer_refreshed"}, 1}}, m["ddoauth.lease.wait.duration"])
		assert.Equal(t, []point{{map[string]any{"ddoauth.site": "EU1", "ddoauth.outcome": "ok"}, 2}}, m["ddoauth.refreshes"])
		// The exchange's token request and the holder's refresh.
		assert.Equal(t, int64(2), sum(m["ddoauth.token.requests"]))
		r.assertNoSecret(t)
	})
}

// The scan finds a secret that reaches an attribute: it is not vacuous.
func TestLeakedFinds(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil, false)
	r.connect(t, ddoauth.Sites()[0])
	assert.Empty(t, r.leaked(t))
	_, span := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans)).Tracer("t").Start(t.Context(), "leak")
	span.SetAttributes(attribute.String("leak", "x"+r.oc.Secret))
	span.End()
	assert.Equal(t, []string{r.oc.Secret}, r.leaked(t))
}

// New with no option uses the global providers: no-ops until the
// application installs an SDK.
func TestNewGlobal(t *testing.T) {
	t.Parallel()
	tel, err := ddoauthotel.New()
	require.NoError(t, err)
	ctx, end := tel.Start(t.Context(), ddoauth.OpRefresh)
	assert.NotNil(t, ctx)
	end(ddoauth.Result{Outcome: "ok"})
}
