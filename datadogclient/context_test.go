package datadogclient_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/datadogclient"
)

// Operations of the official client whose host the site decides, by
// their operation IDs; v1.EventsApi.ListEvents and v2.MetricsApi.SubmitMetrics
// use the client's default server list.
const (
	opListEvents   = "v1.EventsApi.ListEvents"
	opSubmitMetric = "v2.MetricsApi.SubmitMetrics"
	opSubmitLogV1  = "v1.LogsApi.SubmitLog"
	opSubmitLogV2  = "v2.LogsApi.SubmitLog"
	opCreateEvent  = "v2.EventsApi.CreateEvent"
	opIPRanges     = "v1.IPRangesApi.GetIPRanges"
)

// allOperations is every operation with its own server list, plus two
// that use the default list.
func allOperations() []string {
	ops := []string{opListEvents, opSubmitMetric}
	for op := range datadog.NewConfiguration().OperationServers {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	return ops
}

func serverURL(t *testing.T, ctx context.Context, op string) string {
	t.Helper()
	u, err := datadog.NewConfiguration().ServerURLWithContext(ctx, op)
	require.NoError(t, err, op)
	return u
}

// tokenSource is a connection's token source; building a context reads
// nothing from it.
func tokenSource(t *testing.T) *ddoauth.TokenSource {
	t.Helper()
	client, err := ddoauth.New(ddoauth.Config{
		ClientID: "client-id", ClientSecret: "client-secret", RedirectURL: "https://partner.example/callback",
	})
	require.NoError(t, err)
	return client.TokenSource(&ddoauth.MemoryStore{}, "customer-1")
}

func newUS7(t *testing.T) ddoauth.Site {
	t.Helper()
	site, err := ddoauth.NewSite("US7", "us7.datadoghq.com", "us7.datadoghq.com")
	require.NoError(t, err)
	return site
}

type testSite struct {
	site  ddoauth.Site
	index int
}

// everySite is the built-in sites, selected by name, and one added with
// NewSite, selected through the "any Datadog deployment" server.
func everySite(t *testing.T) []testSite {
	var out []testSite
	for _, s := range ddoauth.Sites() {
		out = append(out, testSite{s, 0})
	}
	return append(out, testSite{newUS7(t), 2})
}

func TestAPIContextSelectsSite(t *testing.T) {
	t.Parallel()
	ts := tokenSource(t)
	for _, tc := range everySite(t) {
		t.Run(tc.site.Name(), func(t *testing.T) {
			t.Parallel()
			ctx := datadogclient.APIContext(t.Context(), tc.site, ts)
			d := tc.site.Domain()

			assert.Equal(t, tc.index, ctx.Value(datadog.ContextServerIndex))
			assert.Equal(t, map[string]string{"site": d}, ctx.Value(datadog.ContextServerVariables))
			// The Transport adds the token, below the client's Debug dump.
			assert.Nil(t, ctx.Value(datadog.ContextOAuth2))
			assert.Nil(t, ctx.Value(datadog.ContextAPIKeys))
			assert.Nil(t, ctx.Value(datadog.ContextAccessToken))

			assert.Equal(t, "https://api."+d, serverURL(t, ctx, opListEvents))
			assert.Equal(t, "https://api."+d, serverURL(t, ctx, opSubmitMetric))
			assert.Equal(t, "https://http-intake.logs."+d, serverURL(t, ctx, opSubmitLogV2))
			assert.Equal(t, "https://http-intake.logs."+d, serverURL(t, ctx, opSubmitLogV1))
			assert.Equal(t, "https://event-management-intake."+d, serverURL(t, ctx, opCreateEvent))
		})
	}
}

func TestAPIContextCustomSiteVariables(t *testing.T) {
	t.Parallel()
	ctx := datadogclient.APIContext(t.Context(), newUS7(t), nil)
	cfg := datadog.NewConfiguration()
	// Server 2 is "any Datadog deployment": its site takes any value,
	// where server 0's enum would refuse us7.
	require.Greater(t, len(cfg.Servers), 2)
	assert.Equal(t, "https://{subdomain}.{site}", cfg.Servers[2].URL)
	assert.Empty(t, cfg.Servers[2].Variables["site"].EnumValues)
	assert.NotContains(t, cfg.Servers[0].Variables["site"].EnumValues, "us7.datadoghq.com")

	assert.Equal(t, 2, ctx.Value(datadog.ContextServerIndex))
	assert.Equal(t, map[string]string{"site": "us7.datadoghq.com"}, ctx.Value(datadog.ContextServerVariables))
	assert.Nil(t, ctx.Value(datadog.ContextOAuth2))
	// The IP ranges' "any deployment" server is fixed to datadoghq.com:
	// that operation is refused rather than sent to US1.
	assert.Equal(t, map[string]int{opIPRanges: -1}, ctx.Value(datadog.ContextOperationServerIndices))
	_, err := cfg.ServerURLWithContext(ctx, opIPRanges)
	assert.Error(t, err)
}

// TestAPIContextNeverLeavesSite checks every operation with its own server
// list: it either goes to a host of the site or fails before sending.
func TestAPIContextNeverLeavesSite(t *testing.T) {
	t.Parallel()
	ops := allOperations()
	for _, tc := range everySite(t) {
		t.Run(tc.site.Name(), func(t *testing.T) {
			t.Parallel()
			ctx := datadogclient.APIContext(t.Context(), tc.site, nil)
			cfg := datadog.NewConfiguration()
			for _, op := range ops {
				u, err := cfg.ServerURLWithContext(ctx, op)
				if err != nil {
					continue
				}
				p, err := url.Parse(u)
				require.NoError(t, err, op)
				assert.Equal(t, "https", p.Scheme, op)
				assert.True(t, strings.HasSuffix(p.Host, "."+tc.site.Domain()), "%s goes to %s", op, u)
			}
		})
	}
}

func TestAPIContextReplacesServerSettings(t *testing.T) {
	t.Parallel()
	evil := map[string]string{"name": "collector.attacker.example", "site": "attacker.example"}
	parent := context.WithValue(t.Context(), datadog.ContextServerIndex, 1)
	parent = context.WithValue(parent, datadog.ContextServerVariables, evil)
	parent = context.WithValue(parent, datadog.ContextOperationServerIndices, map[string]int{opSubmitLogV2: 1})
	parent = context.WithValue(parent, datadog.ContextOperationServerVariables, map[string]map[string]string{opSubmitLogV2: evil})
	eu := ddoauth.Sites()[3]

	ctx := datadogclient.IntakeContext(parent, &ddoauth.APIKey{Key: "key-secret", Site: eu})
	assert.Equal(t, "https://api.datadoghq.eu", serverURL(t, ctx, opSubmitMetric))
	assert.Equal(t, "https://http-intake.logs.datadoghq.eu", serverURL(t, ctx, opSubmitLogV2))
}

func TestIntakeContext(t *testing.T) {
	t.Parallel()
	for _, tc := range everySite(t) {
		t.Run(tc.site.Name(), func(t *testing.T) {
			t.Parallel()
			key := &ddoauth.APIKey{Key: "0123456789abcdef-key-secret", Last4: "cret", Site: tc.site}
			ctx := datadogclient.IntakeContext(t.Context(), key)
			d := tc.site.Domain()

			// The Transport adds the key, below the client's Debug dump.
			assert.Nil(t, ctx.Value(datadog.ContextAPIKeys))
			assert.Nil(t, ctx.Value(datadog.ContextOAuth2))
			assert.Equal(t, tc.index, ctx.Value(datadog.ContextServerIndex))
			assert.Equal(t, map[string]string{"site": d}, ctx.Value(datadog.ContextServerVariables))
			assert.Equal(t, "https://api."+d, serverURL(t, ctx, opSubmitMetric))
			assert.Equal(t, "https://http-intake.logs."+d, serverURL(t, ctx, opSubmitLogV2))

			for _, verb := range []string{"%v", "%+v", "%s", "%#v"} {
				assert.NotContains(t, fmt.Sprintf(verb, ctx), key.Key, verb)
			}
		})
	}
}

// TestContextsFailClosed: without a usable site or key, no operation gets
// a server URL and no credential is in the context.
func TestContextsFailClosed(t *testing.T) {
	t.Parallel()
	var unresolved ddoauth.Site
	require.NoError(t, unresolved.UnmarshalText([]byte("us7.datadoghq.com")))
	us1 := ddoauth.Sites()[0]
	ts := tokenSource(t)
	for name, ctx := range map[string]context.Context{
		"api zero site":          datadogclient.APIContext(t.Context(), ddoauth.Site{}, ts),
		"api unresolved site":    datadogclient.APIContext(t.Context(), unresolved, ts),
		"intake nil key":         datadogclient.IntakeContext(t.Context(), nil),
		"intake empty key":       datadogclient.IntakeContext(t.Context(), &ddoauth.APIKey{Site: us1}),
		"intake zero site":       datadogclient.IntakeContext(t.Context(), &ddoauth.APIKey{Key: "key-secret"}),
		"intake unresolved site": datadogclient.IntakeContext(t.Context(), &ddoauth.APIKey{Key: "key-secret", Site: unresolved}),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			assert.Nil(t, ctx.Value(datadog.ContextOAuth2))
			assert.Nil(t, ctx.Value(datadog.ContextAPIKeys))
			cfg := datadog.NewConfiguration()
			for _, op := range allOperations() {
				u, err := cfg.ServerURLWithContext(ctx, op)
				assert.Error(t, err, "%s: %s", op, u)
			}
		})
	}
}

