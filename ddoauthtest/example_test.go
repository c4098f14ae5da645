package ddoauthtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

// The whole flow for one site with the ddoauth client: the code under test
// keeps Datadog's real URLs; only its HTTP client comes from the emulator.
func ExampleNewServer() {
	srv := ddoauthtest.NewServer()
	defer srv.Close()
	srv.CallbackStyle = ddoauthtest.CallbackBoth
	oc := srv.NewClient("https://partner.example/callback")

	client, err := ddoauth.New(ddoauth.Config{
		ClientID:     oc.ID,
		ClientSecret: oc.Secret,
		RedirectURL:  "https://partner.example/callback",
		HTTPClient:   srv.Client(),
	})
	if err != nil {
		panic(err)
	}
	eu, _ := ddoauth.ResolveSite("datadoghq.eu")
	authURL, pending, _ := client.Start(eu)
	callback, err := srv.Approve(context.Background(), authURL) // the user clicks Authorize
	if err != nil {
		panic(err)
	}
	fmt.Println("callback:", callback.Query().Get("domain"), callback.Query().Get("site"))

	conn, err := client.Complete(context.Background(), pending, callback.Query())
	if err != nil {
		panic(err)
	}
	key, err := client.CreateAPIKey(context.Background(), conn)
	if err != nil {
		panic(err)
	}
	fmt.Println("connected:", conn.Site, conn.Scopes, len(key.Key))
	fmt.Println("token requests:", srv.Count(ddoauthtest.EndpointToken))
	// Output:
	// callback: datadoghq.eu https://app.datadoghq.eu
	// connected: datadoghq.eu [api_keys_write events_read] 32
	// token requests: 1
}

// Plain net/http against the emulator's real host names.
func ExampleServer_Client() {
	srv := ddoauthtest.NewServer()
	defer srv.Close()
	srv.AutoConsent = true
	oc := srv.NewClient("https://partner.example/callback")

	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	authURL := "https://us5.datadoghq.com/oauth2/v1/authorize?" + url.Values{
		"client_id": {oc.ID}, "redirect_uri": {oc.RedirectURIs[0]}, "response_type": {"code"},
		"code_challenge": {ddoauth.Challenge(verifier)}, "code_challenge_method": {"S256"}, "state": {"xyz"},
	}.Encode()
	browser := srv.Client()
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := browser.Get(authURL)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	callback, _ := resp.Location()
	fmt.Println(resp.StatusCode, callback.Query().Get("state"), callback.Query().Get("domain"))

	resp, err = srv.Client().PostForm("https://api.us5.datadoghq.com/oauth2/v1/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {callback.Query().Get("code")},
		"redirect_uri": {oc.RedirectURIs[0]}, "code_verifier": {verifier},
		"client_id": {oc.ID}, "client_secret": {oc.Secret},
	})
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var tok struct {
		TokenType string `json:"token_type"`
		ExpiresIn int    `json:"expires_in"`
		Scope     string `json:"scope"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	fmt.Println(resp.StatusCode, tok.TokenType, tok.ExpiresIn, tok.Scope)
	// Output:
	// 302 xyz us5.datadoghq.com
	// 200 bearer 3600 api_keys_write events_read
}

// A documented misuse: an unpublished client outside its sandbox org.
func ExampleServer_Approve() {
	srv := ddoauthtest.NewUnstartedServer()
	us1, _ := ddoauth.ResolveSite("datadoghq.com")
	sandbox := srv.AddOrg(ddoauthtest.Org{ID: "sandbox", Name: "Partner sandbox", Site: us1})
	srv.AddClient(ddoauthtest.OAuthClient{
		ID: "test-client", Secret: "test-secret",
		RedirectURIs: []string{"https://partner.example/callback"},
		Scopes:       []string{ddoauthtest.ScopeAPIKeysWrite},
		SandboxOrg:   sandbox.ID,
	})
	authURL := "https://app.datadoghq.com/oauth2/v1/authorize?" + url.Values{
		"client_id": {"test-client"}, "redirect_uri": {"https://partner.example/callback"},
		"response_type": {"code"}, "code_challenge": {ddoauth.Challenge(ddoauth.NewVerifier())},
		"code_challenge_method": {"S256"},
	}.Encode()

	_, err := srv.Approve(context.Background(), authURL) // the user is in us1-org
	fmt.Println(err)

	srv.SignIn(sandbox.ID)
	callback, err := srv.Approve(context.Background(), authURL)
	fmt.Println(err, callback.Query().Has("code"))
	// Output:
	// ddoauthtest: authorize: invalid_request - Invalid client_id parameter value (HTTP 400)
	// <nil> true
}

// Rate limiting on the token endpoint of one site.
func ExampleServer_Fail() {
	srv := ddoauthtest.NewUnstartedServer()
	eu, _ := ddoauth.ResolveSite("datadoghq.eu")
	srv.Fail(ddoauthtest.EndpointToken, ddoauthtest.Fault{Site: eu, Times: 2, RetryAfter: 30 * time.Second})

	hc := &http.Client{Transport: srv.Transport()}
	for range 3 {
		resp, err := hc.PostForm(eu.TokenURL(), url.Values{})
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Output:
	// 429 30
	// 429 30
	// 401
}

// What reached each site's intake, and with whose key.
func ExampleServer_Received() {
	srv := ddoauthtest.NewUnstartedServer()
	srv.AutoConsent = true
	oc := srv.NewClient("https://partner.example/callback")
	client, _ := ddoauth.New(ddoauth.Config{
		ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: oc.RedirectURIs[0],
		HTTPClient: &http.Client{Transport: srv.Transport()},
	})
	ctx := context.Background()
	ap1, _ := ddoauth.ResolveSite("ap1.datadoghq.com")
	authURL, pending, _ := client.Start(ap1)
	callback, _ := srv.Approve(ctx, authURL)
	conn, _ := client.Complete(ctx, pending, callback.Query())
	key, _ := client.CreateAPIKey(ctx, conn)

	req, _ := http.NewRequest(http.MethodPost, ap1.LogsIntakeURL()+"/api/v2/logs", strings.NewReader(`[{"message":"hello"}]`))
	req.Header.Set("DD-API-KEY", key.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: srv.Transport()}).Do(req)
	if err != nil {
		panic(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	for _, sub := range srv.Received(ap1) {
		fmt.Println(resp.StatusCode, sub.Site, sub.Endpoint, sub.OrgID, string(sub.Body))
	}
	// Output:
	// 202 ap1.datadoghq.com logs ap1-org [{"message":"hello"}]
}

// The request log keeps secrets out; Fingerprint matches them.
func ExampleServer_Requests() {
	srv := ddoauthtest.NewUnstartedServer()
	us3, _ := ddoauth.ResolveSite("us3.datadoghq.com")
	hc := &http.Client{Transport: srv.Transport()}
	resp, err := hc.PostForm(us3.TokenURL(), url.Values{
		"grant_type": {"authorization_code"}, "code": {"the-code"},
		"client_id": {"id"}, "client_secret": {"s3cret"},
	})
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	for _, r := range srv.Requests() {
		fmt.Println(r.Host, r.Endpoint, r.Status, r.Form.Get("client_id"),
			r.Form.Get("client_secret") == ddoauthtest.Fingerprint("s3cret"),
			strings.HasPrefix(r.Form.Get("code"), "[redacted "))
	}
	// Output:
	// api.us3.datadoghq.com token 401 id true true
}
