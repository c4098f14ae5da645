// Package ddoauthtest is an in-process Datadog for tests: the OAuth2
// authorize, token and revoke endpoints, the partner API-key endpoint, API
// key validation and the metrics, events and logs intakes, for every
// Datadog site at once.
//
// A [Server] answers on the real host names (app.datadoghq.com,
// api.datadoghq.eu, http-intake.logs.us5.datadoghq.com,
// acme.datadoghq.com, ...) over real TLS, with a certificate authority it
// mints at start. [Server.Client] returns an *http.Client that sends every
// host to the emulator and trusts that authority, so code under test keeps
// its production URLs. [Server.Transport] answers in memory without
// sockets, for testing/synctest.
//
// It reproduces what Datadog documents and what partners run into: one
// authorization server per site (a code or token from one site means
// nothing at another), unpublished clients that only their sandbox
// organization may authorize, exact redirect URIs, PKCE S256 only,
// form-encoded token requests with the client secret in the body,
// single-use codes, one API key per organization shown once, and intakes
// that take only an API key of their own site. Behaviour Datadog does not
// document is chosen and stated on the method or setting that controls it.
//
// A test in a few lines:
//
//	srv := ddoauthtest.NewServer()
//	defer srv.Close()
//	oc := srv.NewClient("https://partner.example/callback") // published, api_keys_write
//	client, _ := ddoauth.New(ddoauth.Config{ClientID: oc.ID, ClientSecret: oc.Secret,
//		RedirectURL: oc.RedirectURIs[0], HTTPClient: srv.Client()})
//	authURL, pending, _ := client.Start(site)
//	callback, _ := srv.Approve(ctx, authURL) // the user clicks Authorize
//	conn, err := client.Complete(ctx, pending, callback.Query())
//
// Each site starts with one organization ([Server.DefaultOrg]); add more,
// with custom subdomains, with [Server.AddOrg]. [Server.Fail] injects
// faults per endpoint; [Server.Received] shows what each site's intakes
// accepted; [Server.Requests] logs every request, with secrets replaced by
// their [Fingerprint] so they never appear in clear.
package ddoauthtest
