// Command quickstart runs Datadog's partner OAuth flow end to end for every
// Datadog site: onboarding link, authorize, callback, code exchange, the
// once-only API key, a metric sent with that key to the site's intake,
// refresh and revoke.
//
// With no configuration it runs on ddoauthtest's in-process Datadog and
// prints one row per site (or only the one -site or DD_SITE names). With
// DD_CLIENT_ID, DD_CLIENT_SECRET and DD_REDIRECT_URL set it runs once
// against real Datadog, in the site -site or DD_SITE names (empty: the
// user picks on US1's page): it prints the authorize URL and waits for the
// callback on the redirect URL's local port.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthtest"
	"github.com/ddoauth/ddoauth/examples/internal/cli"
)

const redirectURL = "https://partner.example/oauth/datadog/callback"

func main() {
	cli.Exit("quickstart", run(context.Background(), os.Args[1:], os.Getenv, os.Stdout))
}

const summary = `quickstart runs Datadog's partner OAuth flow end to end: onboarding link,
authorize, callback, code exchange, the API key, a metric and a log sent
to the site's intakes, refresh and revoke. Without DD_CLIENT_ID it runs
on an in-process emulator of Datadog, for every site.`

var env = []cli.Env{
	{"DD_SITE", "default of -site"},
	{"DD_CLIENT_ID", "the OAuth client's ID; set, it runs once against real Datadog"},
	{"DD_CLIENT_SECRET", "the OAuth client's secret"},
	{"DD_REDIRECT_URL", "real Datadog: the registered loopback redirect URL, such as http://127.0.0.1:8765/callback"},
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := cli.NewFlagSet("quickstart", summary, env, out)
	siteFlag := fs.String("site", getenv("DD_SITE"), cli.SiteUsage+"; empty: every site (emulator), or the user picks on US1's page")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	site, err := cli.Site(*siteFlag)
	if err != nil {
		return err
	}
	if getenv("DD_CLIENT_ID") != "" {
		return runLive(ctx, site, getenv, out)
	}
	return runEmulated(ctx, site, out)
}

// runEmulated runs the flow for only (every site if zero) on the emulator.
func runEmulated(ctx context.Context, only ddoauth.Site, out io.Writer) error {
	dd := ddoauthtest.NewServer()
	defer dd.Close()
	dd.AutoConsent = true
	oc := dd.NewClient(redirectURL)
	client, err := ddoauth.New(ddoauth.Config{
		ClientID:     oc.ID,
		ClientSecret: oc.Secret,
		RedirectURL:  redirectURL,
		HTTPClient:   dd.Client(),
	})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tAUTHORIZE HOST\tTOKEN HOST\tLOGS INTAKE HOST\tRESULT")
	failed, ran := 0, 0
	for i, site := range ddoauth.Sites() {
		if !only.IsZero() && !site.SameRegion(only) {
			continue
		}
		ran++
		result := "ok"
		if err := flow(ctx, dd, client, site, i); err != nil {
			result = "FAIL: " + err.Error()
			failed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", site.Name(), host(site.AuthorizeURL()), host(site.TokenURL()), host(site.LogsIntakeURL()), result)
	}
	tw.Flush()
	if failed > 0 {
		return fmt.Errorf("%d of %d sites failed", failed, ran)
	}
	return nil
}

// onboardingStyles are the ways Datadog has named the site on the link to
// the partner's onboarding URL; the quickstart rotates through them.
var onboardingStyles = []func(ddoauth.Site) url.Values{
	func(s ddoauth.Site) url.Values { return url.Values{"site": {"https://" + s.BrowserHost()}} },
	func(s ddoauth.Site) url.Values { return url.Values{"domain": {s.Domain()}} },
	func(s ddoauth.Site) url.Values {
		return url.Values{"site": {"https://" + s.BrowserHost()}, "domain": {s.Domain()}}
	},
}

func flow(ctx context.Context, dd *ddoauthtest.Server, client *ddoauth.Client, site ddoauth.Site, i int) error {
	// 1. Onboarding: Datadog links to the partner with the site.
	onboarding := onboardingStyles[i%len(onboardingStyles)](site)
	s, err := client.SiteFromQuery(onboarding)
	if err != nil {
		return err
	}
	authURL, pending, err := client.Start(s)
	if err != nil {
		return err
	}
	// 2. Authorize: the customer's browser opens the authorize page and is
	// sent back to the redirect URI.
	browser := dd.Client()
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := browser.Get(authURL)
	if err != nil {
		return err
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		return fmt.Errorf("authorize answered %s without a redirect", resp.Status)
	}
	// 3. Callback and exchange.
	conn, err := client.Complete(ctx, pending, loc.Query())
	if err != nil {
		return err
	}
	// 4. The API key, once.
	key, err := client.CreateAPIKey(ctx, conn)
	if err != nil {
		return err
	}
	if _, err := client.CreateAPIKey(ctx, conn); !errors.Is(err, ddoauth.ErrAPIKeyExists) {
		return fmt.Errorf("second API key: got %v, want ErrAPIKeyExists", err)
	}
	// 5. A metric and a log, sent with the key to the site's intakes, seen there.
	now := time.Now().Unix()
	metric := fmt.Sprintf(`{"series":[{"metric":"quickstart.flow","type":3,"points":[{"timestamp":%d,"value":1}]}]}`, now)
	if err := send(ctx, dd.Client(), site.APIURL()+"/api/v2/series", key.Key, metric); err != nil {
		return err
	}
	logs := `[{"ddsource":"quickstart","service":"ddoauth","message":"connected"}]`
	if err := send(ctx, dd.Client(), site.LogsIntakeURL()+"/api/v2/logs", key.Key, logs); err != nil {
		return err
	}
	if n := len(dd.Received(site)); n != 2 {
		return fmt.Errorf("%s intakes hold %d submissions, want 2", site.Name(), n)
	}
	// 6. Refresh, then revoke: the grant is gone afterwards.
	next, err := client.Refresh(ctx, conn)
	if err != nil {
		return err
	}
	if err := client.Revoke(ctx, next); err != nil {
		return err
	}
	if _, err := client.Refresh(ctx, next); !errors.Is(err, ddoauth.ErrInvalidGrant) {
		return fmt.Errorf("refresh after revoke: got %v, want ErrInvalidGrant", err)
	}
	return nil
}

// send posts a JSON payload to an intake with the API key, as Datadog's
// official client does; a partner would
// use the official Datadog client for this.
func send(ctx context.Context, hc *http.Client, url, apiKey, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("DD-API-KEY", apiKey)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}

func host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Host
}
