// Command send-data sends a metric, a log and an event into a connected
// customer's Datadog organization through the official Datadog client
// (datadog-api-client-go), with the organization's API key, to the site the
// connection lives in.
//
// With no configuration it runs on ddoauthtest's in-process Datadog: it
// connects an organization in every site, sends, reads the event back with
// the connection's bearer token, and prints what each site received.
//
// For real use, set:
//
//	DDOAUTH_CONNECTION  path of a stored connection (a ddoauth.Connection as JSON)
//	DD_API_KEY          the API key Client.CreateAPIKey returned for that organization
package main

import (
	"context"
	"encoding/json"
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
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV2"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/datadogclient"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

func main() {
	var err error
	if path := os.Getenv("DDOAUTH_CONNECTION"); path != "" {
		err = runLive(context.Background(), path, os.Getenv("DD_API_KEY"))
	} else {
		err = runEmulated(context.Background(), os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "send-data:", err)
		os.Exit(1)
	}
}

// send submits one metric, one log and one event with key, to key's site.
func send(ctx context.Context, api *datadog.APIClient, key *ddoauth.APIKey, now time.Time) error {
	ctx = datadogclient.IntakeContext(ctx, key)
	series := datadogV2.NewMetricSeries("partner.sync.records", []datadogV2.MetricPoint{
		{Timestamp: datadog.PtrInt64(now.Unix()), Value: datadog.PtrFloat64(42)},
	})
	series.SetType(datadogV2.METRICINTAKETYPE_GAUGE)
	if _, _, err := datadogV2.NewMetricsApi(api).SubmitMetrics(ctx, *datadogV2.NewMetricPayload([]datadogV2.MetricSeries{*series})); err != nil {
		return fmt.Errorf("metric: %w", err)
	}
	item := datadogV2.NewHTTPLogItem("partner sync finished")
	item.SetDdsource("partner")
	if _, _, err := datadogV2.NewLogsApi(api).SubmitLog(ctx, []datadogV2.HTTPLogItem{*item}); err != nil {
		return fmt.Errorf("log: %w", err)
	}
	event := datadogV1.NewEventCreateRequest("42 records synchronized", "Partner sync")
	if _, _, err := datadogV1.NewEventsApi(api).CreateEvent(ctx, *event); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	return nil
}

func runLive(ctx context.Context, path, apiKey string) error {
	if apiKey == "" {
		return errors.New("DD_API_KEY is not set")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var conn ddoauth.Connection
	if err := json.Unmarshal(b, &conn); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if conn.Site.Domain() == "" {
		return fmt.Errorf("%s: the connection names no built-in Datadog site", path)
	}
	key := &ddoauth.APIKey{Key: apiKey, Site: conn.Site}
	cfg := datadog.NewConfiguration()
	cfg.HTTPClient = &http.Client{Transport: &datadogclient.Transport{}}
	if err := send(ctx, datadog.NewAPIClient(cfg), key, time.Now()); err != nil {
		return err
	}
	fmt.Printf("sent a metric, a log and an event to %s (%s)\n", conn.Site.Name(), conn.Site.Domain())
	return nil
}

func runEmulated(ctx context.Context, out io.Writer) error {
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
		if r.Site.SameRegion(site) && r.Method == "POST" && r.Status == 202 {
			parts = append(parts, string(r.Endpoint)+"@"+r.Host)
		}
	}
	return strings.Join(parts, " ")
}
