// Command send-data sends a metric, a log and an event into a connected
// customer's Datadog organization through the official Datadog client
// (datadog-api-client-go), with the organization's API key, to the site the
// connection lives in.
//
// With no configuration it runs on ddoauthtest's in-process Datadog: it
// connects an organization in every site (or the one -site or DD_SITE
// names), sends, reads the event back with the connection's bearer token,
// and prints what each site received.
//
// For real use, set:
//
//	DDOAUTH_CONNECTION  path of a connection file, as authorize -connection writes it
//	DD_API_KEY          the organization's API key, as authorize -api-key writes it
//
// It uses the official client's datadogV1 only: from an empty build cache
// the first run compiles for about 1.5 minutes; datadogV2 would add 3
// minutes and about 7 GB. datadogV1
// has no current logs API (its SubmitLog is deprecated), so the log is one
// POST to the v2 logs intake through the same datadogclient.Transport,
// which is how to reach any API a compiled client package lacks.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadog"
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/datadogclient"
	"github.com/ddoauth/ddoauth/ddoauthtest"
	"github.com/ddoauth/ddoauth/examples/internal/cli"
)

func main() {
	cli.Exit("send-data", run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, nil))
}

const summary = `send-data sends a metric, a log and an event into a connected customer's
Datadog organization with the official Datadog client and the
organization's API key, to its site. Without DDOAUTH_CONNECTION it runs on
an in-process emulator of Datadog, for every site.`

var env = []cli.Env{
	{"DDOAUTH_CONNECTION", "path of the connection file authorize -connection wrote; set, it sends to real Datadog"},
	{"DD_API_KEY", "the organization's API key, as authorize -api-key wrote it"},
	{"DD_SITE", "default of -site"},
}

