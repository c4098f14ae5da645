// Package ddoauth connects a Datadog technology partner's backend to its
// customers' Datadog organizations over OAuth2, in every Datadog site.
//
// The flow, as a partner backend runs it:
//
//	client, err := ddoauth.New(ddoauth.Config{
//		ClientID:     os.Getenv("DD_CLIENT_ID"),
//		ClientSecret: os.Getenv("DD_CLIENT_SECRET"),
//		RedirectURL:  "https://partner.example/oauth/datadog/callback",
//	})
//
//	// Onboarding: Datadog sends the user here with ?site=... or ?domain=....
//	site, err := client.SiteFromQuery(r.URL.Query()) // zero Site: the user picks on US1
//	authURL, pending, err := client.Start(site)
//	// Keep pending (it holds the PKCE verifier) with the user's session,
//	// then redirect the browser to authURL.
//
//	// Callback: Datadog sends the browser back with code, state and the site.
//	conn, err := client.Complete(ctx, pending, r.URL.Query())
//	// conn.Site, conn.Token and conn.Scopes: store conn for this customer.
//
//	// Once per organization: the API key for sending data, shown once.
//	key, err := client.EnsureAPIKey(ctx, conn, store, customerID)
//
//	// From then on: a token source that refreshes, saving before use.
//	hc := client.TokenSource(store, customerID).Client(nil)
//
// Replicas share connections through a [Store] whose writes are
// conditional on the version read; one that is also a [Leaser] (packages
// pgstore and redisstore) lets one replica at a time refresh a connection
// or create an API key. Package storetest checks any store against the
// contract.
//
// [Client.Handlers] serves the onboarding and callback URLs with the
// pending state sealed in a cookie and bound to the partner's signed-in
// session, for partners who want both halves done.
//
// Every URL comes from a fixed table of Datadog sites ([Sites]); a site or
// domain value from a request is only ever a key into that table
// ([ResolveSite]), so no crafted value can make the backend send its client
// secret, a code or a verifier to another host. Credential-bearing requests
// never follow redirects.
//
// When Datadog's callback names the organization (dd_oid, dd_org_name),
// the Connection keeps it as OrgID and OrgName; an onboarding link's dd_oid
// is passed on to the authorize page ([WithOrgID]).
//
// Errors are *Error values wrapping sentinels such as [ErrUnknownSite],
// [ErrStateMismatch] and [ErrInvalidClient]. Error() is one short line;
// Error.Hint says what to do and Error.RateLimit carries Datadog's
// X-RateLimit-* figures. No error string or formatted value of this
// package contains a secret.
//
// Config.Telemetry is told of each callback, exchange, refresh, lease
// wait, revocation and API key creation (package ddoauthotel reports them
// to OpenTelemetry); Config.OnEvent hears when a connection is revoked,
// keeps failing to refresh, recovers, or gets its API key. Reading a
// cached token reaches neither.
//
// Package datadogclient sets up the official Datadog client
// (datadog-api-client-go) to send data with the organization's API key and
// to call APIs with a connection's refreshing token, each to the
// connection's own site. This package imports nothing of that client.
//
// Package ddoauthtest is an in-process Datadog for every site, for tests.
package ddoauth
