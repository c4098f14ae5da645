package ddoauthotel_test

import (
	"context"
	"fmt"
	"log"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/ddoauth/ddoauth"
	"github.com/ddoauth/ddoauth/ddoauthotel"
	"github.com/ddoauth/ddoauth/ddoauthtest"
)

func ExampleNew() {
	// The application's SDK; New() alone uses the global providers.
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	tel, err := ddoauthotel.New(ddoauthotel.WithTracerProvider(tp))
	if err != nil {
		log.Fatal(err)
	}

	dd := ddoauthtest.NewServer() // Datadog, emulated
	defer dd.Close()
	const redirect = "https://partner.example/oauth/datadog/callback"
	oc := dd.NewClient(redirect)
	client, err := ddoauth.New(ddoauth.Config{
		ClientID:     oc.ID,
		ClientSecret: oc.Secret,
		RedirectURL:  redirect,
		HTTPClient:   dd.Client(),
		Telemetry:    tel,
	})
	if err != nil {
		log.Fatal(err)
	}
	authURL, pending, err := client.Start(ddoauth.Sites()[3])
	if err != nil {
		log.Fatal(err)
	}
	callback, err := dd.Approve(context.Background(), authURL)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := client.Complete(context.Background(), pending, callback.Query()); err != nil {
		log.Fatal(err)
	}
	for _, s := range spans.Ended() {
		fmt.Print(s.Name())
		for _, kv := range s.Attributes() {
			fmt.Printf(" %s=%s", kv.Key, kv.Value.String())
		}
		fmt.Println()
	}
	// Output: ddoauth.exchange ddoauth.operation=exchange ddoauth.site=EU1 ddoauth.outcome=ok
}
