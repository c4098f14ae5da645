package ddoauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// A partner whose OAuth client in EU1 has its own ID and secret: EU1's
// authorize URL, token exchange, refresh and revocation use them, every
// other site the default client.
func ExampleConfig_siteClients() {
	c, err := ddoauth.New(ddoauth.Config{
		ClientID:    "us-client-id",
		RedirectURL: "https://partner.example/oauth/datadog/callback",
		// One secret per site, read at use time.
		ClientSecretFunc: func(ctx context.Context, site ddoauth.Site) (string, error) {
			return "secret of the " + site.Name() + " client", nil // from a vault, by site
		},
		SiteClients: map[string]ddoauth.ClientCredentials{"EU1": {ClientID: "eu-client-id"}},
	})
	if err != nil {
		panic(err)
	}
	for _, raw := range []string{"datadoghq.com", "datadoghq.eu", "us5.datadoghq.com"} {
		site, _ := c.ResolveSite(raw)
		authURL, _, _ := c.Start(site)
		u, _ := url.Parse(authURL)
		fmt.Println(site.Name(), u.Query().Get("client_id"))
	}
	// Output:
	// US1 us-client-id
	// EU1 eu-client-id
	// US5 us-client-id
}

// Datadog's rate limit figures on a failed call.
func ExampleRateLimit() {
	dd := ddoauthtest.NewUnstartedServer()
	oc := dd.NewClient("https://partner.example/oauth/datadog/callback")
	c, _ := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: oc.RedirectURIs[0],
		HTTPClient: &http.Client{Transport: dd.Transport()}})
	eu, _ := c.ResolveSite("datadoghq.eu")
	authURL, p, _ := c.Start(eu)
	cb, _ := dd.Approve(context.Background(), authURL)
	conn, _ := c.Complete(context.Background(), p, cb.Query())

	dd.Fail(ddoauthtest.EndpointAPIKey, ddoauthtest.Fault{RateLimitReset: 20 * time.Second})
	_, err := c.CreateAPIKey(context.Background(), conn)
	if e, ok := errors.AsType[*ddoauth.Error](err); ok && e.RateLimit != nil {
		fmt.Println(e.StatusCode, e.RateLimit.Remaining, e.RateLimit.Reset)
	}
	// Output:
	// 429 0 20s
}
