package ddoauth_test

import (
	"crypto/rand"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// The onboarding URL and redirect URI of a partner's backend, served by
// the handlers; the customer's browser is played by the emulator's Browser.
func ExampleClient_Handlers() {
	dd := ddoauthtest.NewServer()
	defer dd.Close()
	dd.AutoConsent = true // the customer clicks Authorize at once

	mux := http.NewServeMux()
	backend := httptest.NewServer(mux)
	defer backend.Close()
	oc := dd.NewClient(backend.URL + "/oauth/datadog/callback")
	client, err := ddoauth.New(ddoauth.Config{
		ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: oc.RedirectURIs[0],
		HTTPClient: dd.Client(),
	})
	if err != nil {
		log.Fatal(err)
	}

	key := make([]byte, 32) // keep it in a secret store; replicas share it
	rand.Read(key)          //nolint:errcheck
	h, err := client.Handlers(ddoauth.HandlerConfig{
		CookieKeys: [][]byte{key},
		OnConnect: func(r *http.Request, conn *ddoauth.Connection) error {
			fmt.Println("connected", conn.Site.Name(), conn.Scopes) // save it for the signed-in user
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("GET /oauth/datadog/onboarding", h.Onboarding())
	mux.Handle("GET /oauth/datadog/callback", h.Callback())

	// Datadog's integration tile links to the onboarding URL with the site.
	resp, err := dd.Browser(nil).Get(backend.URL + "/oauth/datadog/onboarding?site=https://app.datadoghq.eu")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Referrer-Policy"))
	// Output:
	// connected EU1 [api_keys_write events_read]
	// 200 OK no-referrer
}
