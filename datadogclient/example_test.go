package datadogclient_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/datadogclient"
)

func ExampleAPIContext() {
	client, _ := ddoauth.New(ddoauth.Config{
		ClientID: "your-client-id", ClientSecret: "your-client-secret",
		RedirectURL: "https://partner.example/oauth/datadog/callback",
	})
	store := &ddoauth.MemoryStore{} // where Complete's connections were saved
	site, _ := ddoauth.ResolveSite("https://acme.datadoghq.eu")
	ctx := datadogclient.APIContext(context.Background(), site, client.TokenSource(store, "customer-1"))

	// With the official client: datadogV1.NewEventsApi(datadog.NewAPIClient(cfg)).ListEvents(ctx, ...).
	cfg := datadog.NewConfiguration()
	cfg.HTTPClient = &http.Client{Transport: &datadogclient.Transport{}}
	u, _ := cfg.ServerURLWithContext(ctx, "v1.EventsApi.ListEvents")
	fmt.Println(u)
	// Output: https://api.datadoghq.eu
}

func ExampleIntakeContext() {
	site, _ := ddoauth.ResolveSite("us5.datadoghq.com")
	// In a backend: the key client.CreateAPIKey returned, read from storage.
	key := &ddoauth.APIKey{Key: "from your key store", Site: site}
	ctx := datadogclient.IntakeContext(context.Background(), key)

	// With the official client: datadogV2.NewLogsApi(datadog.NewAPIClient(cfg)).SubmitLog(ctx, ...).
	cfg := datadog.NewConfiguration()
	cfg.HTTPClient = &http.Client{Transport: &datadogclient.Transport{}}
	for _, op := range []string{"v2.MetricsApi.SubmitMetrics", "v2.LogsApi.SubmitLog"} {
		u, _ := cfg.ServerURLWithContext(ctx, op)
		fmt.Println(op, u)
	}
	// Output:
	// v2.MetricsApi.SubmitMetrics https://api.us5.datadoghq.com
	// v2.LogsApi.SubmitLog https://http-intake.logs.us5.datadoghq.com
}

func ExampleTransport() {
	// One official client for every customer: each call's context names
	// the connection whose token or API key the Transport adds.
	cfg := datadog.NewConfiguration()
	cfg.HTTPClient = &http.Client{Transport: &datadogclient.Transport{}}
	api := datadog.NewAPIClient(cfg)
	fmt.Println(api.Cfg.HTTPClient.Transport != nil)
	// Output: true
}
