// Package ddoauthotel reports a ddoauth Client's operations to
// OpenTelemetry: a span for each authorize callback, code exchange,
// refresh (with the wait for another replica's lease as its own child
// span), revocation and API key creation, and metrics of their outcomes.
// It uses the OpenTelemetry API only: the partner's SDK, or the global
// one, decides where the data goes.
//
//	tel, err := ddoauthotel.New()
//	client, err := ddoauth.New(ddoauth.Config{..., Telemetry: tel})
//
// Attributes name the Datadog site ("US5"), the operation, the outcome
// (see [ddoauth.Result]), the HTTP status and the OAuth error code. None
// carries a token, code, verifier, secret, API key or organization name;
// span status descriptions are the outcome, never an error's text.
//
// Metrics, each with the site and outcome, and the HTTP status and OAuth
// error code where there is one:
//
//	ddoauth.callbacks             {callback}   callbacks served, by outcome and page status
//	ddoauth.exchanges             {exchange}   authorization codes redeemed
//	ddoauth.refreshes             {refresh}    TokenSource refreshes: ok, revoked, network, 429, 5xx, conflict, ...
//	ddoauth.refresh.duration      s            how long a refresh took, lease wait and retries included
//	ddoauth.token.requests        {request}    POSTs to a token endpoint, each retry included
//	ddoauth.lease.waits           {wait}       refreshes that waited for another replica's lease
//	ddoauth.lease.wait.duration   s            how long they waited
//	ddoauth.revocations           {revocation} Client.Revoke calls
//	ddoauth.api_key.creations     {creation}   API key creations; outcome ok counts the keys created
package ddoauthotel

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/ddoauth/ddoauth"
)

// ScopeName names the tracer and the meter: the instrumented package.
const ScopeName = "github.com/ddoauth/ddoauth"

// Attribute keys. The HTTP status uses OpenTelemetry's semantic
// convention, http.response.status_code.
const (
	SiteKey       = attribute.Key("ddoauth.site")      // the site's short name: "US1", "EU1"
	OperationKey  = attribute.Key("ddoauth.operation") // a ddoauth.Operation: "refresh"
	OutcomeKey    = attribute.Key("ddoauth.outcome")   // ddoauth.Result.Outcome: "ok", "revoked", "5xx"
	StatusCodeKey = attribute.Key("http.response.status_code")
	OAuthErrorKey = attribute.Key("ddoauth.oauth.error") // an RFC 6749 error code: "invalid_grant"
)

// Option configures [New].
type Option interface{ apply(*config) }

type config struct {
	tp trace.TracerProvider
	mp metric.MeterProvider
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithTracerProvider sets where spans go. The default is the global
// provider (otel.GetTracerProvider), which follows a later
// otel.SetTracerProvider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tp = tp })
}

// WithMeterProvider sets where metrics go. The default is the global
// provider (otel.GetMeterProvider), which follows a later
// otel.SetMeterProvider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.mp = mp })
}

// Telemetry is a [ddoauth.Telemetry] that records OpenTelemetry spans and
// metrics; set it in ddoauth.Config.Telemetry. It is safe for concurrent
// use and may serve several Clients.
type Telemetry struct {
	tracer trace.Tracer

	callbacks, exchanges, refreshes, tokenRequests, leaseWaits, revocations, apiKeys metric.Int64Counter
	refreshDuration, leaseWaitDuration                                               metric.Float64Histogram
}

