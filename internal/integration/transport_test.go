package integration

//lint:file-ignore SA1019 datadogV1's SubmitLog (/v1/input) is deprecated, but it goes to the same logs intake host through the same transport as datadogV2's /api/v2/logs, which make test-v2 covers.

import (
	"bytes"
	"context"
	"log"
	"net/http"
	"os"
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

// tenant is one customer's connection, saved under id, and its API key.
type tenant struct {
	id   string
	site ddoauth.Site
	conn *ddoauth.Connection
	key  *ddoauth.APIKey
}

func (e *env) tenant(t *testing.T, store *ddoauth.MemoryStore, site ddoauth.Site) tenant {
	t.Helper()
	conn := e.connect(t, site)
	key, err := e.client.CreateAPIKey(t.Context(), conn)
	require.NoError(t, err)
	id := "customer-" + site.Name()
	require.NoError(t, store.Save(t.Context(), id, conn))
	return tenant{id: id, site: site, conn: conn, key: key}
}

// withClientCredentials adds the credentials the official client reads
// from a context itself, as a careless caller might.
func withClientCredentials(ctx context.Context) context.Context {
	ctx = context.WithValue(ctx, datadog.ContextAPIKeys, map[string]datadog.APIKey{
		"apiKeyAuth": {Key: "partner-context-key"}, "appKeyAuth": {Key: "partner-context-app-key"},
	})
	return context.WithValue(ctx, datadog.ContextAccessToken, "partner-context-token")
}

// TestOneAPIClientEveryTenant interleaves calls for a customer in every
// site through one official client: each request goes to its own
// connection's site with its own credential and with only that one, even
// when the context and the configuration add the partner's own.
func TestOneAPIClientEveryTenant(t *testing.T) {
	t.Parallel()
	e := setup(t)
	store := &ddoauth.MemoryStore{}
	e.api.Cfg.AddDefaultHeader("DD-API-KEY", "partner-default-key")
	e.api.Cfg.AddDefaultHeader("Authorization", "Bearer partner-default-token")
	var tenants []tenant
	for _, site := range everySite(t) {
		tenants = append(tenants, e.tenant(t, store, site))
	}
	events, logs := datadogV1.NewEventsApi(e.api), datadogV1.NewLogsApi(e.api)
	for _, tn := range tenants {
		intake := withClientCredentials(datadogclient.IntakeContext(t.Context(), tn.key))
		_, _, err := logs.SubmitLog(intake, []datadogV1.HTTPLogItem{*datadogV1.NewHTTPLogItem(tn.id)})
		require.NoError(t, err, tn.site.Name())
		_, _, err = events.CreateEvent(intake, *datadogV1.NewEventCreateRequest(tn.id, "sync"))
		require.NoError(t, err, tn.site.Name())
	}
	for _, tn := range tenants {
		ctx := withClientCredentials(datadogclient.APIContext(t.Context(), tn.site, e.client.TokenSource(store, tn.id)))
		end := e.clock.Now().Unix()
		got, resp, err := events.ListEvents(ctx, end-3600, end)
		require.NoError(t, err, tn.site.Name())
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		require.Len(t, got.GetEvents(), 1, tn.site.Name())
		assert.Equal(t, tn.id, got.GetEvents()[0].GetText(), "each call reads its own organization")
	}

	for _, tn := range tenants {
		d := tn.site.Domain()
		bearer := "Bearer " + ddoauthtest.Fingerprint(tn.conn.Token.AccessToken)
		apiKey := ddoauthtest.Fingerprint(tn.key.Key)
		var seen int
		for _, r := range e.dd.Requests() {
			if !r.Site.SameRegion(tn.site) || (r.Endpoint != ddoauthtest.EndpointEvents && r.Endpoint != ddoauthtest.EndpointLogs) {
				continue
			}
			seen++
			assert.Contains(t, []string{"api." + d, "http-intake.logs." + d}, r.Host)
			assert.Empty(t, r.Header["Dd-Application-Key"], "%s %s", d, r.Endpoint)
			if r.Method == http.MethodGet {
				assert.Equal(t, []string{bearer}, r.Header["Authorization"], "%s %s", d, r.Endpoint)
				assert.Empty(t, r.Header["Dd-Api-Key"], "%s: a REST call carries the bearer only", d)
			} else {
				assert.Equal(t, []string{apiKey}, r.Header["Dd-Api-Key"], "%s %s", d, r.Endpoint)
				assert.Empty(t, r.Header["Authorization"], "%s: data goes with the API key only", d)
			}
		}
		assert.Equal(t, 3, seen, d)
	}
}

// TestDebugHidesCredentials turns on the official client's Debug dump,
// which goes to the standard logger, and finds neither the bearer nor the
// API key in it, across a refresh. Not parallel: it redirects log output.
func TestDebugHidesCredentials(t *testing.T) {
	var dump bytes.Buffer
	log.SetOutput(&dump)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	e := setup(t)
	e.api.Cfg.Debug = true
	store := &ddoauth.MemoryStore{}
	var secrets []string
	for _, site := range everySite(t) {
		tn := e.tenant(t, store, site)
		_, _, err := datadogV1.NewLogsApi(e.api).SubmitLog(datadogclient.IntakeContext(t.Context(), tn.key),
			[]datadogV1.HTTPLogItem{*datadogV1.NewHTTPLogItem("debugged")})
		require.NoError(t, err)
		ctx := datadogclient.APIContext(t.Context(), site, e.client.TokenSource(store, tn.id))
		end := e.clock.Now().Unix()
		_, _, err = datadogV1.NewEventsApi(e.api).ListEvents(ctx, end-3600, end)
		require.NoError(t, err)
		secrets = append(secrets, tn.key.Key, tn.conn.Token.AccessToken, tn.conn.Token.RefreshToken)
	}
	e.clock.Advance(time.Hour + time.Second)
	for _, site := range everySite(t) {
		id := "customer-" + site.Name()
		ctx := datadogclient.APIContext(t.Context(), site, e.client.TokenSource(store, id))
		end := e.clock.Now().Unix()
		_, _, err := datadogV1.NewEventsApi(e.api).ListEvents(ctx, end-3600, end)
		require.NoError(t, err)
		saved, err := store.Load(t.Context(), id)
		require.NoError(t, err)
		require.NotContains(t, secrets, saved.Token.AccessToken, "the token was refreshed")
		secrets = append(secrets, saved.Token.AccessToken, saved.Token.RefreshToken)
	}

	out := dump.String()
	assert.Contains(t, out, "GET /api/v1/events", "positive control: the dump was written")
	assert.Contains(t, out, "POST /v1/input")
	for _, s := range secrets {
		require.NotEmpty(t, s)
		assert.NotContains(t, out, s)
	}
	assert.NotContains(t, out, "Bearer")
	assert.NotContains(t, out, "Dd-Api-Key")
}

// TestRetargetFailsClosed points the official client elsewhere with its
// Configuration, or has Datadog redirect it: a request carrying a
// customer's token or key fails with ddoauth.ErrForeignHost and nothing
// reaches another host.
func TestRetargetFailsClosed(t *testing.T) {
	t.Parallel()
	for _, site := range everySite(t) {
		t.Run(site.Name(), func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			store := &ddoauth.MemoryStore{}
			tn := e.tenant(t, store, site)
			other := ddoauth.Sites()[3] // EU1
			if site.SameRegion(other) {
				other = ddoauth.Sites()[0]
			}
			apiCtx := datadogclient.APIContext(t.Context(), site, e.client.TokenSource(store, tn.id))
			intakeCtx := datadogclient.IntakeContext(t.Context(), tn.key)
			listEvents := func(api *datadog.APIClient) error {
				end := e.clock.Now().Unix()
				_, _, err := datadogV1.NewEventsApi(api).ListEvents(apiCtx, end-3600, end)
				return err
			}
			submitLog := func(api *datadog.APIClient) error {
				_, _, err := datadogV1.NewLogsApi(api).SubmitLog(intakeCtx, []datadogV1.HTTPLogItem{*datadogV1.NewHTTPLogItem("x")})
				return err
			}
			for _, tc := range []struct {
				name   string
				host   string
				scheme string
			}{
				{"foreign host", "collector.attacker.example", ""},
				{"another site", "api." + other.Domain(), ""},
				{"http", "", "http"},
				{"port", "api." + site.Domain() + ":8443", ""},
			} {
				for call, send := range map[string]func(*datadog.APIClient) error{"bearer": listEvents, "api key": submitLog} {
					cfg := datadog.NewConfiguration()
					cfg.HTTPClient = e.api.Cfg.HTTPClient
					cfg.Host, cfg.Scheme = tc.host, tc.scheme
					before := len(e.dd.Requests())
					err := send(datadog.NewAPIClient(cfg))
					require.ErrorIs(t, err, ddoauth.ErrForeignHost, "%s %s", tc.name, call)
					var de *ddoauth.Error
					require.ErrorAs(t, err, &de)
					assert.Len(t, e.dd.Requests(), before, "%s %s: nothing was sent", tc.name, call)
				}
			}

			// A redirect from the site's own host is checked too.
			for _, endpoint := range []ddoauthtest.Endpoint{ddoauthtest.EndpointEvents, ddoauthtest.EndpointLogs} {
				e.dd.Fail(endpoint, ddoauthtest.Fault{RedirectTo: "https://collector.attacker.example/steal"})
			}
			assert.ErrorIs(t, listEvents(e.api), ddoauth.ErrForeignHost)
			assert.ErrorIs(t, submitLog(e.api), ddoauth.ErrForeignHost)
			for _, r := range e.dd.Requests() {
				assert.NotEqual(t, "collector.attacker.example", r.Host)
			}

			// Positive control: the same calls with the default configuration.
			require.NoError(t, listEvents(e.api))
			require.NoError(t, submitLog(e.api))
		})
	}
}

