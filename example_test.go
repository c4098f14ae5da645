package ddoauth_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/url"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// authorizeInBrowser plays the customer's browser approving on the
// emulator and returns the callback query.
func authorizeInBrowser(dd *ddoauthtest.Server, authURL string) url.Values {
	callback, err := dd.Approve(context.Background(), authURL)
	if err != nil {
		log.Fatal(err)
	}
	return callback.Query()
}

// connect runs the authorization at site on the emulator, as the
// Complete example shows step by step.
func connect(dd *ddoauthtest.Server, client *ddoauth.Client, site ddoauth.Site) *ddoauth.Connection {
	authURL, pending, err := client.Start(site)
	if err != nil {
		log.Fatal(err)
	}
	conn, err := client.Complete(context.Background(), pending, authorizeInBrowser(dd, authURL))
	if err != nil {
		log.Fatal(err)
	}
	return conn
}

// newExampleClient returns a Client registered with the emulator.
func newExampleClient(dd *ddoauthtest.Server) *ddoauth.Client {
	const redirect = "https://partner.example/oauth/datadog/callback"
	oc := dd.NewClient(redirect)
	client, err := ddoauth.New(ddoauth.Config{
		ClientID:     oc.ID,
		ClientSecret: oc.Secret,
		RedirectURL:  redirect,
		HTTPClient:   dd.Client(),
	})
	if err != nil {
		log.Fatal(err)
	}
	return client
}

