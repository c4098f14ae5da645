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

	// The partner's own sign-in, reduced to a session cookie.
	mux.HandleFunc("POST /signin", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: rand.Text(), Path: "/",
			Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}) // Lax: it must reach the callback
	})

	key := make([]byte, 32) // keep it in a secret store; replicas share it
	rand.Read(key)          //nolint:errcheck
	h, err := client.Handlers(ddoauth.HandlerConfig{
		CookieKeys: [][]byte{key},
		// Each authorization is bound to the session that started it.
		Session: func(r *http.Request) (string, error) {
			ck, err := r.Cookie("session") // a real backend also checks it in its session store
			if err != nil {
				return "", err
			}
			return ck.Value, nil
		},
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

	// The user signs in; Datadog's integration tile links to the
	// onboarding URL with the site.
	browser := dd.Browser(nil)
	resp, err := browser.Post(backend.URL+"/signin", "", nil)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	resp, err = browser.Get(backend.URL + "/oauth/datadog/onboarding?site=https://app.datadoghq.eu")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Referrer-Policy"))
	// Output:
	// connected EU1 [api_keys_write events_read]
	// 200 OK no-referrer
}
