package integration

//lint:file-ignore SA1019 datadogV1's SubmitLog (/v1/input) is deprecated, but it goes to the same logs intake host through the same transport as datadogV2's /api/v2/logs, which make test-v2 covers.

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/datadogclient"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

const redirectURL = "https://partner.example/oauth/datadog/callback"

// clock is a settable clock shared by the client and the emulator, so
// access tokens expire without waiting.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one emulated Datadog with a partner's OAuth client registered on
// it, the ddoauth client for it and an official client wired to it.
type env struct {
	dd     *ddoauthtest.Server
	client *ddoauth.Client
	clock  *clock
	api    *datadog.APIClient
}

// us7 is a site Datadog might add, which the official client's site list
// lacks: it is reached through the client's "any deployment" server.
func us7(t *testing.T) ddoauth.Site {
	t.Helper()
	site, err := ddoauth.NewSite("US7", "us7.datadoghq.com", "us7.datadoghq.com")
	require.NoError(t, err)
	return site
}

func setup(t *testing.T) *env {
	t.Helper()
	clk := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	dd := ddoauthtest.NewServer()
	t.Cleanup(dd.Close)
	dd.Now = clk.Now
	extra := us7(t)
	dd.AddSite(extra)
	oc := dd.NewClient(redirectURL, ddoauthtest.ScopeAPIKeysWrite, ddoauthtest.ScopeEventsRead)
	client, err := ddoauth.New(ddoauth.Config{
		ClientID:     oc.ID,
		ClientSecret: oc.Secret,
		RedirectURL:  redirectURL,
		HTTPClient:   dd.Client(),
		Now:          clk.Now,
		Sites:        []ddoauth.Site{extra},
	})
	require.NoError(t, err)
	cfg := datadog.NewConfiguration()
	cfg.HTTPClient = &http.Client{Transport: &datadogclient.Transport{Base: dd.Client().Transport}}
	return &env{dd: dd, client: client, clock: clk, api: datadog.NewAPIClient(cfg)}
}

// connect runs the authorization for site's default organization, as the
// customer's browser would.
func (e *env) connect(t *testing.T, site ddoauth.Site) *ddoauth.Connection {
	t.Helper()
	authURL, pending, err := e.client.Start(site)
	require.NoError(t, err)
	callback, err := e.dd.Approve(t.Context(), authURL)
	require.NoError(t, err)
	conn, err := e.client.Complete(t.Context(), pending, callback.Query())
	require.NoError(t, err)
	require.Equal(t, site.Domain(), conn.Site.Domain())
	return conn
}

// requests returns the logged requests to endpoint.
func (e *env) requests(endpoint ddoauthtest.Endpoint) []ddoauthtest.Request {
	var out []ddoauthtest.Request
	for _, r := range e.dd.Requests() {
		if r.Endpoint == endpoint {
			out = append(out, r)
		}
	}
	return out
}

// everySite is Datadog's nine sites and one added with NewSite.
func everySite(t *testing.T) []ddoauth.Site {
	return append(ddoauth.Sites(), us7(t))
}