func ExampleNew() {
	client, err := ddoauth.New(ddoauth.Config{
		ClientID:     "0d1c2b3a-client-id",
		ClientSecret: "from your secret store",
		RedirectURL:  "https://partner.example/oauth/datadog/callback",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(client)

	_, err = ddoauth.New(ddoauth.Config{ClientID: "id", ClientSecret: "s", RedirectURL: "http://partner.example/cb"})
	fmt.Println(errors.Is(err, ddoauth.ErrInvalidConfig))
	// Output:
	// ddoauth.Client{ClientID:"0d1c2b3a-client-id" RedirectURL:"https://partner.example/oauth/datadog/callback"}
	// true
}

func ExampleClient_Start() {
	client, err := ddoauth.New(ddoauth.Config{
		ClientID:     "0d1c2b3a-client-id",
		ClientSecret: "from your secret store",
		RedirectURL:  "https://partner.example/oauth/datadog/callback",
	})
	if err != nil {
		log.Fatal(err)
	}
	// The onboarding link named the customer's org subdomain in EU1.
	site, err := client.SiteFromQuery(url.Values{"site": {"https://acme.datadoghq.eu"}})
	if err != nil {
		log.Fatal(err)
	}
	authURL, pending, err := client.Start(site)
	if err != nil {
		log.Fatal(err)
	}
	u, _ := url.Parse(authURL)
	fmt.Println(u.Host + u.Path)
	fmt.Println(u.Query().Get("code_challenge_method"))
	fmt.Println(pending.Site.TokenURL())
	// Output:
	// acme.datadoghq.eu/oauth2/v1/authorize
	// S256
	// https://api.datadoghq.eu/oauth2/v1/token
}

func ExampleClient_Complete() {
	dd := ddoauthtest.NewServer()
	defer dd.Close()
	client := newExampleClient(dd)

	site, _ := ddoauth.ResolveSite("us5.datadoghq.com")
	authURL, pending, err := client.Start(site)
	if err != nil {
		log.Fatal(err)
	}
	callback := authorizeInBrowser(dd, authURL)

	conn, err := client.Complete(context.Background(), pending, callback)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(conn.Site.Name(), conn.HasScope("api_keys_write"))

	// A replayed callback finds the code already used.
	_, err = client.Complete(context.Background(), pending, callback)
	fmt.Println(errors.Is(err, ddoauth.ErrInvalidGrant))
	// Output:
	// US5 true
	// true
}

func ExampleClient_CreateAPIKey() {
	dd := ddoauthtest.NewServer()
	defer dd.Close()
	client := newExampleClient(dd)

	conn := connect(dd, client, ddoauth.Sites()[3]) // EU1
	key, err := client.CreateAPIKey(context.Background(), conn)
	if err != nil {
		log.Fatal(err)
	}
	// Store key.Key now: Datadog shows it once. Formatting shows last4 only.
	fmt.Println(len(key.Key), key.Site.Name(), key.Name)

	_, err = client.CreateAPIKey(context.Background(), conn)
	fmt.Println(errors.Is(err, ddoauth.ErrAPIKeyExists))
	// Output:
	// 32 EU1 OAuth Client API Key
	// true
}

func ExampleClient_Refresh() {
	dd := ddoauthtest.NewServer()
	defer dd.Close()
	client := newExampleClient(dd)

	conn := connect(dd, client, ddoauth.Site{}) // the user picks a region on US1
	next, err := client.Refresh(context.Background(), conn)
	if err != nil {
		log.Fatal(err)
	}
	// Persist next before using it: a rotated refresh token replaces the old one.
	fmt.Println(next.Site.Name(), next.Token.AccessToken != conn.Token.AccessToken)

	if err := client.Revoke(context.Background(), next); err != nil {
		log.Fatal(err)
	}
	_, err = client.Refresh(context.Background(), next)
	fmt.Println(errors.Is(err, ddoauth.ErrInvalidGrant))
	// Output:
	// US1 true
	// true
}

func ExampleClient_Revoke() {
	dd := ddoauthtest.NewServer()
	defer dd.Close()
	client := newExampleClient(dd)

	conn := connect(dd, client, ddoauth.Sites()[6]) // UK1
	fmt.Println(client.Revoke(context.Background(), conn))
	fmt.Println(dd.Count(ddoauthtest.EndpointRevoke))
	// Output:
	// <nil>
	// 2
}

func ExampleValidateVerifier() {
	fmt.Println(ddoauth.ValidateVerifier(ddoauth.NewVerifier()))
	err := ddoauth.ValidateVerifier("truncated-in-storage")
	fmt.Println(errors.Is(err, ddoauth.ErrInvalidGrant))
	fmt.Println(ddoauth.Challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))
	// Output:
	// <nil>
	// true
	// E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM
}

func ExampleNewSite() {
	// A region Datadog opened after this release, allowed by configuration.
	us7, err := ddoauth.NewSite("US7", "us7.datadoghq.com", "us7.datadoghq.com")
	if err != nil {
		log.Fatal(err)
	}
	client, err := ddoauth.New(ddoauth.Config{
		ClientID:     "0d1c2b3a-client-id",
		ClientSecret: "from your secret store",
		RedirectURL:  "https://partner.example/oauth/datadog/callback",
		Sites:        []ddoauth.Site{us7},
	})
	if err != nil {
		log.Fatal(err)
	}
	site, err := client.ResolveSite("https://us7.datadoghq.com/")
	fmt.Println(site.TokenURL(), err)
	_, err = ddoauth.ResolveSite("us7.datadoghq.com")
	fmt.Println(errors.Is(err, ddoauth.ErrUnknownSite))
	// Output:
	// https://api.us7.datadoghq.com/oauth2/v1/token <nil>
	// true
}

func ExampleClient_TokenSource() {
	dd := ddoauthtest.NewServer()
	defer dd.Close()
	client := newExampleClient(dd)
	conn := connect(dd, client, ddoauth.Sites()[2]) // US5

	store := &ddoauth.MemoryStore{} // your database in production
	if err := store.Save(context.Background(), "customer-42", conn); err != nil {
		log.Fatal(err)
	}
	dd.ResetRequests()

	// One per connection, kept: it caches the token and shares refreshes.
	ts := client.TokenSource(store, "customer-42")
	tok, err := ts.TokenContext(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.AccessToken == conn.Token.AccessToken, dd.Count(ddoauthtest.EndpointToken))
	fmt.Println(store)
	// Output:
	// true 0
	// ddoauth.MemoryStore{connections:1 keys:0 used:0}
}

func ExampleTokenSource_Client() {
	dd := ddoauthtest.NewServer()
	defer dd.Close()
	client := newExampleClient(dd)
	conn := connect(dd, client, ddoauth.Sites()[0])
	store := &ddoauth.MemoryStore{}
	store.Save(context.Background(), "customer-42", conn)

	// Requests carry the bearer token; base is the emulator's transport here.
	hc := client.TokenSource(store, "customer-42").Client(dd.Client().Transport)
	resp, err := hc.Get("https://api.datadoghq.com/api/v1/events?start=0&end=1")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output:
	// 200
}

func ExampleClient_EnsureAPIKey() {
	dd := ddoauthtest.NewServer()
	defer dd.Close()
	client := newExampleClient(dd)
	conn := connect(dd, client, ddoauth.Sites()[4]) // AP1
	store := &ddoauth.MemoryStore{}
	// Keyed by something stable per organization, so a reconnect finds it.
	key, err := client.EnsureAPIKey(context.Background(), conn, store, "customer-42/ap1")
	var notSaved *ddoauth.APIKeyNotSavedError
	if errors.As(err, &notSaved) {
		key = notSaved.Key() // save it elsewhere now: Datadog shows it once
	} else if err != nil {
		log.Fatal(err)
	}
	again, _ := client.EnsureAPIKey(context.Background(), conn, store, "customer-42/ap1")
	fmt.Println(key.Key == again.Key, dd.Count(ddoauthtest.EndpointAPIKey))
	// Output:
	// true 1
}