// New returns a Telemetry for the given providers, the global ones by
// default. It fails only if a provider refuses an instrument.
func New(opts ...Option) (*Telemetry, error) {
	var cfg config
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.tp == nil {
		cfg.tp = otel.GetTracerProvider()
	}
	if cfg.mp == nil {
		cfg.mp = otel.GetMeterProvider()
	}
	m := cfg.mp.Meter(ScopeName)
	t := &Telemetry{tracer: cfg.tp.Tracer(ScopeName)}
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	// Refreshes last from milliseconds (a peer's token) to RefreshTimeout
	// (a minute by default) and beyond it when a lease is waited for.
	buckets := metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
	histogram := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc), buckets)
		errs = append(errs, err)
		return h
	}
	t.callbacks = counter("ddoauth.callbacks", "{callback}", "Authorize callbacks served, by outcome and page status.")
	t.exchanges = counter("ddoauth.exchanges", "{exchange}", "Authorization codes redeemed, by outcome.")
	t.refreshes = counter("ddoauth.refreshes", "{refresh}", "Token source refreshes, by outcome.")
	t.tokenRequests = counter("ddoauth.token.requests", "{request}", "Requests to a token endpoint, retries included, by outcome and status.")
	t.leaseWaits = counter("ddoauth.lease.waits", "{wait}", "Refreshes that waited for another replica's lease, by outcome.")
	t.revocations = counter("ddoauth.revocations", "{revocation}", "Grant revocations, by outcome.")
	t.apiKeys = counter("ddoauth.api_key.creations", "{creation}", "API key creations, by outcome; ok counts the keys created.")
	t.refreshDuration = histogram("ddoauth.refresh.duration", "Duration of token source refreshes, lease waits and retries included.")
	t.leaseWaitDuration = histogram("ddoauth.lease.wait.duration", "Time a refresh waited for another replica's lease.")
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// spanName is op's span name; operations without a span are counted only.
func spanName(op ddoauth.Operation) (string, bool) {
	switch op {
	case ddoauth.OpCallback, ddoauth.OpExchange, ddoauth.OpRefresh, ddoauth.OpLeaseWait, ddoauth.OpRevoke,
		ddoauth.OpCreateAPIKey:
		return "ddoauth." + string(op), true
	}
	return "", false
}

// Start implements [ddoauth.Telemetry].
func (t *Telemetry) Start(ctx context.Context, op ddoauth.Operation) (context.Context, func(ddoauth.Result)) {
	start := time.Now()
	name, traced := spanName(op)
	if !traced {
		return ctx, func(r ddoauth.Result) { t.record(ctx, op, start, r) }
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(OperationKey.String(string(op))))
	return ctx, func(r ddoauth.Result) {
		if span.IsRecording() {
			span.SetAttributes(attrs(r)...)
			if r.Outcome != "ok" && r.Outcome != "acquired" && r.Outcome != "peer_refreshed" {
				span.SetStatus(codes.Error, r.Outcome)
			}
		}
		span.End()
		t.record(ctx, op, start, r)
	}
}

// record adds op's result to its metrics.
func (t *Telemetry) record(ctx context.Context, op ddoauth.Operation, start time.Time, r ddoauth.Result) {
	var c metric.Int64Counter
	var h metric.Float64Histogram
	switch op {
	case ddoauth.OpCallback:
		c = t.callbacks
	case ddoauth.OpExchange:
		c = t.exchanges
	case ddoauth.OpRefresh:
		c, h = t.refreshes, t.refreshDuration
	case ddoauth.OpTokenRequest:
		c = t.tokenRequests
	case ddoauth.OpLeaseWait:
		c, h = t.leaseWaits, t.leaseWaitDuration
	case ddoauth.OpRevoke:
		c = t.revocations
	case ddoauth.OpCreateAPIKey:
		c = t.apiKeys
	default:
		return
	}
	set := metric.WithAttributeSet(attribute.NewSet(attrs(r)...))
	c.Add(ctx, 1, set)
	if h != nil {
		h.Record(ctx, time.Since(start).Seconds(), set)
	}
}

// attrs are r's attributes: the site's short name, never its host, which
// may carry an organization's subdomain.
func attrs(r ddoauth.Result) []attribute.KeyValue {
	kv := make([]attribute.KeyValue, 0, 4)
	if name := r.Site.Region().Name(); name != "" {
		kv = append(kv, SiteKey.String(name))
	}
	kv = append(kv, OutcomeKey.String(r.Outcome))
	if r.StatusCode != 0 {
		kv = append(kv, StatusCodeKey.Int(r.StatusCode))
	}
	if r.Code != "" {
		kv = append(kv, OAuthErrorKey.String(r.Code))
	}
	return kv
}