// TestSendDataEverySite sends a metric, a log and an event with the
// official client and a connection's API key, and finds each at the
// connection's site, on the host Datadog serves it from.
func TestSendDataEverySite(t *testing.T) {
	t.Parallel()
	for _, site := range everySite(t) {
		t.Run(site.Name(), func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			d := site.Domain()
			key, err := e.client.CreateAPIKey(t.Context(), e.connect(t, site))
			require.NoError(t, err)
			ctx := datadogclient.IntakeContext(t.Context(), key)
			now := e.clock.Now().Unix()

			series := datadogV1.NewSeries("partner.sync.duration", [][]*float64{
				{datadog.PtrFloat64(float64(now)), datadog.PtrFloat64(1.5)},
			})
			series.SetType("gauge")
			series.SetTags([]string{"site:" + site.Name()})
			_, resp, err := datadogV1.NewMetricsApi(e.api).SubmitMetrics(ctx, *datadogV1.NewMetricsPayload([]datadogV1.Series{*series}))
			require.NoError(t, err)
			assert.Equal(t, http.StatusAccepted, resp.StatusCode)

			item := datadogV1.NewHTTPLogItem("connected to " + site.Name())
			item.SetDdsource("partner")
			item.SetService("partner-sync")
			_, resp, err = datadogV1.NewLogsApi(e.api).SubmitLog(ctx, []datadogV1.HTTPLogItem{*item})
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)

			event := datadogV1.NewEventCreateRequest("the partner connected", "Partner sync")
			_, resp, err = datadogV1.NewEventsApi(e.api).CreateEvent(ctx, *event)
			require.NoError(t, err)
			assert.Equal(t, http.StatusAccepted, resp.StatusCode)

			got := e.dd.Received(site)
			require.Len(t, got, 3)
			assert.Len(t, e.dd.Received(ddoauth.Site{}), 3, "another site received data")
			org := e.dd.DefaultOrg(site).ID
			for i, want := range []ddoauthtest.Endpoint{ddoauthtest.EndpointSeries, ddoauthtest.EndpointLogs, ddoauthtest.EndpointEvents} {
				assert.Equal(t, want, got[i].Endpoint)
				assert.Equal(t, d, got[i].Site.Domain())
				assert.Equal(t, org, got[i].OrgID)
			}

			var metrics struct {
				Series []struct {
					Metric string       `json:"metric"`
					Type   string       `json:"type"`
					Tags   []string     `json:"tags"`
					Points [][2]float64 `json:"points"`
				} `json:"series"`
			}
			require.NoError(t, json.Unmarshal(got[0].Body, &metrics))
			require.Len(t, metrics.Series, 1)
			s := metrics.Series[0]
			assert.Equal(t, "partner.sync.duration", s.Metric)
			assert.Equal(t, "gauge", s.Type)
			assert.Equal(t, []string{"site:" + site.Name()}, s.Tags)
			assert.Equal(t, [][2]float64{{float64(now), 1.5}}, s.Points)

			var logs []map[string]string
			require.NoError(t, json.Unmarshal(got[1].Body, &logs))
			assert.Equal(t, []map[string]string{{"message": "connected to " + site.Name(), "ddsource": "partner", "service": "partner-sync"}}, logs)
			assert.Contains(t, string(got[2].Body), `"title":"Partner sync"`)

			urls := map[ddoauthtest.Endpoint]string{
				ddoauthtest.EndpointSeries: "api." + d + "/api/v1/series",
				ddoauthtest.EndpointLogs:   "http-intake.logs." + d + "/v1/input",
				ddoauthtest.EndpointEvents: "api." + d + "/api/v1/events",
			}
			for endpoint, url := range urls {
				reqs := e.requests(endpoint)
				require.Len(t, reqs, 1, endpoint)
				r := reqs[0]
				assert.Equal(t, url, r.Host+r.Path, endpoint)
				assert.Equal(t, http.MethodPost, r.Method, endpoint)
				assert.Less(t, r.Status, 300, endpoint)
				assert.Equal(t, []string{ddoauthtest.Fingerprint(key.Key)}, r.Header["Dd-Api-Key"], endpoint)
				assert.Empty(t, r.Header.Get("Authorization"), "%s: data is sent with the API key only", endpoint)
			}
		})
	}
}

// TestCompressedDataEverySite sends metrics and logs compressed in every
// encoding datadogV1 offers, and finds them decoded at the connection's
// site.
func TestCompressedDataEverySite(t *testing.T) {
	t.Parallel()
	for _, site := range everySite(t) {
		t.Run(site.Name(), func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			key, err := e.client.CreateAPIKey(t.Context(), e.connect(t, site))
			require.NoError(t, err)
			ctx := datadogclient.IntakeContext(t.Context(), key)
			point := []*float64{datadog.PtrFloat64(float64(e.clock.Now().Unix())), datadog.PtrFloat64(2)}
			payload := *datadogV1.NewMetricsPayload([]datadogV1.Series{*datadogV1.NewSeries("partner.compressed", [][]*float64{point})})
			metrics, logs := datadogV1.NewMetricsApi(e.api), datadogV1.NewLogsApi(e.api)

			metricEncodings := new(datadogV1.MetricContentEncoding).GetAllowedValues()
			var encodings []string // of logs
			for _, enc := range new(datadogV1.ContentEncoding).GetAllowedValues() {
				encodings = append(encodings, string(enc))
			}
			for _, enc := range metricEncodings {
				_, _, err := metrics.SubmitMetrics(ctx, payload, *datadogV1.NewSubmitMetricsOptionalParameters().WithContentEncoding(enc))
				require.NoError(t, err, enc)
			}
			for _, enc := range encodings {
				_, _, err := logs.SubmitLog(ctx, []datadogV1.HTTPLogItem{*datadogV1.NewHTTPLogItem(enc)},
					*datadogV1.NewSubmitLogOptionalParameters().WithContentEncoding(datadogV1.ContentEncoding(enc)))
				require.NoError(t, err, enc)
			}

			got := e.dd.Received(site)
			m := len(metricEncodings)
			require.Len(t, got, m+len(encodings))
			for _, sub := range got[:m] {
				assert.Equal(t, ddoauthtest.EndpointSeries, sub.Endpoint)
				assert.Contains(t, string(sub.Body), `"metric":"partner.compressed"`)
			}
			for i, enc := range encodings {
				assert.Equal(t, ddoauthtest.EndpointLogs, got[m+i].Endpoint)
				assert.JSONEq(t, `[{"message":"`+enc+`"}]`, string(got[m+i].Body))
			}
			var sent, want []string
			for _, enc := range metricEncodings {
				want = append(want, string(enc))
			}
			for _, r := range e.dd.Requests() {
				if r.Endpoint == ddoauthtest.EndpointSeries || r.Endpoint == ddoauthtest.EndpointLogs {
					sent = append(sent, r.Header.Get("Content-Encoding"))
				}
			}
			assert.Equal(t, append(want, encodings...), sent)
		})
	}
}