// run is main with its environment; base carries the requests to Datadog
// (nil: http.DefaultTransport).
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer, base http.RoundTripper) error {
	fs := cli.NewFlagSet("send-data", summary, env, out)
	siteFlag := fs.String("site", getenv("DD_SITE"), cli.SiteUsage+
		"; with DDOAUTH_CONNECTION, the connection's site must be this one; without, the emulator's site to send to (empty: every site)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	site, err := cli.Site(*siteFlag)
	if err != nil {
		return err
	}
	if path := getenv("DDOAUTH_CONNECTION"); path != "" {
		return runLive(ctx, path, getenv("DD_API_KEY"), site, base, out)
	}
	return runEmulated(ctx, site, out)
}

// send submits one metric, one log and one event with key, to key's site.
func send(ctx context.Context, api *datadog.APIClient, key *ddoauth.APIKey, now time.Time) error {
	ctx = datadogclient.IntakeContext(ctx, key)
	series := datadogV1.NewSeries("partner.sync.records", [][]*float64{
		{datadog.PtrFloat64(float64(now.Unix())), datadog.PtrFloat64(42)},
	})
	series.SetType("gauge")
	if _, _, err := datadogV1.NewMetricsApi(api).SubmitMetrics(ctx, *datadogV1.NewMetricsPayload([]datadogV1.Series{*series})); err != nil {
		return fmt.Errorf("metric: %w", err)
	}
	logs := strings.NewReader(`[{"message":"partner sync finished","ddsource":"partner"}]`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, key.Site.LogsIntakeURL()+"/api/v2/logs", logs)
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := api.GetConfig().HTTPClient.Do(req) // datadogclient.Transport adds the key
	if err != nil {
		return fmt.Errorf("log: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("log: %s", resp.Status)
	}
	event := datadogV1.NewEventCreateRequest("42 records synchronized", "Partner sync")
	if _, _, err := datadogV1.NewEventsApi(api).CreateEvent(ctx, *event); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	return nil
}

// runLive sends with apiKey to the site of the connection stored at path,
// which must be site unless site is zero.
func runLive(ctx context.Context, path, apiKey string, site ddoauth.Site, base http.RoundTripper, out io.Writer) error {
	if apiKey == "" {
		return errors.New("DD_API_KEY is not set")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	conn, err := ddoauth.UnmarshalConnection(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case conn.Site.Domain() == "":
		return fmt.Errorf("%s: the connection names no built-in Datadog site", path)
	case !site.IsZero() && !site.SameRegion(conn.Site):
		return fmt.Errorf("%s: the connection is in %s, not %s", path, conn.Site.Name(), site.Name())
	}
	key := &ddoauth.APIKey{Key: strings.TrimSpace(apiKey), Site: conn.Site}
	cfg := datadog.NewConfiguration()
	cfg.HTTPClient = &http.Client{Transport: &datadogclient.Transport{Base: base}}
	if err := send(ctx, datadog.NewAPIClient(cfg), key, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(out, "sent a metric, a log and an event to %s (%s)\n", conn.Site.Name(), conn.Site.Domain())
	return nil
}

// runEmulated connects an organization in only (every site if zero) and
// sends to it.
func runEmulated(ctx context.Context, only ddoauth.Site, out io.Writer) error {
	const redirectURL = "https://partner.example/oauth/datadog/callback"
	dd := ddoauthtest.NewServer()
	defer dd.Close()
	dd.AutoConsent = true
	oc := dd.NewClient(redirectURL)
	client, err := ddoauth.New(ddoauth.Config{
		ClientID: oc.ID, ClientSecret: oc.Secret, RedirectURL: redirectURL, HTTPClient: dd.Client(),
	})
	if err != nil {
		return err
	}
	cfg := datadog.NewConfiguration()
	// The Transport adds each call's credentials; the emulator stands in
	// for every Datadog host.
	cfg.HTTPClient = &http.Client{Transport: &datadogclient.Transport{Base: dd.Client().Transport}}
	api := datadog.NewAPIClient(cfg)
	store := &ddoauth.MemoryStore{}

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tARRIVED (endpoint@host)\tEVENTS READ BACK")
	for _, site := range ddoauth.Sites() {
		if !only.IsZero() && !site.SameRegion(only) {
			continue
		}
		// Connect the site's organization, as the partner's backend does once.
		authURL, pending, err := client.Start(site)
		if err != nil {
			return err
		}
		callback, err := dd.Approve(ctx, authURL)
		if err != nil {
			return err
		}
		conn, err := client.Complete(ctx, pending, callback.Query())
		if err != nil {
			return err
		}
		id := "customer-" + site.Name()
		if err := store.Save(ctx, id, conn); err != nil {
			return err
		}
		key, err := client.EnsureAPIKey(ctx, conn, store, id)
		if err != nil {
			return err
		}

		if err := send(ctx, api, key, time.Now()); err != nil {
			return fmt.Errorf("%s: %w", site.Name(), err)
		}
		// Read the event back with the connection's refreshing bearer token.
		apiCtx := datadogclient.APIContext(ctx, site, client.TokenSource(store, id))
		events, _, err := datadogV1.NewEventsApi(api).ListEvents(apiCtx, time.Now().Add(-time.Hour).Unix(), time.Now().Unix())
		if err != nil {
			return fmt.Errorf("%s: list events: %w", site.Name(), err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\n", site.Name(), received(dd, site), len(events.GetEvents()))
	}
	return tw.Flush()
}

// received lists the payloads site's intakes accepted, with the host each
// was sent to.
func received(dd *ddoauthtest.Server, site ddoauth.Site) string {
	var parts []string
	for _, r := range dd.Requests() {
		intake := r.Endpoint == ddoauthtest.EndpointSeries || r.Endpoint == ddoauthtest.EndpointLogs || r.Endpoint == ddoauthtest.EndpointEvents
		if intake && r.Site.SameRegion(site) && r.Method == http.MethodPost && r.Status < 300 {
			parts = append(parts, string(r.Endpoint)+"@"+r.Host)
		}
	}
	return strings.Join(parts, " ")
}