// TestAPIContextUnroutableOperations pins the operations documented as
// failing: their servers cannot be named by the site.
func TestAPIContextUnroutableOperations(t *testing.T) {
	t.Parallel()
	cfg := datadog.NewConfiguration()
	for _, tc := range []struct {
		site ddoauth.Site
		op   string
	}{
		{ddoauth.Sites()[0], "v2.OnCallPagingApi.CreateOnCallPage"},
		{ddoauth.Sites()[3], "v2.ProductAnalyticsApi.SubmitProductAnalyticsEvent"},
		{ddoauth.Sites()[7], "v2.CIVisibilityLogsApi.SubmitCILog"},
		{ddoauth.Sites()[8], "v2.CIVisibilityLogsApi.SubmitCILog"},
		{newUS7(t), "v2.OnCallPagingApi.CreateOnCallPage"},
	} {
		_, err := cfg.ServerURLWithContext(datadogclient.APIContext(t.Context(), tc.site, nil), tc.op)
		assert.Error(t, err, "%s %s", tc.site.Name(), tc.op)
	}
	u := serverURL(t, datadogclient.APIContext(t.Context(), ddoauth.Sites()[6], nil), "v2.CIVisibilityLogsApi.SubmitCILog")
	assert.Equal(t, "https://http-intake.logs.uk1.datadoghq.com", u)
}
