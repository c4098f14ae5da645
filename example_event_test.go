package ddoauth_test

import (
	"context"
	"fmt"
	"log"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// OnEvent tells the partner when a connection needs attention: here, the
// API key Datadog created. The same callback receives EventRevoked,
// EventFailing and EventRecovered from the connections' TokenSources.
func ExampleConfig_onEvent() {
	dd := ddoauthtest.NewServer()
	defer dd.Close()
	const redirect = "https://partner.example/oauth/datadog/callback"
	oc := dd.NewClient(redirect)
	client, err := ddoauth.New(ddoauth.Config{
		ClientID:     oc.ID,
		ClientSecret: oc.Secret,
		RedirectURL:  redirect,
		HTTPClient:   dd.Client(),
		OnEvent: func(ctx context.Context, e ddoauth.Event) {
			switch e.Kind {
			case ddoauth.EventRevoked:
				// Mark the connection and ask the customer to connect again.
			case ddoauth.EventFailing, ddoauth.EventRecovered:
				// Show it on the partner's status page, page someone.
			}
			fmt.Println(e.Kind, e.ID, e.Site.Name(), len(e.Last4))
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	conn := connect(dd, client, ddoauth.Sites()[3])
	if _, err := client.EnsureAPIKey(context.Background(), conn, &ddoauth.MemoryStore{}, "tenant-42/datadoghq.eu"); err != nil {
		log.Fatal(err)
	}
	// Output: api_key_created tenant-42/datadoghq.eu EU1 4
}
