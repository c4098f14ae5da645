package ddoauth_test

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/ddoauth/ddoauth"
)

func ExampleResolveSite() {
	// Datadog sends the site as an origin, a host or a bare domain, with or
	// without an organization's subdomain.
	site, err := ddoauth.ResolveSite("https://acme.datadoghq.eu/")
	if err != nil {
		panic(err)
	}
	fmt.Println(site.Name(), site.Org())
	fmt.Println(site.AuthorizeURL()) // the browser keeps the subdomain
	fmt.Println(site.TokenURL())     // API calls never carry it
	fmt.Println(site.APIKeyURL())

	// Anything not in the table is refused.
	_, err = ddoauth.ResolveSite("datadoghq.com.evil.com")
	fmt.Println(errors.Is(err, ddoauth.ErrUnknownSite))
	// Output:
	// EU1 acme
	// https://acme.datadoghq.eu/oauth2/v1/authorize
	// https://api.datadoghq.eu/oauth2/v1/token
	// https://api.datadoghq.eu/api/v2/api_keys/marketplace
	// true
}

func ExampleSiteFromQuery() {
	// The query of Datadog's redirect to the partner's callback.
	q, _ := url.ParseQuery("code=abc&state=xyz&site=https%3A%2F%2Facme.us5.datadoghq.com&domain=us5.datadoghq.com")
	site, err := ddoauth.SiteFromQuery(q)
	if err != nil {
		panic(err)
	}
	fmt.Println(site.Name(), site, site.TokenURL())

	// Two parameters naming different regions are a mix-up.
	q, _ = url.ParseQuery("site=https%3A%2F%2Fapp.datadoghq.com&domain=datadoghq.eu")
	_, err = ddoauth.SiteFromQuery(q)
	fmt.Println(errors.Is(err, ddoauth.ErrSiteMismatch))

	// No parameter at all: the zero Site, and no error.
	site, err = ddoauth.SiteFromQuery(url.Values{})
	fmt.Println(site.IsZero(), err)
	// Output:
	// US5 acme.us5.datadoghq.com https://api.us5.datadoghq.com/oauth2/v1/token
	// true
	// true <nil>
}

func ExampleSites() {
	for _, s := range ddoauth.Sites() {
		fmt.Printf("%-8s %-18s %s\n", s.Name(), s.Domain(), s.APIURL())
	}
	// Output:
	// US1      datadoghq.com      https://api.datadoghq.com
	// US3      us3.datadoghq.com  https://api.us3.datadoghq.com
	// US5      us5.datadoghq.com  https://api.us5.datadoghq.com
	// EU1      datadoghq.eu       https://api.datadoghq.eu
	// AP1      ap1.datadoghq.com  https://api.ap1.datadoghq.com
	// AP2      ap2.datadoghq.com  https://api.ap2.datadoghq.com
	// UK1      uk1.datadoghq.com  https://api.uk1.datadoghq.com
	// US1-FED  ddog-gov.com       https://api.ddog-gov.com
	// US2-FED  us2.ddog-gov.com   https://api.us2.ddog-gov.com
}