// TestBearerAcrossExpiryEverySite calls the events API with the official
// client and a connection's TokenSource, once with the stored access
// token and once after it expired: the second call refreshes exactly once,
// at the connection's site, and goes out with the new token.
func TestBearerAcrossExpiryEverySite(t *testing.T) {
	t.Parallel()
	for _, site := range everySite(t) {
		t.Run(site.Name(), func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			d := site.Domain()
			conn := e.connect(t, site)
			key, err := e.client.CreateAPIKey(t.Context(), conn)
			require.NoError(t, err)
			events := datadogV1.NewEventsApi(e.api)
			_, _, err = events.CreateEvent(datadogclient.IntakeContext(t.Context(), key),
				*datadogV1.NewEventCreateRequest("nightly sync finished", "Partner sync"))
			require.NoError(t, err)

			store := &ddoauth.MemoryStore{}
			require.NoError(t, store.Save(t.Context(), "customer-1", conn))
			ctx := datadogclient.APIContext(t.Context(), site, e.client.TokenSource(store, "customer-1"))
			list := func(ctx context.Context) (datadogV1.EventListResponse, *http.Response, error) {
				end := e.clock.Now().Unix()
				return events.ListEvents(ctx, end-3600, end)
			}
			oldToken := conn.Token.AccessToken
			tokenPOSTs := e.dd.Count(ddoauthtest.EndpointToken) // the code exchange

			got, resp, err := list(ctx)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			require.Len(t, got.GetEvents(), 1)
			assert.Equal(t, "Partner sync", got.GetEvents()[0].GetTitle())
			assert.Equal(t, tokenPOSTs, e.dd.Count(ddoauthtest.EndpointToken), "a fresh stored token needs no refresh")

			e.clock.Advance(time.Hour + time.Second)
			_, resp, err = list(context.WithValue(datadogclient.APIContext(t.Context(), site, nil), datadog.ContextAccessToken, oldToken))
			require.Error(t, err, "the emulator must refuse the expired token")
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)

			got, resp, err = list(ctx)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			require.Len(t, got.GetEvents(), 1)
			assert.Equal(t, tokenPOSTs+1, e.dd.Count(ddoauthtest.EndpointToken), "exactly one refresh")

			refreshes := e.requests(ddoauthtest.EndpointToken)[tokenPOSTs:]
			require.Len(t, refreshes, 1)
			assert.Equal(t, "api."+d, refreshes[0].Host)
			assert.Equal(t, "refresh_token", refreshes[0].Form.Get("grant_type"))
			assert.Equal(t, http.StatusOK, refreshes[0].Status)

			saved, err := store.Load(t.Context(), "customer-1")
			require.NoError(t, err)
			newToken := saved.Token.AccessToken
			assert.NotEqual(t, oldToken, newToken)
			assert.True(t, saved.Token.Expiry.After(e.clock.Now()), "the refreshed token is saved with its new expiry")

			var bearers []string
			for _, r := range e.requests(ddoauthtest.EndpointEvents) {
				if r.Method == http.MethodGet {
					assert.Equal(t, "api."+d, r.Host)
					assert.Empty(t, r.Header.Get("Dd-Api-Key"), "API calls go with the bearer token only")
					bearers = append(bearers, r.Header.Get("Authorization"))
				}
			}
			assert.Equal(t, []string{
				"Bearer " + ddoauthtest.Fingerprint(oldToken),
				"Bearer " + ddoauthtest.Fingerprint(oldToken),
				"Bearer " + ddoauthtest.Fingerprint(newToken),
			}, bearers)
		})
	}
}