// TestUnauthorizedRefreshesOnce: Datadog refuses a token that has not
// expired; the call is retried once with a refreshed token.
func TestUnauthorizedRefreshesOnce(t *testing.T) {
	t.Parallel()
	for _, site := range everySite(t) {
		t.Run(site.Name(), func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			store := &ddoauth.MemoryStore{}
			tn := e.tenant(t, store, site)
			ctx := datadogclient.APIContext(t.Context(), site, e.client.TokenSource(store, tn.id))
			tokenPOSTs := e.dd.Count(ddoauthtest.EndpointToken)
			e.dd.Fail(ddoauthtest.EndpointEvents, ddoauthtest.Fault{Status: http.StatusUnauthorized})

			end := e.clock.Now().Unix()
			_, resp, err := datadogV1.NewEventsApi(e.api).ListEvents(ctx, end-3600, end)
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, tokenPOSTs+1, e.dd.Count(ddoauthtest.EndpointToken), "exactly one refresh")

			saved, err := store.Load(t.Context(), tn.id)
			require.NoError(t, err)
			var got []string
			for _, r := range e.requests(ddoauthtest.EndpointEvents) {
				assert.Equal(t, "api."+site.Domain(), r.Host)
				got = append(got, r.Header.Get("Authorization"))
			}
			assert.Equal(t, []string{
				"Bearer " + ddoauthtest.Fingerprint(tn.conn.Token.AccessToken),
				"Bearer " + ddoauthtest.Fingerprint(saved.Token.AccessToken),
			}, got)
		})
	}
}
