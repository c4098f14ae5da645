package datadogclient_test

import (
	"context"
	"fmt"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"golang.org/x/oauth2"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/datadogclient"
)

func ExampleAPIContext() {
	site, _ := ddoauth.ResolveSite("https://acme.datadoghq.eu")
	// In a backend: ts := client.TokenSource(store, customerID).
	var ts oauth2.TokenSource = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "from the connection"})
	ctx := datadogclient.APIContext(context.Background(), site, ts)

	// With the official client: datadogV1.NewEventsApi(datadog.NewAPIClient(cfg)).ListEvents(ctx, ...).
	cfg := datadog.NewConfiguration()
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
	for _, op := range []string{"v2.MetricsApi.SubmitMetrics", "v2.LogsApi.SubmitLog"} {
		u, _ := cfg.ServerURLWithContext(ctx, op)
		fmt.Println(op, u)
	}
	// Output:
	// v2.MetricsApi.SubmitMetrics https://api.us5.datadoghq.com
	// v2.LogsApi.SubmitLog https://http-intake.logs.us5.datadoghq.com
}
