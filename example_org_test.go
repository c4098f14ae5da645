package ddoauth_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/url"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// Datadog's onboarding link may name the organization (dd_oid): passed
// on, it spares the user Datadog's organization switcher. The callback
// names the organization too, and the connection keeps it.
func ExampleWithOrgID() {
	dd := ddoauthtest.NewServer()
	defer dd.Close()
	client := newExampleClient(dd)
	eu := ddoauth.Sites()[3]
	acme := dd.AddOrg(ddoauthtest.Org{ID: "acme", Name: "Acme", Site: eu})

	link, _ := url.Parse("https://partner.example/oauth/datadog/onboarding?site=https://app.datadoghq.eu&dd_oid=" + acme.UUID)
	site, err := client.SiteFromQuery(link.Query())
	if err != nil {
		log.Fatal(err)
	}
	authURL, pending, err := client.Start(site, ddoauth.WithOrgID(link.Query().Get("dd_oid")))
	if err != nil {
		log.Fatal(err)
	}
	conn, err := client.Complete(context.Background(), pending, authorizeInBrowser(dd, authURL))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(conn.OrgID == acme.UUID, conn.OrgName, conn.Site.Name())

	_, _, err = client.Start(site, ddoauth.WithOrgID("not-a-uuid"))
	fmt.Println(errors.Is(err, ddoauth.ErrInvalidOrgID))
	// Output:
	// true Acme EU1
	// true
}

// An API key is kept per customer and organization: a customer who
// connects a second organization gets that organization's key, not the
// first one's.
func ExampleConnection_APIKeyID() {
	dd := ddoauthtest.NewServer()
	defer dd.Close()
	client := newExampleClient(dd)
	conn := connect(dd, client, ddoauth.Sites()[3]) // EU1's default organization
	store := &ddoauth.MemoryStore{}

	id := conn.APIKeyID("customer-42")
	key, err := client.EnsureAPIKey(context.Background(), conn, store, id)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(id == "customer-42/datadoghq.eu/"+conn.OrgID, key.OrgID == conn.OrgID)
	// Output:
	// true true
}

// The handlers can send the user back into the partner's app: to a page
// of its own after a connection, and to its own failure page with the
// typed error.
func ExampleHandlerConfig_returnToApp() {
	client, err := ddoauth.New(ddoauth.Config{
		ClientID: "client-id", ClientSecret: "from your secret store",
		RedirectURL: "https://partner.example/oauth/datadog/callback",
	})
	if err != nil {
		log.Fatal(err)
	}
	key := make([]byte, 32) // keep it in a secret store; replicas share it
	rand.Read(key)          //nolint:errcheck
	cfg := ddoauth.HandlerConfig{
		CookieKeys: [][]byte{key},
		Session:    func(r *http.Request) (string, error) { return "the signed-in user's session ID", nil },
		OnConnect:  func(r *http.Request, conn *ddoauth.Connection) error { return nil }, // save it
		// A path, or a URL at the redirect URL's origin: nothing else.
		SuccessURL: "/settings/datadog?connected=1",
		OnFailure: func(w http.ResponseWriter, r *http.Request, err error) {
			switch {
			case errors.Is(err, ddoauth.ErrNoSession):
				http.Redirect(w, r, "/signin?next=/settings/datadog", http.StatusSeeOther)
			case errors.Is(err, ddoauth.ErrAccessDenied):
				http.Redirect(w, r, "/settings/datadog?declined=1", http.StatusSeeOther)
			default:
				http.Redirect(w, r, "/settings/datadog?failed=1", http.StatusSeeOther)
			}
		},
	}
	_, err = client.Handlers(cfg)
	fmt.Println(err)

	cfg.SuccessURL = "https://evil.example/"
	_, err = client.Handlers(cfg)
	fmt.Println(errors.Is(err, ddoauth.ErrInvalidConfig))
	// Output:
	// <nil>
	// true
}
